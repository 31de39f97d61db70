"""Checks of the ``@task`` options that name things: ``pool=``, ``executor=``, ``map=``.

Registration calls :func:`checked_options`; what needs a build (the pool and executor exist,
the mapped parameters receive lists) is checked by the build.
"""

from __future__ import annotations

from typing import Any

from .._errors import TaskRegistrationError
from ._mapspec import check_map_options

__all__ = ["checked_options"]


def checked_options(
    tid: str, fn: Any, pool: Any, executor: Any, map_: Any, max_parallel: Any
) -> tuple[str, ...] | None:
    """Check ``pool=`` and ``executor=`` (names or ``None``); return ``map=`` as a tuple of parameter
    names (``None``: not mapped).

    Raises:
        TaskRegistrationError: an option that names nothing usable, with how to fix it.
    """
    if pool is not None and (not isinstance(pool, str) or not pool):
        raise TaskRegistrationError(f"Task '{tid}' pool must be a non-empty string, got {pool!r}.")
    if executor is not None and (not isinstance(executor, str) or not executor):
        raise TaskRegistrationError(
            f"Task '{tid}' executor must be the name of an executor in AstrumConfig(executors=...), "
            f"got {executor!r}."
        )
    if map_ is None and max_parallel is None:
        return None  # not mapped (the common case)
    return check_map_options(tid, fn, map_, max_parallel)
