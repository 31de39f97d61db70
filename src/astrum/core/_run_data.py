"""The state of one run, and the data its report is made of.

`RunData` is the base of `Run`. It declares, once, the
attributes every part of the engine shares on one ``self``: per-task arrays (results,
outcomes, clock readings), the ready queue and its counters, thread, slot and pool
bookkeeping. It also serves what is read once the run is over (the results view,
`attempt_rows`, epoch times) and what tasks and hooks see while it runs (the
``RunContext`` view, task events).
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import uuid
from array import array
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..lifecycle._context import RunContext
from ..lifecycle._events import EventBus, task_event
from ._inline import AVAILABLE as _INLINE_AVAILABLE
from ._inline import Spare
from ._map_records import InstanceRecords
from ._program import COMPLETED, NO_RESULT, AttemptRow, Program
from ._rates import RateLimiter
from ._threads import Job, WorkerPool

__all__ = ["RunData", "attempt_rows"]

_EAGER = sys.version_info >= (3, 12)
# Before 3.12 (no eager tasks) an async task's first step runs inline; see astrum.core._inline.
_INLINE = not _EAGER and _INLINE_AVAILABLE
_LAUNCH_BATCH = 2048  # tasks launched per pump before the loop gets a turn (bounds tasks in flight)

_ZEROS = (0.0,)


class RunData:
    """The shared state of a `Run` and what its report reads."""

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
        # A hook's task_context (see RunHook), called as each attempt's body begins in its own
        # asyncio task: every task gets one (no thread lane, no inline first step).
        self._task_context = bus.task_context if bus is not None else None
        if self._task_context is not None:
            self._threaded_fast = bytearray(n)
            self._inline = None
        self._spare: Spare | None = None
        self._handed: dict[int, Spare] = {}  # task -> spare it was handed to, until the spare runs
        self._retired: set[Spare] = set()  # spares given up after a first step changed them, until they end
        self._in_threads = 0
        self._pool: WorkerPool | None = None
        self._queued: deque[Job] = deque()  # sync jobs no worker has taken yet (see astrum.core._threads)
        self._withdrawn: set[int] = set()  # tasks whose attempt was withdrawn unstarted at the stop
        # With hooks: task -> attempt whose sync body waits for a worker thread; its task_start
        # comes when a worker takes the job (see RunThreads._start_event), never if it is withdrawn.
        self._start_due: dict[int, int] = {}
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
        #: The run store of the run (opaque here): where a cached task's policy looks for entries.
        self.store: Any = None
        #: Task index -> ``"hit"`` or ``"miss"`` for cached tasks (``None`` until one is looked up).
        self.cache_outcomes: dict[int, str] | None = None
        # Named pools: slots in use, tasks waiting for a slot, and how long each waited.
        self._pool_used = [0] * len(program.pool_limits)
        self._pool_waiting: list[deque[Any]] = [
            deque() for _ in program.pool_limits
        ]  # task index or PoolTicket
        self.pool_wait: dict[Any, float] = {}
        # Rate-limited pools: a limiter per pool (None: no rate; shared with the other runs on
        # the loop, set by execute()), and the timers that wake a pool's queue when its next
        # token is due (see RunSlots); None when no pool has a rate.
        self._rates: list[RateLimiter | None] | None = None
        self._rate_timers: dict[int, asyncio.Task[None]] | None = None
        if program.pool_rates is not None:
            self._rate_timers = {}
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
        #: Mapped task index -> its instances' records, once it fanned out (``None``: none did).
        self.mapped: dict[int, InstanceRecords] | None = None

    if TYPE_CHECKING:
        # What the parts composed into Run (astrum.core._engine) call on each other.

        def _pump(self) -> None: ...  # _run_launch
        def _begin(self, i: int) -> tuple[list[Any], dict[str, Any]] | None: ...
        def _await_in_task(self, i: int, awaitable: Any) -> None: ...
        def _orphaned(self, spare: Spare) -> None: ...
        def _launch_in_thread(self, i: int) -> None: ...  # _run_threads
        def _take_pool_slot(self, i: Any, pool: int) -> bool: ...  # _run_slots
        def _leave(self, i: int) -> None: ...
        def _complete(self, i: int, value: Any) -> None: ...  # _run_outcome
        def _final_failure(self, i: int, name: str, exc: BaseException) -> None: ...
        async def _node(self, i: int) -> Any: ...  # _engine

    # -- what tasks and hooks see -----------------------------------------------------------

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
        if self._start_due and kind != "task_start" and i in self._start_due:
            self._announce_start(i)  # it began, but the worker's word of it is not here yet
        if attempt == 0:  # the task's last attempt (0 for a cache hit: it ran none)
            log = self.attempts.get(i)
            attempt = len(log) if log is not None else 1
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

    def _announce_start(self, i: int) -> None:
        """Emit the ``task_start`` still due for task ``i``: a worker thread took its job."""
        self._task_event("task_start", i, self._start_due.pop(i))

    # -- what the report reads --------------------------------------------------------------

    @property
    def results(self) -> dict[str, Any]:
        """Each completed task's result by name, in completion order (made when first read,
        once the run is over; tail tasks that finish later are added)."""
        results = self._results
        if results is None:
            names = self.names
            values = self.values
            status = self.status
            mapped = self.mapped
            if mapped is None:
                results = {names[i]: values[i] for i in self.finished if status[i] is COMPLETED}
            else:  # a mapped task's instances come just before the task itself
                results = {}
                for i in self.finished:
                    if i in mapped:
                        results.update(mapped[i].results())
                    if status[i] is COMPLETED:
                        results[names[i]] = values[i]
            self._results = results
        return results

    @property
    def failed(self) -> bool:
        return self.first_failure is not None or self.deadline_hit or self.tail_failure is not None

    def wall(self, perf: float) -> float:
        """Convert a ``perf_counter`` reading of this run to epoch seconds."""
        return self.epoch0 + (perf - self.perf0)


def attempt_rows(run: RunData, i: int) -> Sequence[AttemptRow]:
    """The attempts of task ``i``: recorded ones, or the single implied one (none if its
    body never ran)."""
    log = run.attempts.get(i)
    if log is not None:
        return log
    status = run.status[i]
    if status is None or not run.began[i]:
        return ()
    return ((run.start_at[i], run.end_at[i], status, run.exceptions.get(i), 0.0),)
