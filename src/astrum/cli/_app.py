"""Find the registry an ``astrum run`` or ``astrum resume --app`` names: ``MODULE[:REGISTRY]``.

``MODULE`` is a dotted module name, importable from the current directory or ``sys.path``, or
the path of a ``.py`` file, imported under its file name with its folder first on
``sys.path`` (as ``python path/to/app.py`` would see its imports). ``REGISTRY`` is the name
of a module attribute holding a `SchedulerRegistry` (dots reach into
attributes); without it, the registry of the ``default`` namespace, where module-level
``@task`` functions register.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from ..authoring._namespaces import get_registry
from ..authoring._registry import DEFAULT_NAMESPACE, SchedulerRegistry

__all__ = ["UsageError", "load_registry"]

_ATTRIBUTE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


class UsageError(Exception):
    """A mistake on the command line: printed as one message, exit status 2.

    ``details`` (e.g. the traceback of the user's module that failed to import) follow the
    message on stderr.
    """

    def __init__(self, message: str, details: str = "") -> None:
        self.details = details
        super().__init__(message)


def split_app(spec: str) -> tuple[str, str | None]:
    """``("app", "registry")`` from ``"app:registry"``; ``("app", None)`` from ``"app"``.

    A colon followed by something that is not an attribute name (``C:\\app.py``) is part of
    the module path.
    """
    module, colon, attribute = spec.rpartition(":")
    if colon and module and _ATTRIBUTE.fullmatch(attribute):
        return module, attribute
    return spec, None


def load_registry(spec: str) -> SchedulerRegistry:
    """Import the module of ``spec`` (``MODULE[:REGISTRY]``) and return the registry it names.

    Raises:
        UsageError: the module cannot be found or fails to import, the attribute is missing
            or is not a registry, or no registry is named and the default namespace is empty.
    """
    module_name, attribute = split_app(spec)
    module = _import(module_name)
    if attribute is None:
        registry = get_registry(DEFAULT_NAMESPACE)
        if len(registry):
            return registry
        found = [name for name, value in vars(module).items() if isinstance(value, SchedulerRegistry)]
        hint = (
            f"name one of its registries: `astrum run {module_name}:{found[0]}`"
            + (f" (it has {', '.join(found)})" if len(found) > 1 else "")
            if found
            else f"name the registry to run: `astrum run {module_name}:REGISTRY`"
        )
        raise UsageError(
            f"module '{module_name}' registered no task in the '{DEFAULT_NAMESPACE}' namespace; {hint}."
        )
    value: Any = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise UsageError(
                f"module '{module_name}' has no attribute '{attribute}'; "
                f"write MODULE:REGISTRY with the name of a SchedulerRegistry in it."
            )
        value = getattr(value, part)
    if not isinstance(value, SchedulerRegistry):
        raise UsageError(
            f"'{module_name}:{attribute}' is a {type(value).__name__}, not a SchedulerRegistry; "
            "name the registry the tasks are registered in."
        )
    return value


def _import(name: str) -> ModuleType:
    if name.endswith(".py") or os.sep in name or "/" in name:
        return _import_path(Path(name))
    if not _ATTRIBUTE.fullmatch(name):
        raise UsageError(f"'{name}' is neither a module name nor the path of a .py file.")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:  # the console script does not add it
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise UsageError(
                f"cannot import module '{name}': no module named '{exc.name}' in {cwd} or on sys.path."
            ) from None
        raise _import_failed(name, exc) from None
    except Exception as exc:
        raise _import_failed(name, exc) from None


def _import_path(path: Path) -> ModuleType:
    if path.suffix != ".py" or not path.is_file():
        raise UsageError(f"cannot import '{path}': no such .py file.")
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        return importlib.import_module(path.stem)
    except Exception as exc:
        raise _import_failed(str(path), exc) from None


def _import_failed(name: str, exc: Exception) -> UsageError:
    """The error in the user's module, with the traceback of its own frames."""
    tb = exc.__traceback__
    while tb is not None and _machinery(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    details = "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()
    return UsageError(f"importing '{name}' failed: {type(exc).__name__}: {exc}", details)


_IMPORTLIB = os.path.dirname(importlib.__file__)


def _machinery(filename: str) -> bool:
    """A frame of the import machinery or of this module, not of the user's code."""
    return filename.startswith("<frozen importlib") or filename == __file__ or filename.startswith(_IMPORTLIB)
