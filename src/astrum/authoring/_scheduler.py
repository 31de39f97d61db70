"""``DynamicScheduler``: Astrum 0.1's manual-DAG entry point, on the event-driven engine."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from types import FunctionType
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationTypeError, SchedulerError, TaskNotFoundError
from ..core._clock import REAL_CLOCK, Clock
from ..core._engine import Run
from ..core._gcpause import gc_paused
from ..core._graph import TaskOrder, orders_from_graph
from ..core._policies import (
    Retry,
    TaskPolicy,
    as_retry,
    check_clock,
    check_deadline,
    check_failure_policy,
    check_isolation,
    check_timeout,
)
from ..core._program import Binder, Program, callable_kind
from ..core._states import ExecutionState, StageStatus
from ..lifecycle._context import RunContext, is_context_annotation
from ..lifecycle._events import EventBus, RunEvent, RunHook, TaskEvent
from ..report._plan import ExecutionPlan, ExecutionPlanner, graph_from_orders, stage_parallelism
from ..report._report import ExecutionReport
from ..report._run_report import report_from_run
from ._inject import Input, item_target, make_binder, relation_locator

if TYPE_CHECKING:
    from ..store._base import RunStore
    from ..store._recorder import Recorder
    from ._taskdata import TaskData

__all__ = ["DynamicScheduler", "TaskCallable"]

TaskCallable = Callable[..., Any]
logger = logging.getLogger("astrum")


def _validate_tasks(tasks: Sequence[tuple[str, TaskCallable]]) -> None:
    problems: list[str] = []
    seen: set[str] = set()
    duplicates: set[str] = set()
    for i, entry in enumerate(tasks):
        if (  # the common case: a fresh (name, function) pair
            type(entry) is tuple
            and len(entry) == 2
            and type(entry[0]) is str
            and entry[0] not in seen
            and (type(entry[1]) is FunctionType or (callable(entry[1]) and not inspect.iscoroutine(entry[1])))
        ):
            seen.add(entry[0])
            continue
        if not isinstance(entry, tuple | list) or len(entry) != 2:
            problems.append(f"Task #{i} must be a (name, callable) pair, got {entry!r}")
            continue
        name, fn = entry
        if not isinstance(name, str):
            problems.append(f"Task #{i} name is not a string: {type(name)}")
            continue
        if name in seen:
            duplicates.add(name)
        seen.add(name)
        if inspect.iscoroutine(fn):
            problems.append(
                f"Task '{name}' 是已 call 的协程对象；当前版本不再支持，请改为直接传入函数引用（不要加括号）。"
                f" (Task '{name}' is an already-called coroutine object; pass the function itself, "
                f"without parentheses.)"
            )
        elif not callable(fn):
            problems.append(
                f"Task '{name}' 不是可调用对象，得到 {type(fn)}。 (Task '{name}' is not callable; got {type(fn)}.)"
            )
    if duplicates:
        problems.insert(0, f"Duplicate task names in tasks: {sorted(duplicates)}")
    if problems:
        raise ConfigurationTypeError("\n".join(problems))


class DynamicScheduler:
    """Runs a predeclared DAG: every task starts as soon as its own dependencies are done.

    Args:
        tasks: ``(task_id, callable)`` pairs. Pass functions, not coroutine objects.
        task_order: one :class:`TaskOrder` per task to run, with its dependencies.
        task_data_refs: explicit :class:`TaskData` per task id (values injected from upstream results).
        has_data_path: kept for compatibility.
        ignore_tail_task: ids whose completion ``execute()`` does not wait for; they are
            returned, possibly still running, in ``report.tail_tasks``.
        concurrency_context: a semaphore bounding how many tasks run at once.
        task_retries: extra attempts per task id after a failure (an int or a :class:`~astrum.Retry`).
        silence: kept for compatibility (astrum logs through the ``astrum`` logger).
        task_timeouts: seconds one attempt of a task may take, per task id.
        task_isolation: ``"thread"`` (default) or ``"process"`` per task id.
        failure_policy: ``"cancel"`` (stop at the first final failure) or ``"continue"``.
        deadline: seconds the whole run may take.
        clock: the clock to sleep and measure on (tests: :class:`astrum.testing.FakeClock`).

    Raises:
        ConfigurationTypeError: ``tasks`` holds duplicate names, non-string names, coroutine
            objects or non-callables (all problems listed); also a ``TypeError``, as in Astrum 0.1.
    """

    task_timeouts: dict[str, float]
    task_isolation: dict[str, str]
    failure_policy: str
    deadline: float | None
    clock: Clock | None

    def __init__(
        self,
        tasks: list[tuple[str, TaskCallable]],
        task_order: list[TaskOrder],
        task_data_refs: dict[str, TaskData] | None = None,
        has_data_path: bool = False,
        ignore_tail_task: list[str] | None = None,
        concurrency_context: asyncio.Semaphore | None = None,
        *,
        task_retries: dict[str, int | Retry] | None = None,
        silence: bool = True,
        task_timeouts: dict[str, float] | None = None,
        task_isolation: dict[str, str] | None = None,
        failure_policy: str = "cancel",
        deadline: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        _validate_tasks(tasks)
        check_failure_policy(failure_policy)
        check_deadline(deadline)
        check_clock(clock)
        _policies(
            [name for name, _ in tasks], task_retries or {}, task_timeouts or {}, task_isolation or {}
        )  # raises TaskRegistrationError for an invalid retry, timeout or isolation
        self._setup(
            tasks,
            task_order,
            task_data_refs,
            has_data_path,
            ignore_tail_task,
            concurrency_context,
            task_retries,
            silence,
        )
        self.task_timeouts.update(task_timeouts or {})
        self.task_isolation.update(task_isolation or {})
        self.failure_policy = failure_policy
        self.deadline = deadline
        self.clock = clock

    @classmethod
    def _from_program(
        cls,
        program: Program,
        tasks: list[tuple[str, TaskCallable]] | None,
        task_order: list[TaskOrder] | None,
        *,
        task_data_refs: dict[str, TaskData],
        has_data_path: bool,
        ignore_tail_task: list[str],
        concurrency_context: asyncio.Semaphore | None,
        task_retries: dict[str, int | Retry],
        silence: bool,
    ) -> DynamicScheduler:
        """A scheduler around a program the registry already built and validated."""
        scheduler = cls.__new__(cls)
        scheduler._setup(
            tasks,
            task_order,
            task_data_refs,
            has_data_path,
            ignore_tail_task,
            concurrency_context,
            task_retries,
            silence,
        )
        scheduler.concurrency_limit = program.concurrency_limit
        scheduler.failure_policy = program.failure_policy
        scheduler.deadline = program.deadline
        scheduler.clock = program.clock
        scheduler._program = program
        return scheduler

    def _setup(
        self,
        tasks: list[tuple[str, TaskCallable]] | None,
        task_order: list[TaskOrder] | None,
        task_data_refs: dict[str, TaskData] | None,
        has_data_path: bool,
        ignore_tail_task: list[str] | None,
        concurrency_context: asyncio.Semaphore | None,
        task_retries: dict[str, int | Retry] | None,
        silence: bool,
    ) -> None:
        self.task_timeouts = {}
        self.task_isolation = {}
        #: The run store each run is recorded into (``None``: nothing is recorded).
        self.store: RunStore | None = None
        # How the store labels the runs: namespace, targets, and for a resume what it reuses.
        self._store_label: dict[str, Any] = {}
        #: Hooks told about every run's events (see :class:`~astrum.RunHook`).
        self.hooks: list[RunHook] = []
        #: The default RunContext of this scheduler's runs.
        self.context: RunContext[Any] | None = None
        self.failure_policy = "cancel"
        self.deadline = None
        self.clock = None
        self.ignore_tail_task = list(ignore_tail_task or [])
        self.task_data_refs = task_data_refs or {}
        self.has_data_path = has_data_path
        self.silence = silence
        self.task_retries = task_retries or {}
        self._tasks: list[tuple[str, TaskCallable]] | None = tasks
        self._task_order: list[TaskOrder] | None = task_order
        self.concurrency_context = concurrency_context
        #: Bound on concurrently running tasks enforced by the engine itself (no semaphore).
        self.concurrency_limit: int | None = None
        self.execution_state = ExecutionState.NONE
        self.stage_status: StageStatus | None = None
        #: -1 until a run ends; then the id of the last stage of the stage view that run reached.
        self.current_stage = -1
        self._task_return_set: dict[str, Any] = {}
        self._last_run: Run | None = None
        self._callables_map: dict[str, TaskCallable] | None = None
        # Set when built by a registry: the compiled program, so execute() does not rebuild it.
        self._program: Program | None = None

    # -- inspection ----------------------------------------------------------------------

    # A registry-built scheduler makes its task list and TaskOrder objects only when asked:
    # the compiled program already holds everything a run needs.

    @property
    def tasks(self) -> list[tuple[str, TaskCallable]]:
        """The ``(task_id, callable)`` pairs."""
        if self._tasks is None:
            program = self._program
            assert program is not None
            self._tasks = list(zip(program.graph.names, program.fns, strict=True))
        return self._tasks

    @tasks.setter
    def tasks(self, value: list[tuple[str, TaskCallable]]) -> None:
        self._tasks = value
        self._callables_map = None

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

    @property
    def task_order(self) -> list[TaskOrder]:
        """The task orders (dependencies) of the DAG."""
        if self._task_order is None:
            program = self._program
            assert program is not None
            self._task_order = orders_from_graph(program.graph)
        return self._task_order

    @task_order.setter
    def task_order(self, value: list[TaskOrder]) -> None:
        self._task_order = value

    @property
    def _callables(self) -> dict[str, TaskCallable]:
        if self._callables_map is None:
            self._callables_map = {name: fn for name, fn in self.tasks}
        return self._callables_map

    def detect_cycle(self) -> None:
        """Raise :class:`~astrum.TaskOrderLoopError` if the task orders contain a cycle."""
        ExecutionPlanner(self.task_order).detect_cycle()

    def get_execute_timeline(self) -> ExecutionPlan:
        """Validate the task orders and return their stage view (for inspection only)."""
        return ExecutionPlanner(self.task_order).get_execute_timeline()

    def find_task_by_name(
        self, name: str | None = None, *, task_name: str | None = None
    ) -> TaskCallable | None:
        """The callable registered for ``name``, or ``None``.

        ``task_name=`` is Astrum 0.1's name for the argument and works the same.

        Raises:
            TypeError: neither or both of ``name`` and ``task_name`` are given.
        """
        if name is not None and task_name is not None:
            raise TypeError("find_task_by_name() got both name and task_name; pass one of them")
        key = name if name is not None else task_name
        if key is None:
            raise TypeError("find_task_by_name() missing the task name: pass name or task_name")
        return self._callables.get(key)

    # -- running -------------------------------------------------------------------------

    def _fns_in_order(self, names: Sequence[str]) -> list[TaskCallable]:
        """The callable of each task of ``names``, in that order.

        Raises:
            TaskNotFoundError: a task has no callable.
        """
        tasks = self.tasks
        if len(tasks) == len(names):  # usually listed in the same order: no name lookups then
            fns: list[TaskCallable] = []
            for (task_name, fn), name in zip(tasks, names, strict=True):
                if fn is None or (task_name is not name and task_name != name):
                    break
                fns.append(fn)
            else:
                return fns
        callables = self._callables
        fns = []
        for name in names:
            found = callables.get(name)
            if found is None:
                raise TaskNotFoundError(name)
            fns.append(found)
        return fns

    def _compile(self) -> Program:
        if self._program is not None:
            return self._program
        graph = graph_from_orders(self.task_order)
        names = graph.names
        fns = self._fns_in_order(names)
        bindings: dict[str, Binder] = {
            name: _binder_from_task_data(name, data, fns[graph.index[name]], graph.index)
            for name, data in self.task_data_refs.items()
            if name in graph.index and data.input_data_item
        }
        tails = frozenset(graph.index[n] for n in self.ignore_tail_task if n in graph.index)
        stage_count, max_parallelism = stage_parallelism(graph)
        limit = self.concurrency_limit
        return Program(
            graph=graph,
            fns=fns,
            kinds=[callable_kind(fn) for fn in fns],
            binders=[bindings.get(name) for name in names] if bindings else [None] * len(names),
            policies=_policies(names, self.task_retries, self.task_timeouts, self.task_isolation),
            tails=tails,
            concurrency_limit=limit if limit and limit > 0 else None,
            semaphore=self.concurrency_context,
            stage_count=stage_count,
            max_parallelism=max_parallelism,
            failure_policy=self.failure_policy,
            deadline=self.deadline,
            clock=self.clock if self.clock is not None else REAL_CLOCK,
            context_params=_context_params(fns),
        )

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
            context: the :class:`~astrum.RunContext` for tasks that ask for one
                (default: the scheduler's ``context``, else an empty one).

        Raises:
            asyncio.CancelledError: the caller cancelled; all running tasks were cancelled and awaited.
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
        self.execution_state = ExecutionState.RUNNING
        self.stage_status = StageStatus.RUNNING
        hooks = list(self.hooks)
        context = context if context is not None else self.context
        recorder = None if self.store is None else _recorder(self.store, program, context, self._store_label)
        bus = (
            EventBus(
                hooks,
                [_event_queue] if _event_queue is not None else [],
                () if recorder is None else (recorder,),
            )
            if hooks or _event_queue or recorder is not None
            else None
        )
        run = Run(program, context, bus)
        try:
            await run.execute()
        except asyncio.CancelledError:
            self.execution_state = ExecutionState.CANCELLED
            self.stage_status = StageStatus.CANCELLED
            if bus is not None:
                await _close_cancelled(bus, run, total_start, planning_duration)
            raise
        except BaseException:
            self.execution_state = ExecutionState.FAILED
            self.stage_status = StageStatus.FAILED
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
                self.execution_state = ExecutionState.CANCELLED
                self.stage_status = StageStatus.CANCELLED
                raise
        failed = run.failed
        self.execution_state = ExecutionState.FAILED if failed else ExecutionState.COMPLETED
        self.stage_status = StageStatus.FAILED if failed else StageStatus.COMPLETED
        self.current_stage = _last_stage_reached(program, run)
        self._last_run = run  # its results become task_return_set when first read
        if failed:
            logger.info("run failed: %s", report.error_summary[0])
        return report

    def _planning_failure(self, total_start: float, planning_start: float, message: str) -> ExecutionReport:
        self.execution_state = ExecutionState.FAILED
        self.stage_status = StageStatus.FAILED
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
        RunEvent("run_end", run.run_id, wall(run.perf_end), total_tasks=report.total_tasks, report=report)
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


#: Seconds a cancelled run waits for its hooks to see the final events.
_HOOK_GRACE = 5.0


def _policies(
    names: Sequence[str],
    retries: dict[str, int | Retry],
    timeouts: dict[str, float],
    isolation: dict[str, str],
) -> list[TaskPolicy | None]:
    """Per-task policies from the manual scheduler's dictionaries (``None``: a plain call)."""
    if not retries and not timeouts and not isolation:
        return [None] * len(names)
    out: list[TaskPolicy | None] = []
    for name in names:
        retry = as_retry(retries.get(name, 0), name)
        timeout = check_timeout(timeouts.get(name), name)
        mode = check_isolation(isolation.get(name, "thread"), name)
        if retry is None and timeout is None and mode == "thread":
            out.append(None)
        else:
            out.append(TaskPolicy(retry=retry, timeout=timeout, isolation=mode))
    return out


