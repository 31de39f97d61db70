"""Sending a task's call to another process and bringing its outcome back.

The function and its arguments travel as one cloudpickle payload (plain pickle when
cloudpickle is not installed); the worker sends back its value, or its exception described
so that its type, message and traceback text survive.
"""

from __future__ import annotations

import pickle
from collections.abc import Awaitable, Callable
from typing import Any

from ..core._process import ProcessTaskError, _describe_raised, _rebuild_raised

__all__ = ["Submit", "dumps", "outcome_of", "pickling_problem", "run_payload"]

#: What the engine calls for one attempt: ``submit(fn, args, kwargs)`` -> awaitable result.
Submit = Callable[[Callable[..., Any], list[Any], dict[str, Any]], Awaitable[Any]]


def dumps(value: Any) -> bytes:
    """``value`` pickled with cloudpickle (lambdas, closures), or with plain pickle without it."""
    try:
        import cloudpickle  # type: ignore[import-untyped]
    except ImportError:
        return pickle.dumps(value)
    data: bytes = cloudpickle.dumps(value)
    return data


def pickling_problem(value: Any) -> str | None:
    """Why ``value`` cannot be sent to a worker, or ``None`` if it can."""
    try:
        dumps(value)
    except Exception as exc:
        hint = ""
        try:
            import cloudpickle  # type: ignore[import-untyped]  # noqa: F401
        except ImportError:
            hint = " (without cloudpickle, only module-level functions pickle: pip install 'astrum[dask]')"
        return f"{type(exc).__name__}: {exc}{hint}"
    return None


def run_payload(payload: bytes) -> bytes:
    """In the worker: run the pickled ``(fn, args, kwargs)``; return the pickled outcome,
    ``(True, value)`` or ``(False, described exception)``."""
    fn, args, kwargs = pickle.loads(payload)
    try:
        outcome: tuple[bool, Any] = (True, fn(*args, **kwargs))
    except Exception as exc:
        outcome = (False, _describe_raised(exc))
    try:
        return dumps(outcome)
    except Exception as exc:  # the value cannot be pickled
        problem = ProcessTaskError(f"the task's result cannot be sent back: {type(exc).__name__}: {exc}")
        return dumps((False, _describe_raised(problem)))


def outcome_of(data: bytes) -> Any:
    """In the parent: the worker's value, or raise its exception (with the worker's traceback
    text as a note, so that the run's log and ``traceback.format_exception`` show it)."""
    ok, value = pickle.loads(data)
    if ok:
        return value
    exc = _rebuild_raised(value)
    exc.add_note(f"Raised in the executor's worker:\n{value[4].rstrip()}")
    raise exc
