"""The package map in docs/design.md names every module of every subpackage, and no other."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "astrum"


def _map_block() -> str:
    text = (ROOT / "docs" / "design.md").read_text()
    start = text.index("## The map")
    fence = text.index("```", start)
    return text[fence + 3 : text.index("```", fence + 3)]


def _modules_in_map() -> dict[str, set[str]]:
    drawn: dict[str, set[str]] = {}
    package = ""
    for line in _map_block().splitlines():
        heading = re.match(r"^  ([a-z]+)/", line)
        if heading:
            package = heading.group(1)
            drawn.setdefault(package, set())
            continue
        if package and line.startswith("    "):
            drawn[package].update(re.findall(r"\b(_[a-z_]+)\.py\b", line))
        elif not line.startswith("    "):
            package = ""
    return drawn


def test_the_design_map_draws_every_subpackage_with_exactly_its_modules() -> None:
    on_disk = {
        folder.name: {p.stem for p in folder.glob("_*.py") if p.stem != "__init__"}
        for folder in PACKAGE.iterdir()
        if (folder / "__init__.py").exists()
    }
    drawn = _modules_in_map()
    assert set(drawn) == set(on_disk)
    for package, modules in on_disk.items():
        assert drawn[package] == modules, package
