"""Worker threads for synchronous tasks.

Jobs are handed over through a lock-free queue; results go back to the event
loop in batches (one ``call_soon_threadsafe`` wakes the loop for every result
that arrived meanwhile), so a synchronous task costs a few microseconds of
overhead rather than a future, a callback and a wake-up of its own.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["MAX_WORKERS", "ThreadResultSink", "WorkerPool", "worker_pool"]

#: Threads start on demand; blocking sync tasks beyond this many wait for a free thread.
MAX_WORKERS = max(32, 8 * (os.cpu_count() or 1))


class ThreadResultSink(Protocol):
    """Receives the outcome of a job, in the worker thread."""

    def thread_result(self, key: int, ok: bool, value: Any) -> Job | None:
        """Record the outcome; optionally return a job the same thread runs next."""


Job = tuple[ThreadResultSink, int, Callable[..., Any], list[Any], dict[str, Any], contextvars.Context]


class WorkerPool:
    """A pool of daemon threads running submitted jobs, started as demand grows."""

    def __init__(self, max_workers: int = MAX_WORKERS) -> None:
        self.max_workers = max_workers
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._workers = 0
        self._idle = 0

    def submit(self, job: Job) -> None:
        """Queue ``job``; its sink's ``thread_result`` is called from a worker thread.

        Every job claims an idle worker, or starts a new one (up to ``max_workers``),
        so blocking jobs never queue behind each other while threads are available.
        """
        with self._lock:
            if self._idle:
                self._idle -= 1
                spawn = False
            else:
                spawn = self._workers < self.max_workers
                if spawn:
                    self._workers += 1
        self._jobs.put(job)
        if spawn:
            threading.Thread(target=self._work, name=f"astrum-worker-{self._workers}", daemon=True).start()

    def run_in_thread(
        self, fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]
    ) -> asyncio.Future[Any]:
        """Run ``fn(*args, **kwargs)`` in a worker; return a future of the running loop for its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.submit((_FutureSink(loop, future), 0, fn, args, kwargs, contextvars.copy_context()))
        return future

    def _work(self) -> None:
        jobs = self._jobs
        lock = self._lock
        while True:
            job = jobs.get()  # a job was claimed for this worker before it was queued
            if job is None:
                return
            while job is not None:  # a sink may hand back a follow-up job for this thread
                sink, key, fn, args, kwargs, context = job
                try:
                    value = context.run(fn, *args, **kwargs)
                    ok = True
                except BaseException as exc:  # delivered to the loop, never lost in the thread
                    value, ok = exc, False
                del job, fn, args, kwargs, context
                job = sink.thread_result(key, ok, value)
                del sink, value
            with lock:
                self._idle += 1


class _FutureSink:
    """Delivers one job's outcome into an asyncio future."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any]) -> None:
        self.loop = loop
        self.future = future

    def thread_result(self, key: int, ok: bool, value: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(_settle, self.future, ok, value)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting any more
        return None


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


_pool: WorkerPool | None = None
_pool_lock = threading.Lock()


def worker_pool() -> WorkerPool:
    """The process-wide pool for synchronous tasks, created on first use."""
    global _pool
    pool = _pool
    if pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = WorkerPool()
            pool = _pool
    return pool
