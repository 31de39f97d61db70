"""The event-driven run loop.

A :class:`Run` executes a :class:`~astrum.core._program.Program` once: each task starts the moment its last
dependency completes (no stages, no polling), values live in the run's own
``results`` dict, and the run's outcome is kept in flat per-task arrays from
which the report is built.

Invariants kept by :class:`Run`:

* a task is launched at most once, and only after every dependency completed;
* after the first final failure nothing new is launched; tasks that were ready then
  (waiting for a slot or a pool, or queued for a worker thread) are cancelled without running;
* every launched task either finishes by itself or is cancelled *and awaited*
  before :meth:`Run.execute` returns or re-raises.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import inspect
import logging
import sys
import time
import uuid
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from .._errors import TaskTimeoutError
from ..lifecycle._context import RunContext
from ..lifecycle._events import EventBus, RunEvent, task_event
from ._attempts import run_attempts
from ._inline import AVAILABLE as _INLINE_AVAILABLE
from ._inline import Resumed, Spare, cancel_suspended, enter_task, leave_task
from ._program import (
    ASYNC,
    CANCELLED,
    COMPLETED,
    CONTINUE,
    FAILED,
    NO_RESULT,
    SYNC,
    TIMED_OUT,
    AttemptRow,
    Binder,
    Program,
    callable_kind,
    is_fatal,
)
from ._threads import Job, WorkerPool, worker_pool

__all__ = ["Binder", "Program", "Run", "attempt_rows", "callable_kind"]

_EAGER = sys.version_info >= (3, 12)
# Before 3.12 (no eager tasks) an async task's first step runs inline; see astrum.core._inline.
_INLINE = not _EAGER and _INLINE_AVAILABLE
_BURST = 512  # ready tasks from which a launch burst pauses the cyclic collector
_LAUNCH_BATCH = 2048  # tasks launched per pump before the loop gets a turn (bounds tasks in flight)


_ZEROS = (0.0,)

logger = logging.getLogger("astrum")


def _consume_tail_outcome(task: asyncio.Future[Any]) -> None:
    """Mark a tail task's exception retrieved: the report or the log tells about it, and
    whoever awaits ``report.tail_tasks[name]`` still gets it."""
    if not task.cancelled():
        task.exception()


class _InjectionError(Exception):
    """Wraps an error raised while building a task's arguments (never retried)."""

    def __init__(self, original: BaseException) -> None:
        self.original = original


