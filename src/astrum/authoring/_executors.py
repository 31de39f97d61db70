"""Named executors at build: which sync tasks run on one, what is refused, their policies."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError, ConfigurationTypeError
from ..core._policies import TaskPolicy
from ..core._program import SYNC, callable_kind

if TYPE_CHECKING:
    from ._prepare import Prepared

__all__ = ["check_executors", "executor_policy", "executor_problems", "submits_of"]


def check_executors(executors: Mapping[str, Any], default: str | None) -> dict[str, Any]:
    """``executors`` as a dict, checked.

    Raises:
        ConfigurationTypeError: a value that is not an executor, a Dask client or an address.
        ConfigurationError: an empty name, or a ``default`` that names none of them.
    """
    from ..executors._dask import is_dask_client

    out = dict(executors or {})
    for name, value in out.items():
        if not isinstance(name, str) or not name:
            raise ConfigurationError(
                f"executors must map non-empty names to executors, got the name {name!r}."
            )
        if not (isinstance(value, Executor | str) or is_dask_client(value)):
            raise ConfigurationTypeError(
                f"executors['{name}'] must be a concurrent.futures.Executor (such as ProcessPoolExecutor(2)), "
                f"a distributed.Client or a Dask scheduler address ('tcp://host:8786'), got {type(value).__name__}."
            )
    if default is not None and default not in out:
        raise ConfigurationError(
            f"default_executor={default!r} names no executor (executors: {sorted(out)}). "
            f"Add it: AstrumConfig(executors={{{default!r}: ProcessPoolExecutor()}}, default_executor={default!r})."
        )
    return out


def _pickled(value: Any) -> bool:
    """Calls on ``value`` are pickled (anything but a thread pool)."""
    return not isinstance(value, ThreadPoolExecutor)


def executor_problems(
    prep: Prepared, receiver: tuple[bool, Any] | None, executors: Mapping[str, Any], default: str | None
) -> list[str]:
    """What keeps a task from its executor: an unknown name, an async function, or a function
    (or instance) that cannot be pickled."""
    from ..executors._base import pickling_problem

    record = prep.record
    tid = record.task_id
    name = record.executor
    if name is not None and name not in executors:
        return [
            f"Task '{tid}' uses executor '{name}', which the configuration does not define "
            f"(executors: {sorted(executors)}). Add it: AstrumConfig(executors={{'{name}': ProcessPoolExecutor()}})."
        ]
    if name is not None and record.isolation == "process":
        return [
            f"Task '{tid}' sets both executor='{name}' and isolation='process'; choose one: "
            "isolation='process' runs each attempt in a new process that its timeout kills, "
            f"executor='{name}' sends it to that executor's workers."
        ]
    if record.isolation == "process":
        return []  # an isolated task keeps its own process: the default executor does not take it
    fn = prep.receiver.call if prep.receiver is not None else record.function
    if record.implementation is not None:
        fn = record.implementation
    if callable_kind(fn) != SYNC:
        if name is None:
            return []  # the default executor takes sync tasks; async ones stay on the loop
        return [
            f"Task '{tid}' is async and runs on the event loop: executor='{name}' takes sync tasks only. Remove executor=."
        ]
    name = name or default
    if name is None or not _pickled(executors[name]):
        return []
    out: list[str] = []
    problem = pickling_problem(fn)
    if problem is not None:
        out.append(
            f"Task '{tid}' runs on executor '{name}' but its function cannot be pickled ({problem}). "
            "Keep locks, open files and clients out of its closure and defaults: create them inside the "
            "function, or pass picklable values through Ref."
        )
    if receiver is not None and record.implementation is None:
        problem = pickling_problem(receiver[1])
        if problem is not None:
            out.append(
                f"Task '{tid}' runs on executor '{name}' but its instance cannot be pickled ({problem}). "
                "Make the class picklable (drop locks, files and clients in __getstate__), or use a plain function."
            )
    return out


def submits_of(executors: Mapping[str, Any]) -> dict[str, Any]:
    """The submit callable of each named executor."""
    from ..executors._dask import dask_submit
    from ..executors._pool import pool_submit

    return {
        name: pool_submit(value) if isinstance(value, Executor) else dask_submit(value)
        for name, value in executors.items()
    }


def executor_policy(
    policy: TaskPolicy | None,
    kind: int,
    name: str | None,
    submits: Mapping[str, Any],
    executors: Mapping[str, Any],
) -> TaskPolicy | None:
    """``policy`` with the submit of executor ``name`` for a sync task; unchanged otherwise."""
    if name is None or kind != SYNC:
        return policy
    stops = _pickled(executors[name])  # a process pool's worker stops a job at its time limit
    return replace(policy or TaskPolicy(), submit=submits[name], executor=name, executor_stops=stops)