def _context_params(fns: Sequence[TaskCallable]) -> list[tuple[str, ...]] | None:
    """Per task, the parameters annotated ``RunContext`` (``None`` when no task has one)."""
    found: list[tuple[str, ...]] = []
    any_found = False
    seen: dict[int, tuple[str, ...]] = {}  # tasks often share a callable
    for fn in fns:
        names = seen.get(id(fn))
        if names is None:
            annotations = getattr(fn, "__annotations__", None)
            names = (
                tuple(
                    name
                    for name, annotation in annotations.items()
                    if name != "return" and is_context_annotation(annotation)
                )
                if annotations
                else ()
            )
            seen[id(fn)] = names
            any_found = any_found or bool(names)
        found.append(names)
    return found if any_found else None


def _binder_from_task_data(
    task: str, data: TaskData, fn: TaskCallable | None, index: Mapping[str, int]
) -> Binder:
    """Compile explicit :class:`TaskData` inputs into a binder (``index``: the program's task indices).

    A ``to_relation.index`` is mapped to the parameter at that position, so
    ``index=1`` fills the second parameter (keyword), not the first.
    """
    params: list[str] = []
    if fn is not None:
        try:
            params = [
                p.name
                for p in inspect.signature(fn).parameters.values()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            ]
        except (TypeError, ValueError):
            params = []
    inputs: list[Input] = []
    for item in data.input_data_item:
        inputs.append(input_from_item(task, item, params))
    return make_binder(task, inputs, index=index)


def input_from_item(task: str, item: Any, params: Sequence[str]) -> Input:
    """Translate one explicit input ``DataItem`` into an :class:`Input`."""
    source_rel = item.from_relation
    target = item_target(item, params)
    if source_rel is None:
        raise SchedulerError(
            f"Task '{task}' has an input data item without from_relation; say where it comes from."
        )
    if source_rel.from_function is not None:
        return Input(target=target, source=None, from_function=source_rel.from_function, use_function=True)
    return Input(target=target, source=source_rel.related_task, locator=relation_locator(source_rel))
