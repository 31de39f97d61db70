"""The run side of ``DynamicScheduler``: ``execute()``, the states and stage a run leaves
behind, and the last events hooks see.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError, SchedulerError, TaskNotFoundError
from ..core._engine import Run
from ..core._gcpause import gc_paused
from ..core._graph import TaskOrder
from ..core._program import Program
from ..core._states import ExecutionState, StageStatus
from ..lifecycle._context import RunContext
from ..lifecycle._events import EventBus, RunEvent, RunHook, TaskEvent
from ..report._report import ExecutionReport
from ..report._run_report import report_from_run

if TYPE_CHECKING:
    from ..store._base import RunStore
    from ..store._recorder import Recorder
    from ..viz._progress import ProgressHook

__all__ = ["SchedulerRuns"]

logger = logging.getLogger("astrum")

#: Seconds a cancelled run waits for its hooks to see the final events.
_HOOK_GRACE = 5.0


class SchedulerRuns:
    """Runs a compiled program and keeps what Astrum 0.1 exposes about the last run.

    The scheduler provides `_compile` and `task_order`.
    """

    #: Hooks told about every run's events (see `RunHook`).
    hooks: list[RunHook]
    #: The default RunContext of this scheduler's runs.
    context: RunContext[Any] | None
    #: The run store each run is recorded into (``None``: nothing is recorded).
    store: RunStore | None
    #: The live display among the hooks (``AstrumConfig(progress=...)``), stopped after every run.
    progress: ProgressHook | None
    # How the store labels the runs: namespace, targets, and for a resume what it reuses.
    _store_label: dict[str, Any]
    execution_state: ExecutionState
    stage_status: StageStatus | None
    #: -1 until a run ends; then the id of the last stage of the stage view that run reached.
    current_stage: int
    _task_return_set: dict[str, Any]
    _last_run: Run | None

    def _setup_runs(self) -> None:
        self.hooks = []
        self.context = None
        self.store = None
        self.progress = None
        self._store_label = {}
        self.execution_state = ExecutionState.NONE
        self.stage_status = None
        self.current_stage = -1
        self._task_return_set = {}
        self._last_run = None

    @property
    def task_order(self) -> list[TaskOrder]:
        raise NotImplementedError

    def _compile(self) -> Program:
        raise NotImplementedError

    @property
    def task_return_set(self) -> dict[str, Any]:
        """``{task: return value}`` of the last run's completed tasks (the report's dict)."""
        run = self._last_run
        if run is not None:
            self._task_return_set = run.results
            self._last_run = None
        return self._task_return_set

    @task_return_set.setter
    def task_return_set(self, value: dict[str, Any]) -> None:
        self._task_return_set = value
        self._last_run = None

    def _enter(self, state: ExecutionState) -> None:
        """Set the execution state and the stage status that goes with it."""
        self.execution_state = state
        self.stage_status = StageStatus(state.value)

    async def execute(
        self,
        context: RunContext[Any] | None = None,
        *,
        _event_queue: asyncio.Queue[Any] | None = None,
    ) -> ExecutionReport:
        """Run the DAG once and return its report.

        Task failures are recorded in the report, never raised. Planning errors
        (cycles, unknown dependencies, a task without callable) give a ``failed``
        report whose ``error_summary`` says what is wrong.

        Args:
            context: the `RunContext` for tasks that ask for one
                (default: the scheduler's ``context``, else an empty one).

        Raises:
            asyncio.CancelledError: the caller cancelled; all running tasks were cancelled and awaited.
            ConfigurationError: a task has ``cache=`` but the run has no store to keep entries in.
        """
        total_start = time.time()
        planning_start = time.perf_counter()
        self.current_stage = -1
        self.execution_state = ExecutionState.PLANNING
        try:
            with gc_paused():
                program = self._compile()
        except TaskNotFoundError as exc:
            return self._planning_failure(total_start, planning_start, f"Execution failed: {exc}")
        except SchedulerError as exc:
            return self._planning_failure(total_start, planning_start, str(exc))
        planning_duration = time.perf_counter() - planning_start
        if self.store is None and program.cached_tasks():
            self._enter(ExecutionState.FAILED)
            raise ConfigurationError(_no_cache_store(program))
        self._enter(ExecutionState.RUNNING)
        hooks = list(self.hooks)
        context = context if context is not None else self.context
        recorder = None if self.store is None else _recorder(self.store, program, context, self._store_label)
        bus = (
            EventBus(
                hooks,
                [_event_queue] if _event_queue is not None else [],
                () if recorder is None else (recorder,),
                namespace=self._store_label.get("namespace"),
            )
            if hooks or _event_queue or recorder is not None
            else None
        )
        try:
            return await self._run_program(program, context, bus, recorder, total_start, planning_duration)
        finally:
            if self.progress is not None:  # a run that failed or was cancelled may not have told it
                self.progress.stop()

    async def _run_program(
        self,
        program: Program,
        context: RunContext[Any] | None,
        bus: EventBus | None,
        recorder: Recorder | None,
        total_start: float,
        planning_duration: float,
    ) -> ExecutionReport:
        run = Run(program, context, bus)
        if recorder is not None:
            recorder.run = run
            run.store = self.store  # where cached tasks look for their entries
        try:
            await run.execute()
        except asyncio.CancelledError:
            self._enter(ExecutionState.CANCELLED)
            if bus is not None:
                await _close_cancelled(bus, run, total_start, planning_duration)
            raise
        except BaseException:
            self._enter(ExecutionState.FAILED)
            if recorder is not None:
                recorder.abandoned()
            if bus is not None:
                await bus.abort()
            raise
        report = report_from_run(run, total_start=total_start, planning_duration=planning_duration)
        if recorder is not None:
            recorder.annotate(report)
        if bus is not None:
            try:
                await _finish_events(bus, run, report)
            except asyncio.CancelledError:  # while hooks handled the last events: they were stopped
                self._enter(ExecutionState.CANCELLED)
                raise
        failed = run.failed
        self._enter(ExecutionState.FAILED if failed else ExecutionState.COMPLETED)
        self.current_stage = _last_stage_reached(program, run)
        self._last_run = run  # its results become task_return_set when first read
        if failed:
            logger.info("run failed: %s", report.error_summary[0])
        return report

    def _planning_failure(self, total_start: float, planning_start: float, message: str) -> ExecutionReport:
        self._enter(ExecutionState.FAILED)
        end = time.time()
        duration = time.perf_counter() - planning_start
        logger.info("run could not start: %s", message)
        return ExecutionReport(
            total_start_time=total_start,
            total_end_time=end,
            total_duration=end - total_start,
            planning_duration=duration,
            execution_duration=0.0,
            total_tasks=len(self.task_order),
            execution_state=ExecutionState.FAILED.value,
            error_summary=[message],
            original_tasks={},
        )


def _no_cache_store(program: Program) -> str:
    cached = [program.graph.names[i] for i in program.cached_tasks()]
    listed = ", ".join(f"'{name}'" for name in cached[:5]) + (", ..." if len(cached) > 5 else "")
    return (
        f"Task{'' if len(cached) == 1 else 's'} {listed} {'has' if len(cached) == 1 else 'have'} cache=Cache(...), but this run has no store "
        "to keep cache entries in. Pass one: run(store=SQLiteStore('.astrum/runs.db')), or "
        "AstrumConfig(store=MemoryStore()) for entries that last as long as the process."
    )


def _recorder(
    store: RunStore, program: Program, context: RunContext[Any] | None, label: dict[str, Any]
) -> Recorder:
    """The listener that records a run into ``store`` (the store modules load on first use)."""
    from ..store._recorder import Recorder

    return Recorder(store, program, context, **label)


def _last_stage_reached(program: Program, run: Run) -> int:
    """Astrum 0.1's ``current_stage`` after a run: the id of the last stage of the stage view it reached.

    A run that did not fail reached the last stage; one that stopped, the deepest stage in which a task started.
    """
    if not run.failed:
        return program.stage_count - 1
    levels = program.graph.levels
    return max((levels[i] for i, st in enumerate(run.status) if st is not None), default=-1)


async def _finish_events(bus: EventBus, run: Run, report: ExecutionReport) -> None:
    """Emit the cancel and skip events of a finished run, then its end; wait for the hooks."""
    wall = run.wall
    # Only a run with a task neither completed nor failed has cancel or skip events to send.
    stats = (
        report.task_statistics if report.successful_tasks + report.failed_tasks < report.total_tasks else ()
    )
    for stat in stats:
        if stat.status in ("cancelled", "skipped"):
            bus.emit(
                TaskEvent(
                    "task_cancel" if stat.status == "cancelled" else "task_skip",
                    run.run_id,
                    stat.task_name,
                    stat.attempt_count,
                    stat.end_time,
                    start_time=stat.start_time if stat.status == "cancelled" else None,
                    end_time=stat.end_time,
                    caused_by=stat.caused_by,
                )
            )
    bus.emit(
        RunEvent(
            "run_end",
            run.run_id,
            wall(run.perf_end),
            total_tasks=report.total_tasks,
            report=report,
            namespace=bus.namespace,
        )
    )
    await bus.close()


async def _close_cancelled(bus: EventBus, run: Run, total_start: float, planning_duration: float) -> None:
    """Tell hooks how a cancelled run ended (cancel/skip events, then run_end), within a bounded time."""
    report = report_from_run(run, total_start=total_start, planning_duration=planning_duration)
    report.execution_state = ExecutionState.CANCELLED.value
    closing = asyncio.ensure_future(_finish_events(bus, run, report))
    try:
        await asyncio.wait([closing], timeout=_HOOK_GRACE)
    except asyncio.CancelledError:
        pass  # cancelled again: stop waiting for hooks
    while not closing.done():
        closing.cancel()  # its bus.close() cancels the dispatcher and waits until it has ended
        try:
            await asyncio.wait([closing])
        except asyncio.CancelledError:
            continue
    await bus.abort()  # in case ``closing`` was cancelled before it began
