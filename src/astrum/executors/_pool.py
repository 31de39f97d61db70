"""A ``concurrent.futures.Executor`` as a task executor (a process pool, or any other)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from ._base import Submit, dumps, outcome_of, run_payload
from ._stop import CAN_STOP, new_stop_marker, request_stop

__all__ = ["pool_submit"]


def pool_submit(executor: Executor) -> Submit:
    """The submit callable of ``executor``: a thread pool gets the call itself, any other
    executor the pickled payload (so a lambda or a closure runs on a process pool, and a
    running job is stopped in its worker when its time limit expires, or when its run stops)."""
    in_threads = isinstance(executor, ThreadPoolExecutor)
    stops = CAN_STOP and isinstance(executor, ProcessPoolExecutor)  # its workers can be told to stop a job

    async def submit(
        fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any], stop_after: float | None
    ) -> Any:
        marker = None
        if in_threads:  # a thread cannot be stopped: the job runs to its end
            future = executor.submit(fn, *args, **kwargs)
        else:
            marker = new_stop_marker() if stops else None
            future = executor.submit(run_payload, dumps((fn, args, kwargs, stop_after, marker)))
        try:
            data = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            # a job still queued never starts; a running one is stopped in its worker
            if not future.cancel() and marker is not None and not future.done():
                request_stop(executor, marker, future)
            raise
        return data if in_threads else outcome_of(data)

    return submit
