"""Running a task in a worker process that can be killed (``isolation="process"``)."""

from __future__ import annotations

import asyncio
import inspect
import pickle
from collections.abc import Callable
from typing import Any

__all__ = ["ProcessTaskError", "picklable_problem", "run_in_process"]

_context: Any = None


class ProcessTaskError(RuntimeError):
    """A process-isolated task could not be run, or its worker died."""


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
        outcome = (False, exc)
    try:
        conn.send(outcome)
    except Exception as exc:  # the result or the exception cannot be pickled
        conn.send(
            (False, ProcessTaskError(f"the task's outcome cannot be sent back: {type(exc).__name__}: {exc}"))
        )
    finally:
        conn.close()


async def _await(awaitable: Any) -> Any:
    return await awaitable


async def run_in_process(fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Run ``fn(*args, **kwargs)`` in a new worker process; kill it if this coroutine is cancelled.

    Raises:
        ProcessTaskError: the arguments cannot be sent, or the worker died without an answer.
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
    raise value