class Run:
    """One execution of a :class:`Program`. Use :meth:`execute` once."""

    def __init__(
        self, program: Program, context: RunContext[Any] | None = None, bus: EventBus | None = None
    ) -> None:
        graph = program.graph
        n = len(graph)
        self.program = program
        self.names = graph.names
        # Each task's result by index (NO_RESULT until it completes; one more slot stays empty,
        # see result_slot): the name-keyed ``results`` are made once the run is over.
        self.values: list[Any] = [NO_RESULT] * (n + 1)
        self._results: dict[str, Any] | None = None
        self.status: list[str | None] = [None] * n
        # Clock readings per task, unboxed: a million runs keep no million float objects alive.
        self.ready_at = array("d", _ZEROS) * n
        self.start_at = array("d", _ZEROS) * n
        self.end_at = array("d", _ZEROS) * n
        self.began = bytearray(n)  # 1 once a task has started (times alone cannot say: a clock may read 0)
        self.attempts: dict[int, list[AttemptRow]] = {}
        self.exceptions: dict[int, BaseException] = {}
        self.finished: list[int] = []
        self.error_summary: list[str] = []
        self.first_failure: int | None = None
        #: The first tail task nothing depends on that failed before the run returned (it does
        #: not stop the run; a tail task other tasks depend on fails like any task).
        self.tail_failure: int | None = None
        self.fatal: BaseException | None = None
        self.tail_tasks: dict[int, asyncio.Future[Any]] = {}
        self.running: dict[int, asyncio.Task[Any]] = {}
        self._remaining = [len(p) for p in graph.parents]
        self._ready: deque[int] = deque()
        self._pumping = False
        self._pump_scheduled = False
        self._budget = _LAUNCH_BATCH  # launches left before the loop gets a turn
        self._failed = False
        self._active = 0
        self._unfinished = n - len(program.tails)
        # Tail tasks are not waited for to end, but each one is started (or known never to start)
        # before the run returns: a report never leaves a task out, and nothing starts after it.
        self._tails_to_start = len(program.tails)
        self._returned = False  # execute() has returned: what happens next is not in the report
        self._done: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Sync tasks with nothing to await around them run straight in a worker thread
        # (no asyncio task); their results come back in batches through _drain_threads.
        self._threaded_fast = program.threaded()
        # ... and a worker runs a sync child that only its task feeds at once (see Program.chain_next);
        # not under a deadline, which gives running threads up without waiting for such a decision.
        self._chain_next = program.chain_next() if bus is None and program.deadline is None else None
        self._continued = bytearray(n) if self._chain_next is not None else None
        # Every task runs in a copy of this: the context the run was made (and executed) in.
        self._base_context = contextvars.copy_context()
        self._inline = program.inline() if _INLINE else None
        self._spare: Spare | None = None
        self._handed: dict[int, Spare] = {}  # task -> spare it was handed to, until the spare runs
        self._retired: set[Spare] = set()  # spares given up after a first step changed them, until they end
        self._in_threads = 0
        self._pool: WorkerPool | None = None
        self._queued: deque[Job] = deque()  # sync jobs no worker has taken yet (see astrum.core._threads)
        self._withdrawn: set[int] = set()  # tasks whose attempt was withdrawn unstarted at the stop
        self._thread_results: deque[tuple[int, bool, Any, float, bool]] = deque()
        self._drain_scheduled = False
        self._threads_idle: asyncio.Future[None] | None = None
        self.epoch0 = 0.0
        self.perf0 = 0.0
        self.perf_end = 0.0
        self._now = program.clock.now
        self.run_id = uuid.uuid4().hex
        self.context: RunContext[Any] = context if context is not None else RunContext()
        self.bus = bus
        # Named pools: slots in use, tasks waiting for a slot, and how long each waited.
        self._pool_used = [0] * len(program.pool_limits)
        self._pool_waiting: list[deque[int]] = [deque() for _ in program.pool_limits]
        self.pool_wait: dict[int, float] = {}
        # Tasks waiting for a concurrency slot handed back by a task pausing for a retry.
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._slotless: set[int] = set()  # tasks currently pausing without a slot
        self._semaphore_released: set[int] = set()  # ... and without the user's semaphore
        #: Task index -> index of the failed task that made it skipped (failure_policy="continue").
        self.skip_cause: dict[int, int] = {}
        self.deadline_at: float | None = None
        self.deadline_hit = False
        #: Thread tasks given up at the deadline (their threads run on; results are discarded).
        self.abandoned: set[int] = set()

    # -- driving -----------------------------------------------------------------------

    async def execute(self) -> None:
        """Run every task; return once all non-tail tasks ended (or the run failed).

        Raises:
            asyncio.CancelledError: the caller cancelled; every task was cancelled and awaited first.
            BaseException: a task raised ``KeyboardInterrupt`` or ``SystemExit``; re-raised after cleanup.
        """
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._pool = worker_pool()
        self._done = loop.create_future()
        self.epoch0 = time.time()
        self.perf0 = self._now()
        roots = self.program.graph.roots()
        for i in roots:
            self.ready_at[i] = self.perf0
        self._ready.extend(roots)
        if self._unfinished <= 0 and not self._tails_to_start:
            self._done.set_result(None)
        if self.bus is not None:
            self.bus.start()
            self.bus.emit(RunEvent("run_start", self.run_id, self.epoch0, total_tasks=len(self.names)))
        watchdog = None
        if self.program.deadline is not None:
            self.deadline_at = self.perf0 + self.program.deadline
            watchdog = loop.create_task(self._watch_deadline(self.program.deadline))
        self._pump()
        try:
            if not self._done.done():
                await self._done
            if self._failed:
                await self._stop(include_tails=self.deadline_hit)
        except asyncio.CancelledError:
            await self._stop_despite_cancellation()
            self.perf_end = self._now()
            raise
        finally:
            if watchdog is not None:
                watchdog.cancel()
                await asyncio.wait([watchdog])
            spares = list(self._retired)
            if self._spare is not None:
                self._spare.dispose()
                spares.append(self._spare)
                self._spare = None
            if spares:
                await asyncio.wait([spare.task for spare in spares])
            self._returned = True
        self.perf_end = self._now()
        if self.fatal is not None:
            raise self.fatal

    async def _watch_deadline(self, seconds: float) -> None:
        await self.program.clock.sleep(seconds)
        done = self._done
        if done is None or done.done():
            return
        self.deadline_hit = True
        unstarted = len(self.finished)
        self._halt()
        unstarted = len(self.finished) - unstarted
        now = self._now()
        running = sum(1 for i in self.running if self.status[i] is None) + self._in_threads
        others = (
            f"{unstarted} ready task(s) cancelled before they started, the others skipped."
            if unstarted
            else "the tasks not yet started skipped."
        )
        self.error_summary.append(
            f"Run deadline of {seconds:g} s exceeded: {running} running task(s) cancelled, {others}"
        )
        # Threads cannot be stopped: give them up now and ignore their late results.
        for i, threaded in enumerate(self._threaded_fast):
            if threaded and self.status[i] is None and self.began[i] and i not in self.abandoned:
                self.abandoned.add(i)
                self.status[i] = CANCELLED
                self.end_at[i] = now
                self.finished.append(i)
        self._in_threads = 0
        for task in self.running.values():
            if not task.cancelling():
                task.cancel()
        done.set_result(None)

    async def _stop_despite_cancellation(self) -> None:
        """Stop everything, tail tasks included, even if cancelled again meanwhile."""
        while True:
            try:
                await self._stop(include_tails=True)
                return
            except asyncio.CancelledError:
                continue

    async def _stop(self, *, include_tails: bool) -> None:
        """Cancel running tasks and wait until every one of them has ended."""
        self._halt()
        tails = self.program.tails
        while True:
            if self._in_threads:
                # Threads cannot be interrupted: wait for them, their results are discarded.
                assert self._loop is not None
                self._threads_idle = self._loop.create_future()
                await asyncio.wait([self._threads_idle])
                continue
            for spare in [s for s in self._handed.values() if s.task.done()]:
                self._orphaned(spare)  # ended just now; its own callback has not run yet
            victims = [
                t for i, t in self.running.items() if (include_tails or i not in tails) and not t.done()
            ]
            if not victims:
                return
            for t in victims:
                if not t.cancelling():  # a task already cancelled is left to finish its cleanup
                    t.cancel()
            await asyncio.wait(victims)

    def _halt(self) -> None:
        """The run stops (a final failure, the deadline, or cancellation): nothing starts any more.

        A task whose inputs were all ready counts as started, so it is cancelled (without an
        attempt: its body never runs): tasks waiting to be launched or for a pool slot, tasks
        launched that have not begun, and sync jobs no worker thread has taken yet. Tasks whose
        inputs were not ready stay unstarted and are reported skipped.
        """
        if self._failed:
            return
        self._failed = True
        now = self._now()
        tails = self.program.tails
        began = self.began
        pool_wait = self.pool_wait
        for queue in (self._ready, *self._pool_waiting):
            kept = [i for i in queue if i in tails]  # tail tasks are not the run's to cancel
            for i in queue:
                if i not in tails:
                    if i in pool_wait:  # still waiting for its pool (or its turn after it): until now
                        pool_wait[i] = now - pool_wait[i]
                    self.end_at[i] = now
                    self._cancelled(i)
            queue.clear()
            queue.extend(kept)
        for i in self.running:
            if not began[i] and i not in tails:
                self.end_at[i] = now  # launched, first step not taken yet: it is cancelled next
                self._cancelled(i)
        queued = self._queued
        while True:
            try:
                job = queued.popleft()  # taken back before any worker did: it never runs
            except IndexError:
                break
            i = job[1]
            began[i] = 0
            self.end_at[i] = now
            self._cancelled(i)
            self._in_threads -= 1
            self._leave(i)

    def _cancelled(self, i: int) -> None:
        """Record task ``i`` as cancelled by the stopping run at ``end_at[i]`` (once); a task
        whose body never ran gets no attempt."""
        if self.status[i] is not None:
            return
        if not self.began[i] or (i in self._withdrawn and not self.attempts.get(i)):
            self.began[i] = 0
            self.start_at[i] = self.end_at[i]
        self.status[i] = CANCELLED
        self.finished.append(i)

    def _pump(self) -> None:
        """Launch ready tasks (iteratively: eager tasks that finish at once only enqueue).

        At most ``_LAUNCH_BATCH`` tasks start per loop turn; the rest follow on the next
        turn, after the launched ones took their first step, so a million ready no-op tasks
        never exist as a million asyncio tasks at once.
        """
        if self._pumping:
            return
        self._pumping = True
        # A large burst of launches allocates many long-lived task objects at once; the cyclic
        # collector would rescan all of them again and again, so it waits until the burst is done.
        paused = len(self._ready) > _BURST and gc.isenabled()
        if paused:
            gc.disable()
        try:
            ready = self._ready
            limit = self.program.concurrency_limit
            loop = self._loop
            tails = self.program.tails
            threaded = self._threaded_fast
            pools = self.program.pools
            node = self._node
            running = self.running
            budget = self._budget
            inline = self._inline
            current = asyncio.current_task(loop) if inline is not None else None
            base_context = self._base_context  # every task runs in a copy of the caller's context
            suspending = self.program.suspending
            fns = self.program.fns
            while ready and not self._failed:
                if limit is not None and self._active >= limit:
                    break
                if not budget:
                    if not self._pump_scheduled:
                        self._pump_scheduled = True
                        loop.call_soon(self._pump_again)  # type: ignore[union-attr]
                    break
                budget -= 1
                i = ready.popleft()
                if pools is not None and pools[i] >= 0 and not self._take_pool_slot(i, pools[i]):
                    continue  # parked until its pool has a free slot; holds no global slot meanwhile
                self._active += 1
                if threaded[i]:
                    self._launch_in_thread(i)
                    continue
                if (
                    inline is not None
                    and inline[i]
                    and (not suspending or getattr(fns[i], "__code__", None) not in suspending)
                ):
                    self._launch_inline(i, loop, current)  # type: ignore[arg-type]
                    continue
                if _EAGER:
                    task = asyncio.Task(  # type: ignore[call-arg]
                        node(i), loop=loop, eager_start=True, context=base_context.copy()
                    )
                else:
                    task = asyncio.Task(node(i), loop=loop, context=base_context.copy())
                if not task.done():
                    running[i] = task
                if i in tails:
                    self._tail_started(i, task)
            self._budget = budget
        finally:
            self._pumping = False
            if paused:
                gc.enable()

    def _tail_started(self, i: int, task: asyncio.Task[Any]) -> None:
        self.tail_tasks[i] = task
        task.add_done_callback(_consume_tail_outcome)
        self._tails_to_start -= 1
        if not self._tails_to_start and self._unfinished <= 0:
            done = self._done
            if done is not None and not done.done():
                done.set_result(None)

    def _pump_again(self) -> None:
        self._pump_scheduled = False
        self._budget = _LAUNCH_BATCH
        self._pump()

    # -- async tasks whose first step runs inline (Python 3.11) ------------------------------

    def _launch_inline(
        self, i: int, loop: asyncio.AbstractEventLoop, current: asyncio.Task[Any] | None
    ) -> None:
        call = self._begin(i)
        if call is None:
            return
        args, kwargs = call
        program = self.program
        name = self.names[i]
        spare = self._spare
        if spare is None:
            spare = self._spare = Spare(loop, self._base_context.copy(), self._adopt, self._orphaned)
        try:
            coro = program.fns[i](*args, **kwargs)
            if not hasattr(coro, "send"):  # an awaitable that is not a coroutine
                self._await_in_task(i, coro)
                return
            if current is not None:
                leave_task(loop, current)
            enter_task(loop, spare.task)
            try:
                yielded = spare.context.run(coro.send, None)
            finally:
                leave_task(loop, spare.task)
                if current is not None:
                    enter_task(loop, current)
        except StopIteration as stop:
            self.end_at[i] = self._now()
            self._keep_spare(spare)
            self._complete(i, stop.value)
            return
        except BaseException as exc:  # raised in its first step (a CancelledError too: nobody cancelled it)
            self.end_at[i] = self._now()
            self._keep_spare(spare)
            if is_fatal(exc) and self.fatal is None:
                self.fatal = exc
            self._final_failure(i, name, exc)
            return
        # Suspended: the spare task adopts the coroutine and drives it on. Tasks running the same
        # code will most likely suspend too: they start as plain asyncio tasks from now on.
        code = getattr(program.fns[i], "__code__", None)
        if code is not None:
            program.suspending.add(code)
        self._spare = None
        cancelled = spare.task.cancelling() or spare.task.done()  # it cancelled its own task, then waited
        if cancelled:
            self._retired.add(spare)
            spare = Spare(loop, spare.context, self._adopt, self._orphaned)
        spare.hand_over((i, coro, yielded, None))
        self._handed[i] = spare
        self.running[i] = spare.task
        if cancelled:
            spare.task.cancel()  # as asyncio would: the task ends cancelled at its first wait

    def _keep_spare(self, spare: Spare) -> None:
        """After a first step that finished: keep the spare unless the step changed it."""
        if spare.task.cancelling() or spare.task.done() or spare.context != self._base_context:
            self._spare = None  # it set context variables or cancelled its task: start afresh
            spare.dispose()
            self._retired.add(spare)

    def _orphaned(self, spare: Spare) -> None:
        """A spare task ended without adopting: retired, disposed, or cancelled before it could run."""
        self._retired.discard(spare)
        adoption = spare.take_orphan()
        if adoption is None:
            return
        i, coro, yielded, _ = adoption
        self._handed.pop(i, None)
        cancel_suspended(coro, yielded, spare.context)
        self.end_at[i] = self._now()
        if not self._failed:  # not cancelled by the run (the task cancelled itself): a failure
            self._final_failure(i, self.names[i], asyncio.CancelledError())
            return
        self.status[i] = CANCELLED
        self.finished.append(i)
        self._leave(i)

    async def _adopt(self, spare: Spare) -> Any:
        adoption, cancelled = await spare.wait()
        if adoption is None:
            return None  # disposed unused
        i, coro, yielded, throw = adoption
        self._handed.pop(i, None)
        if cancelled and throw is None:
            throw = asyncio.CancelledError()
        return await self._finish(i, Resumed(coro, yielded, throw))

    async def _finish(self, i: int, awaitable: Any) -> Any:
        """Await what task ``i`` still has to do (in its own asyncio task), then record its end."""
        try:
            value = await awaitable
        except asyncio.CancelledError as exc:
            self.end_at[i] = self._now()
            task = asyncio.current_task()
            if task is not None and task.cancelling() and self._failed:
                self.status[i] = CANCELLED
                self.finished.append(i)
                self._leave(i)
                raise
            self._final_failure(i, self.names[i], exc)  # not cancelled by the run: a failure
            return None
        except BaseException as exc:
            self.end_at[i] = self._now()
            if is_fatal(exc) and self.fatal is None:
                self.fatal = exc
            self._final_failure(i, self.names[i], exc)
            return None
        self.end_at[i] = self._now()
        self._complete(i, value)
        return value

    # -- sync tasks in worker threads ------------------------------------------------------

    def _start(self, i: int) -> tuple[list[Any], dict[str, Any]]:
        """Mark task ``i`` started; return its call arguments (raises what binding raises)."""
        self.start_at[i] = self._now()
        self.began[i] = 1
        binder = self.program.binders[i]
        if binder is None:
            return [], {}
        return binder.bind(self.values)

    def _begin(self, i: int) -> tuple[list[Any], dict[str, Any]] | None:
        """Start task ``i`` outside an asyncio task of its own: its arguments, or ``None`` if
        binding them failed (the task is then reported failed)."""
        try:
            args, kwargs = self._start(i)
        except Exception as exc:
            self.end_at[i] = self._now()
            self._final_failure(i, self.names[i], exc)
            return None
        program = self.program
        context_params = program.context_params
        if context_params is not None and context_params[i]:
            self._inject_context(i, kwargs, 1)
        if self.bus is not None:
            self._task_event("task_start", i, 1)
        return args, kwargs

    def _launch_in_thread(self, i: int) -> None:
        call = self._begin(i)
        if call is None:
            return
        args, kwargs = call
        self._in_threads += 1
        queued = self._queued
        queued.append((self, i, self.program.fns[i], args, kwargs, self._base_context.copy()))
        self._pool.submit(queued)  # type: ignore[union-attr]

    def thread_result(self, key: int, ok: bool, value: Any) -> Job | None:
        """Called in a worker thread when a sync task returns or raises.

        Returns the next job for the same thread: the task's chained child (see
        :meth:`Program.chain_next`), already marked started, or ``None``.
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

    def _await_in_task(self, i: int, awaitable: Any) -> None:
        assert self._loop is not None
        self.running[i] = self._loop.create_task(self._finish(i, awaitable))

    # -- one task ------------------------------------------------------------------------

    async def _node(self, i: int) -> Any:
        if self._failed and i not in self.program.tails:
            # Launched together with a task that failed first: never begin (reported cancelled).
            if self.status[i] is None:
                self.end_at[i] = self._now()
                self._cancelled(i)
            self._leave(i)
            return None
        program = self.program
        name = self.names[i]
        semaphore = program.semaphore
        acquired = False
        try:
            if semaphore is not None:
                await semaphore.acquire()
                acquired = True
            try:
                args, kwargs = self._start(i)
                binder = program.binders[i]
                if binder is not None and binder.needs_await:
                    await binder.resolve(args, kwargs)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise _InjectionError(exc) from None
            if program.policies[i] is None:
                if program.context_params is not None and program.context_params[i]:
                    self._inject_context(i, kwargs, 1)
                if self.bus is not None:
                    self._task_event("task_start", i, 1)
            if program.policies[i] is not None:
                value = await run_attempts(self, i, name, args, kwargs)
            elif program.kinds[i] == ASYNC:
                value = await program.fns[i](*args, **kwargs)
            else:
                value = await self._call(i, args, kwargs)
        except asyncio.CancelledError as exc:
            self.end_at[i] = self._now()
            task = asyncio.current_task()
            # Cancelled by the run, or (a tail task) by whoever holds it after the run returned.
            if task is not None and task.cancelling() and (self._failed or self._returned):
                self._cancelled(i)  # a cancellation between attempts belongs to the task, not to an attempt
                self._leave(i)
                raise
            # The task raised CancelledError itself, or something other than the run cancelled it:
            # a failure, never a completion.
            self._final_failure(i, name, exc)
            return
        except _InjectionError as wrapped:
            self.end_at[i] = self._now()
            self._final_failure(i, name, wrapped.original)
            return
        except Exception as exc:
            self.end_at[i] = self._now()
            self._final_failure(i, name, exc)
            if i in program.tails:
                raise  # whoever awaits the tail task sees its error
            return None
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: stop the run, re-raise later
            self.end_at[i] = self._now()
            if self.fatal is None:
                self.fatal = exc
            self._final_failure(i, name, exc)
            return
        finally:
            if acquired:
                if self._semaphore_released and i in self._semaphore_released:
                    self._semaphore_released.discard(i)  # ended while pausing without it
                else:
                    semaphore.release()  # type: ignore[union-attr]
        self.end_at[i] = self._now()
        self._complete(i, value)
        return value

    async def _call(self, i: int, args: list[Any], kwargs: dict[str, Any]) -> Any:
        program = self.program
        kind = program.kinds[i]
        fn = program.fns[i]
        if kind == ASYNC:
            return await fn(*args, **kwargs)
        if kind == SYNC:
            value = await self._in_thread(i, fn, args, kwargs)
        else:
            value = fn(*args, **kwargs)
        if inspect.isawaitable(value):
            value = await value
        return value

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
        call = self._pool.run_in_thread(fn, args, kwargs)  # type: ignore[union-attr]
        future = call.future
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if not future.done() and call.withdraw():
                if self._failed:
                    self._withdrawn.add(i)  # no worker took it, and none will: no attempt ran
                raise
            future.add_done_callback(_retrieve)  # a late outcome is discarded, never left unretrieved
            # A thread cannot be interrupted: wait until it returns, so no work outlives the run.
            # Only a timeout of its own or the run deadline gives it up.
            if not future.done() and not expired and not self.deadline_hit:
                await asyncio.wait([future])
            raise

    # -- bookkeeping ---------------------------------------------------------------------

    def _leave(self, i: int) -> None:
        self.running.pop(i, None)
        pools = self.program.pools
        if pools is not None and pools[i] >= 0:
            self._release_pool_slot(pools[i])
        if self._slotless and i in self._slotless:
            return  # paused between attempts: it holds no slot
        self._release_slot()

    def _take_pool_slot(self, i: int, pool: int) -> bool:
        if self._pool_used[pool] < self.program.pool_limits[pool]:
            self._pool_used[pool] += 1
            if i in self.pool_wait:
                self.pool_wait[i] = self._now() - self.pool_wait[i]
            return True
        self.pool_wait[i] = self._now()
        self._pool_waiting[pool].append(i)
        return False

    def _release_pool_slot(self, pool: int) -> None:
        self._pool_used[pool] -= 1
        waiting = self._pool_waiting[pool]
        if waiting:
            # The longest-waiting task of this pool goes first; the caller's pump launches it.
            self._ready.appendleft(waiting.popleft())

    def _release_slot(self) -> None:
        waiters = self._slot_waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes straight to a task resuming after a pause
                return
        self._active -= 1

    async def _acquire_slot(self) -> None:
        limit = self.program.concurrency_limit
        if limit is None or self._active < limit:
            self._active += 1
            return
        assert self._loop is not None
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._slot_waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release_slot()  # handed over just as we were cancelled: pass it on
            raise

    def _complete(self, i: int, value: Any) -> None:
        """Record task ``i``'s result, release what it held, and launch the children it made ready."""
        self.values[i] = value
        if self._results is not None:  # reported already: a tail task finishing late
            self._results[self.names[i]] = value
        self.status[i] = COMPLETED
        self.finished.append(i)
        if self.bus is not None:
            self._task_event("task_success", i, 0, start=self.start_at[i], end=self.end_at[i], result=value)
        self._leave(i)
        remaining = self._remaining
        ready = self._ready
        program = self.program
        ready_at = self.ready_at
        end = self.end_at[i]
        continued = self._continued
        for child in program.graph.children[i]:
            remaining[child] -= 1
            if remaining[child] == 0:
                if continued is not None and continued[child]:
                    # Already running in this task's worker thread (see thread_result).
                    self._active += 1
                    self._in_threads += 1
                    continue
                ready.append(child)
                ready_at[child] = end
        if i not in program.tails:
            self._unfinished -= 1
            if self._unfinished == 0 and not self._tails_to_start:
                done = self._done
                if done is not None and not done.done():
                    done.set_result(None)
        self._pump()

    def _final_failure(self, i: int, name: str, exc: BaseException) -> None:
        self.status[i] = TIMED_OUT if isinstance(exc, TaskTimeoutError) else FAILED
        self.exceptions[i] = exc
        if self.bus is not None:
            self._task_event(
                "task_failure",
                i,
                0,
                error=exc,
                start=self.start_at[i] if self.began[i] else None,
                end=self.end_at[i],
            )
        self.finished.append(i)
        self._leave(i)
        if self._returned:  # a tail task, after the report was made: logged, and kept in its task
            logger.warning(
                "tail task %r failed after its run returned: %s",
                name,
                exc,
                exc_info=(type(exc), exc, exc.__traceback__),
            )
            return
        program = self.program
        self.error_summary.append(f"Task '{name}' failed during execution: {exc}")  # upstream's exact line
        if (
            i in program.tails
            and not program.graph.children[i]
            and self.fatal is None
            and program.failure_policy != CONTINUE  # there, every failure lets the run go on
        ):
            # Nothing waits for this tail task: its failure is reported, the run goes on.
            if self.tail_failure is None:
                self.tail_failure = i
            return
        if self.first_failure is None:
            self.first_failure = i
        if program.failure_policy == CONTINUE and self.fatal is None:
            self._skip_descendants(i)
            return
        self._halt()
        tails = program.tails
        for j, task in self.running.items():
            if j not in tails and not task.cancelling():
                task.cancel()  # at once, so nothing else begins while execute() wakes up
        done = self._done
        if done is not None and not done.done():
            done.set_result(None)

    def _skip_descendants(self, i: int) -> None:
        """failure_policy="continue": everything downstream of ``i`` is skipped; the rest runs on."""
        program = self.program
        tails = program.tails
        cause = self.skip_cause
        if i not in tails:
            self._unfinished -= 1
        stack = list(program.graph.children[i])
        while stack:
            j = stack.pop()
            if j in cause:
                continue
            cause[j] = i
            if j not in tails:
                self._unfinished -= 1
            else:
                self._tails_to_start -= 1  # it never starts
            stack.extend(program.graph.children[j])
        if self._unfinished == 0 and not self._tails_to_start:
            done = self._done
            if done is not None and not done.done():
                done.set_result(None)
        else:
            self._pump()

    def _inject_context(self, i: int, kwargs: dict[str, Any], attempt: int) -> None:
        view = self.context.for_task(self.run_id, self.names[i], attempt, self.time_remaining, self.stopping)
        for param in self.program.context_params[i]:  # type: ignore[index]
            kwargs[param] = view

    def time_remaining(self) -> float | None:
        """Seconds left before the run deadline (``None`` without a deadline)."""
        if self.deadline_at is None:
            return None
        return max(0.0, self.deadline_at - self._now())

    def stopping(self) -> bool:
        """Whether the run is stopping (a failure, the deadline, or cancellation)."""
        return self._failed

    def _task_event(
        self,
        kind: str,
        i: int,
        attempt: int,
        *,
        error: BaseException | None = None,
        delay: float = 0.0,
        start: float | None = None,
        end: float | None = None,
        result: Any = None,
    ) -> None:
        assert self.bus is not None
        if attempt == 0:  # the task's last attempt
            log = self.attempts.get(i)
            attempt = len(log) if log else 1
        wall = self.wall
        self.bus.emit(
            task_event(
                kind,
                self.run_id,
                self.names[i],
                attempt,
                wall(self._now()),
                wall(start) if start is not None else None,
                wall(end) if end is not None else None,
                error,
                delay,
                result,
            )
        )

    @property
    def results(self) -> dict[str, Any]:
        """Each completed task's result by name, in completion order (made when first read,
        once the run is over; tail tasks that finish later are added)."""
        results = self._results
        if results is None:
            names = self.names
            values = self.values
            status = self.status
            results = {names[i]: values[i] for i in self.finished if status[i] is COMPLETED}
            self._results = results
        return results

    @property
    def failed(self) -> bool:
        return self.first_failure is not None or self.deadline_hit or self.tail_failure is not None

    def wall(self, perf: float) -> float:
        """Convert a ``perf_counter`` reading of this run to epoch seconds."""
        return self.epoch0 + (perf - self.perf0)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # marks a late error retrieved: its thread was given up


def attempt_rows(run: Run, i: int) -> Sequence[AttemptRow]:
    """The attempts of task ``i``: recorded ones, or the single implied one (none if its
    body never ran)."""
    log = run.attempts.get(i)
    if log is not None:
        return log
    status = run.status[i]
    if status is None or not run.began[i]:
        return ()
    return ((run.start_at[i], run.end_at[i], status, run.exceptions.get(i), 0.0),)
