"""Worker threads for synchronous tasks.

Jobs are handed over through a lock-free queue; results go back to the event
loop in batches (one ``call_soon_threadsafe`` wakes the loop for every result
that arrived meanwhile), so a synchronous task costs a few microseconds of
overhead rather than a future, a callback and a wake-up of its own.

A job waits in a *source* (a deque owned by its submitter) and the pool's queue
only says "one job is waiting there". A worker takes the job with ``popleft``;
the submitter withdraws jobs no worker has taken yet the same way. Either side
gets each job exactly once, so a job withdrawn when its run stops never starts.

Runs started from inside a worker thread (a sync task calling ``asyncio.run``
on another run) use a pool of their own, one level deeper: a run never waits
on workers that its own tasks are blocking.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["MAX_WORKERS", "Announced", "Job", "ThreadCall", "ThreadResultSink", "WorkerPool", "worker_pool"]

#: Threads start on demand; blocking sync tasks beyond this many wait for a free thread.
MAX_WORKERS = max(32, 8 * (os.cpu_count() or 1))


class ThreadResultSink(Protocol):
    """Receives the outcome of a job, in the worker thread."""

    def thread_result(self, key: int, ok: bool, value: Any) -> Job | None:
        """Record the outcome; optionally return a job the same thread runs next."""


Job = tuple[ThreadResultSink, int, Callable[..., Any], list[Any], dict[str, Any], contextvars.Context]


class WorkerPool:
    """A pool of daemon threads running submitted jobs, started as demand grows.

    Args:
        max_workers: the most threads this pool starts.
        depth: 0 for the process-wide pool; ``n + 1`` for runs started in a worker of depth ``n``.
    """

    def __init__(self, max_workers: int = MAX_WORKERS, depth: int = 0) -> None:
        self.max_workers = max_workers
        self.depth = depth
        self._jobs: queue.SimpleQueue[deque[Job] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._workers = 0
        self._idle = 0
        self._nested: WorkerPool | None = None

    def submit(self, source: deque[Job]) -> None:
        """Have a worker take the next job from ``source``, where one job was just appended.

        Every job claims an idle worker, or starts a new one (up to ``max_workers``),
        so blocking jobs never queue behind each other while threads are available.
        A job withdrawn from ``source`` before a worker takes it never runs.
        """
        with self._lock:
            if self._idle:
                self._idle -= 1
                spawn = False
            else:
                spawn = self._workers < self.max_workers
                if spawn:
                    self._workers += 1
        self._jobs.put(source)
        if spawn:
            name = (
                f"astrum-worker-{self._workers}"
                if not self.depth
                else f"astrum-worker-{self.depth}.{self._workers}"
            )
            threading.Thread(target=self._work, name=name, daemon=True).start()

    def run_in_thread(self, fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> ThreadCall:
        """Run ``fn(*args, **kwargs)`` in a worker; its outcome settles a future of the running loop."""
        call = ThreadCall(asyncio.get_running_loop())
        call.queued.append((call, 0, fn, args, kwargs, contextvars.copy_context()))
        self.submit(call.queued)
        return call

    def nested(self) -> WorkerPool:
        """The pool for runs started inside this pool's worker threads (made on first use)."""
        with self._lock:
            if self._nested is None:
                self._nested = WorkerPool(self.max_workers, self.depth + 1)
            return self._nested

    def _work(self) -> None:
        _local.pool = self
        jobs = self._jobs
        lock = self._lock
        while True:
            source = jobs.get()  # a job was claimed for this worker before it was queued
            if source is None:
                return
            try:
                job: Job | None = source.popleft()
            except IndexError:
                job = None  # withdrawn before a worker took it: it never runs
            del source
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


class ThreadCall:
    """One job of `WorkerPool.run_in_thread`: its future, and a way to withdraw it."""

    __slots__ = ("future", "loop", "queued")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()
        self.queued: deque[Job] = deque()

    def withdraw(self) -> bool:
        """Take the job back if no worker has taken it yet; ``True`` if it will never run."""
        try:
            self.queued.popleft()
        except IndexError:
            return False
        return True

    def thread_result(self, key: int, ok: bool, value: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(_settle, self.future, ok, value)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting any more
        return None


class Announced:
    """A job's callable that first tells the loop, in the worker, that the body begins.

    ``began(key, attempt)`` is called soon on ``loop``, ahead of anything the job's
    outcome schedules there; a job withdrawn before a worker takes it calls nothing.
    Used only when hooks listen: their ``task_start`` comes when the body begins.
    """

    __slots__ = ("attempt", "began", "fn", "key", "loop")

    def __init__(
        self,
        fn: Callable[..., Any],
        loop: asyncio.AbstractEventLoop,
        began: Callable[[int, int], object],
        key: int,
        attempt: int,
    ) -> None:
        self.fn = fn
        self.loop = loop
        self.began = began
        self.key = key
        self.attempt = attempt

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            self.loop.call_soon_threadsafe(self.began, self.key, self.attempt)
        except RuntimeError:
            pass  # the loop is closed: nobody listens any more
        return self.fn(*args, **kwargs)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


_pool: WorkerPool | None = None
_pool_lock = threading.Lock()
_local = threading.local()  # .pool: the pool whose worker this thread is


def worker_pool() -> WorkerPool:
    """The pool for the runs of the calling thread, created on first use.

    That is the process-wide pool, except in a worker thread: a run started there
    (a sync task running another run) gets the worker's nested pool.
    """
    current: WorkerPool | None = getattr(_local, "pool", None)
    if current is not None:
        return current.nested()
    global _pool
    pool = _pool
    if pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = WorkerPool()
            pool = _pool
    return pool
