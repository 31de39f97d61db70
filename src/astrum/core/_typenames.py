"""Display names for types, shared by error messages and renderers."""

from __future__ import annotations

import typing
from typing import Any

__all__ = ["NO_ANNOTATION", "type_name"]


class _NoAnnotation:
    def __repr__(self) -> str:
        return "<no annotation>"


NO_ANNOTATION: Any = _NoAnnotation()
"""Stands for the annotation of a parameter or return value that has none."""


def type_name(tp: Any) -> str:
    """A short readable name for a type or typing form."""
    if tp is NO_ANNOTATION:
        return "<unannotated>"
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__qualname__ if tp.__module__ == "builtins" else f"{tp.__module__}.{tp.__qualname__}"
    text = repr(tp)
    return text.replace("typing.", "")
