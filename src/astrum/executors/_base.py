"""Sending a task's call to another process and bringing its outcome back.

The function and its arguments travel as one cloudpickle payload (plain pickle when
cloudpickle is not installed); the worker sends back its value, or its exception described
so that its type, message and traceback text survive. A job may carry a time limit: a
worker that runs jobs on its main thread (a process pool's) stops the job when it expires,
with a ``SIGALRM`` that raises inside the job, and stays alive for the next one.
"""

from __future__ import annotations

import pickle
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..core._process import ProcessTaskError, _describe_raised, _rebuild_raised
from ._stop import JobStopped, stoppable

__all__ = ["Submit", "dumps", "outcome_of", "pickling_problem", "run_payload"]

#: What the engine calls for one attempt: ``submit(fn, args, kwargs, stop_after)`` -> awaitable
#: result; ``stop_after`` (seconds or ``None``) is when the worker should stop the job.
Submit = Callable[[Callable[..., Any], list[Any], dict[str, Any], float | None], Awaitable[Any]]


class JobExpired(BaseException):
    """Raised inside a job whose time limit expired in its worker (a ``BaseException``, so that
    the task's own ``except Exception`` does not swallow it)."""


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


def _expire(signum: int, frame: Any) -> None:
    raise JobExpired("the job's time limit expired in its worker")


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Stop the job after ``seconds`` where a signal can reach it (the main thread of a worker
    process); elsewhere (Dask's and thread pools' worker threads) the job runs to its end."""
    if (
        seconds is None
        or not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_payload(payload: bytes) -> bytes:
    """In the worker: run the pickled ``(fn, args, kwargs, stop_after, stop_marker)``; return the
    pickled outcome, ``(True, value)`` or ``(False, described exception)``."""
    fn, args, kwargs, stop_after, stop_marker = pickle.loads(payload)
    try:
        with stoppable(stop_marker), _time_limit(stop_after):
            outcome: tuple[bool, Any] = (True, fn(*args, **kwargs))
    except Exception as exc:
        outcome = (False, _describe_raised(exc))
    except JobExpired:
        expired = TimeoutError(f"stopped in its worker after {stop_after:g} s (its time limit)")
        outcome = (False, _describe_raised(expired))
    except JobStopped:  # its run stopped: nobody waits for this outcome
        outcome = (False, _describe_raised(TimeoutError("stopped in its worker: its run stopped")))
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
