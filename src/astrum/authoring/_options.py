"""What registration derives and checks of a task's options: its default id
(`default_task_id`), and the options that name things: ``pool=``, ``executor=``, ``map=``
(`checked_options`). What needs a build (the pool and executor exist, the mapped
parameters receive lists) is checked by the build.
"""

from __future__ import annotations

from typing import Any

from .._errors import TaskRegistrationError
from ._mapspec import check_map_options
from ._transport import underlying_function

__all__ = ["checked_options", "default_task_id"]


def default_task_id(obj: Any) -> str:
    """The id a task gets when none is given: the function's ``__name__``."""
    name = getattr(underlying_function(obj), "__name__", None)
    if not isinstance(name, str) or not name:
        raise TaskRegistrationError(
            f"Cannot derive a task id from {obj!r}: it has no __name__. Pass one explicitly: task('my_task')."
        )
    return name


def checked_options(
    tid: str, fn: Any, pool: Any, executor: Any, map_: Any, max_parallel: Any, cache: Any = None
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
    if cache is not None:
        raise TaskRegistrationError(
            f"Task '{tid}' sets both map= and cache=; a mapped task is not cached as a whole. "
            "Cache the task that produces its list, or the task that consumes its results, instead."
        )
    return check_map_options(tid, fn, map_, max_parallel)
