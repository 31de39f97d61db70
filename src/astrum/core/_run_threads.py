"""Sync tasks in worker threads, and how their outcomes come back to the loop.

A sync task with nothing to await around it (the thread lane, see
`threaded`) runs straight in a worker thread with no
asyncio task: its job waits in the run's own queue until a worker takes it, and its
outcome is queued by the worker and accounted for on the loop in batches
(`RunThreads._drain_threads`). A worker may run a chained child at once
(`RunThreads._follow_in_thread`). Other sync calls (policies, tail tasks) await a
future of the worker pool from their asyncio task (`RunThreads._in_thread`).

When hooks listen, a sync body's ``task_start`` is sent when a worker takes its job
(`Announced`): a job withdrawn unstarted at a stop gets none.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from ..lifecycle._events import task_event
from ._program import CANCELLED, SYNC, is_fatal
from ._run_data import RunData
from ._threads import Announced, Job

__all__ = ["RunThreads"]


class RunThreads(RunData):
    """The thread lane, thread results and awaited thread calls (a part of
    `Run`)."""

    # -- the thread lane ---------------------------------------------------------------------

    def _launch_in_thread(self, i: int) -> None:
        call = self._begin(i)
        if call is None:
            return
        args, kwargs = call
        self._in_threads += 1
        fn = self.program.fns[i]
        if self.bus is not None:
            self._start_due[i] = 1
            fn = self._announced(i, fn)
        queued = self._queued
        queued.append((self, i, fn, args, kwargs, self._base_context.copy()))
        self._pool.submit(queued)  # type: ignore[union-attr]

    def thread_result(self, key: int, ok: bool, value: Any) -> Job | None:
        """Called in a worker thread when a sync task returns or raises.

        Returns the next job for the same thread: the task's chained child (see
        `Program.chain_next`), already marked started, or ``None``.
        """
        now = self._now()
        follow = None
        chain = self._chain_next
        if chain is not None and ok and not self._failed:
            child = chain[key]
            if child >= 0 and not inspect.isawaitable(value):
                follow = self._follow_in_thread(key, value, child, now)
        self._thread_results.append((key, ok, value, now, follow is not None))
        if not self._drain_scheduled:
            self._drain_scheduled = True
            loop = self._loop
            assert loop is not None
            try:
                loop.call_soon_threadsafe(self._drain_threads)
            except RuntimeError:
                pass  # the loop is gone: the run was abandoned
        return follow

    def _follow_in_thread(self, parent: int, value: Any, child: int, now: float) -> Job | None:
        """In a worker thread: start ``child``, whose only parent just returned ``value``."""
        binder = self.program.binders[child]
        if binder is None:
            args: list[Any] = []
            kwargs: dict[str, Any] = {}
        else:
            self.values[parent] = value  # the loop records the same value when it drains
            try:
                args, kwargs = binder.bind(self.values)
            except Exception:
                return None  # the loop launches the child as usual and reports the error
        assert self._continued is not None
        self._continued[child] = 1
        self.ready_at[child] = now
        self.start_at[child] = now
        self.began[child] = 1
        return (self, child, self.program.fns[child], args, kwargs, self._base_context.copy())

    def _drain_threads(self) -> None:
        """On the loop: account for every sync task that finished since the last drain."""
        self._drain_scheduled = False
        pending = self._thread_results
        names = self.names
        while pending:
            i, ok, value, end, followed = pending.popleft()
            if i in self.abandoned or self.deadline_hit:
                continue  # given up at the deadline; the late result is discarded
            self._in_threads -= 1
            self.end_at[i] = end
            if self._failed:
                # The run is stopping: this task was cancelled as far as the run is concerned.
                self.status[i] = CANCELLED
                self.finished.append(i)
                self._leave(i)
                if followed:  # its chained child is running in the thread: wait for it too
                    self._in_threads += 1
                    self._active += 1
            elif ok:
                if inspect.isawaitable(value):
                    self._await_in_task(i, value)
                    continue
                self._complete(i, value)
            else:
                if is_fatal(value) and self.fatal is None:
                    self.fatal = value
                self._final_failure(i, names[i], value)
        idle = self._threads_idle
        if self._in_threads == 0 and idle is not None and not idle.done():
            idle.set_result(None)

    # -- sync calls awaited by an asyncio task ------------------------------------------------

    async def _in_thread(
        self,
        i: int,
        fn: Callable[..., Any],
        args: list[Any],
        kwargs: dict[str, Any],
        expired: list[bool] | None = None,
    ) -> Any:
        """Run task ``i``'s sync ``fn`` in a worker thread and return its result.

        ``expired`` is the attempt's timeout flag: once it holds ``True``, a cancellation
        gives the thread up instead of waiting for it.
        """
        if self._start_due and i in self._start_due:
            fn = self._announced(i, fn)
        call = self._pool.run_in_thread(fn, args, kwargs)  # type: ignore[union-attr]
        future = call.future
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if not future.done() and call.withdraw():
                if self._failed:
                    self._withdrawn.add(i)  # no worker took it, and none will: no attempt ran
                self._start_due.pop(i, None)  # ... and hooks hear of no start
                raise
            if self._start_due and i in self._start_due:
                self._announce_start(i)  # a worker took it: its body began
            future.add_done_callback(_retrieve)  # a late outcome is discarded, never left unretrieved
            # A thread cannot be interrupted: wait until it returns, so no work outlives the run.
            # Only a timeout of its own or the run deadline gives it up.
            if not future.done() and not expired and not self.deadline_hit:
                await asyncio.wait([future])
            raise

    # -- start events of sync bodies (only when hooks listen) ---------------------------------

    def _start_event(self, i: int, attempt: int) -> None:
        """Attempt ``attempt`` of task ``i`` begins: emit its ``task_start``, or, for a sync body
        that waits for a worker thread, when a worker takes the job (a job withdrawn at a stop
        never runs and gets none). A hook's ``task_context`` is called first, in the task's context."""
        if self._task_context is not None:
            self._enter_task_context(i, attempt)
        policy = self.program.policies[i]
        if self.program.kinds[i] == SYNC and (
            policy is None or (policy.isolation != "process" and policy.submit is None)
        ):
            self._start_due[i] = attempt  # see _in_thread
        else:
            self._task_event("task_start", i, attempt)

    def _enter_task_context(self, i: int, attempt: int) -> None:
        assert self._task_context is not None
        program = self.program
        pools = program.pools
        pool = program.pool_names[pools[i]] if pools is not None and pools[i] >= 0 else None
        now = self.wall(self._now())
        event = task_event(
            "task_start", self.run_id, self.names[i], attempt, now, None, None, None, 0.0, None
        )
        self._task_context(event, pool)

    def _announced(self, i: int, fn: Callable[..., Any]) -> Announced:
        """``fn`` for a worker thread, announcing the due start of task ``i`` when it begins."""
        assert self._loop is not None
        return Announced(fn, self._loop, self._body_began, i, self._start_due[i])

    def _body_began(self, i: int, attempt: int) -> None:
        """On the loop: a worker took the job of attempt ``attempt`` of task ``i``."""
        if self._start_due.get(i) == attempt:  # not announced yet (by its end, or at a stop)
            self._announce_start(i)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # marks a late error retrieved: its thread was given up
