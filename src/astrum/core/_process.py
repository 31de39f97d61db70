"""Running a task in a worker process that can be killed (``isolation="process"``)."""

from __future__ import annotations

import asyncio
import inspect
import pickle
import traceback
from collections.abc import Callable
from typing import Any

from .._errors import SchedulerError

__all__ = ["ProcessTaskError", "picklable_problem", "run_in_process"]

_context: Any = None


class ProcessTaskError(SchedulerError, RuntimeError):
    """A process-isolated task could not be run, its worker died, or its outcome could not be
    brought back.

    When the worker's exception cannot be rebuilt in this process (an ``__init__`` that
    takes other arguments than its message, keyword-only arguments...), this error stands
    in for it and describes it.

    Attributes:
        type_name: the worker exception's qualified type name (``"module.Class"``), or ``None``.
        original_message: ``str()`` of the worker's exception, or ``None``.
        traceback_text: the worker exception's formatted traceback, or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        type_name: str | None = None,
        original_message: str | None = None,
        traceback_text: str | None = None,
    ) -> None:
        super().__init__(message)  # args stay (message,): it pickles, unlike the errors it replaces
        self.type_name = type_name
        self.original_message = original_message
        self.traceback_text = traceback_text


# How a worker reports an exception: the pickled exception (or None if it cannot be pickled),
# why it could not be, and enough to describe it if it cannot be rebuilt in the parent.
_Raised = tuple[bytes | None, str | None, str, str, str]


def _describe_raised(exc: BaseException) -> _Raised:
    """In the worker: ``exc`` as a `_Raised` (plain values that always reach the parent)."""
    try:
        data: bytes | None = pickle.dumps(exc)
        problem = None
    except Exception as error:
        data, problem = None, f"{type(error).__name__}: {error}"
    kind = type(exc)
    return (
        data,
        problem,
        f"{kind.__module__}.{kind.__qualname__}",
        str(exc),
        "".join(traceback.format_exception(exc)),
    )


def _rebuild_raised(raised: _Raised) -> BaseException:
    """In the parent: the worker's exception, or a `ProcessTaskError` describing it."""
    data, problem, type_name, message, traceback_text = raised
    if data is not None:
        try:
            exc: BaseException = pickle.loads(data)
            return exc
        except Exception as error:
            problem = f"{type(error).__name__}: {error}"
    return ProcessTaskError(
        f"{type_name}: {message} (raised in the worker process, where .traceback_text shows it; it "
        f"cannot be rebuilt here: {problem}. To keep its type, make its class callable with its "
        "args alone or give it a __reduce__)",
        type_name=type_name,
        original_message=message,
        traceback_text=traceback_text,
    )


def _mp_context() -> Any:
    global _context
    if _context is None:
        import multiprocessing  # only when a process-isolated task first runs

        # forkserver: fast starts, and safe in a process that runs threads (unlike plain fork).
        methods = multiprocessing.get_all_start_methods()
        _context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if "forkserver" in methods:
            # Workers fork from a server that has already imported astrum: ~10 ms per start, not ~150.
            from multiprocessing import forkserver

            if getattr(forkserver._forkserver, "_forkserver_pid", None) is None:  # not started yet
                _context.set_forkserver_preload(["astrum"])
    return _context


def picklable_problem(fn: Callable[..., Any]) -> str | None:
    """Why ``fn`` cannot be sent to a worker process, or ``None`` if it can."""
    try:
        pickle.dumps(fn)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _child(conn: Any, fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> None:
    try:
        value = fn(*args, **kwargs)
        if inspect.isawaitable(value):
            value = asyncio.run(_await(value))
        outcome: tuple[bool, Any] = (True, value)
    except BaseException as exc:
        outcome = (False, _describe_raised(exc))
    try:
        conn.send(outcome)
    except Exception as exc:  # the result cannot be pickled
        problem = ProcessTaskError(f"the task's outcome cannot be sent back: {type(exc).__name__}: {exc}")
        conn.send((False, _describe_raised(problem)))
    finally:
        conn.close()


async def _await(awaitable: Any) -> Any:
    return await awaitable


async def run_in_process(fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Run ``fn(*args, **kwargs)`` in a new worker process; kill it if this coroutine is cancelled.

    Raises:
        ProcessTaskError: the arguments cannot be sent, the worker died without an answer, or
            what it sent back cannot be rebuilt here (for an exception: its type name, message
            and traceback text are kept).
        BaseException: whatever the task raised in the worker.
    """
    ctx = _mp_context()
    loop = asyncio.get_running_loop()
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(sender, fn, args, kwargs), daemon=True)
    try:
        process.start()
    except Exception as exc:
        receiver.close()
        sender.close()
        raise ProcessTaskError(
            f"cannot start a worker process for the task: {type(exc).__name__}: {exc}. "
            "Arguments and the function must be picklable (defined at module level)."
        ) from exc
    sender.close()
    answered: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not answered.done():
            answered.set_result(None)

    loop.add_reader(receiver.fileno(), readable)
    try:
        await answered
        try:
            ok, value = receiver.recv()
        except EOFError:
            process.join(1.0)
            raise ProcessTaskError(
                f"the worker process died without an answer (exit code {process.exitcode})"
            ) from None
        except Exception as exc:  # only a returned value can fail to unpickle: failures come as plain values
            raise ProcessTaskError(
                f"the task's result cannot be rebuilt in this process: {type(exc).__name__}: {exc}"
            ) from exc
    except asyncio.CancelledError:
        process.kill()
        raise
    finally:
        loop.remove_reader(receiver.fileno())
        receiver.close()
        if process.is_alive():
            process.kill()
        await loop.run_in_executor(None, process.join, 5.0)
    if ok:
        return value
    raise _rebuild_raised(value)
