"""``DynamicScheduler``: Astrum 0.1's manual-DAG entry point, on the event-driven engine.

Checking and compiling the task orders is ``_orders.py``; running them, ``_runs.py``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..core._clock import Clock
from ..core._graph import TaskOrder, orders_from_graph
from ..core._policies import Retry, check_clock, check_deadline, check_failure_policy
from ..core._program import Program
from ..report._plan import ExecutionPlan, ExecutionPlanner
from ._orders import TaskCallable, compile_orders, task_policies, validate_tasks
from ._runs import SchedulerRuns

if TYPE_CHECKING:
    from ._taskdata import TaskData

__all__ = ["DynamicScheduler", "TaskCallable"]


class DynamicScheduler(SchedulerRuns):
    """Runs a predeclared DAG: every task starts as soon as its own dependencies are done.

    Args:
        tasks: ``(task_id, callable)`` pairs. Pass functions, not coroutine objects.
        task_order: one `TaskOrder` per task to run, with its dependencies.
        task_data_refs: explicit `TaskData` per task id (values injected from upstream results).
        has_data_path: kept for compatibility.
        ignore_tail_task: ids whose completion ``execute()`` does not wait for; they are
            returned, possibly still running, in ``report.tail_tasks``.
        concurrency_context: a semaphore bounding how many tasks run at once.
        task_retries: extra attempts per task id after a failure (an int or a `Retry`).
        silence: kept for compatibility (astrum logs through the ``astrum`` logger).
        task_timeouts: seconds one attempt of a task may take, per task id.
        task_isolation: ``"thread"`` (default) or ``"process"`` per task id.
        failure_policy: ``"cancel"`` (stop at the first final failure) or ``"continue"``.
        deadline: seconds the whole run may take.
        clock: the clock to sleep and measure on (tests: `astrum.testing.FakeClock`).

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
        validate_tasks(tasks)
        check_failure_policy(failure_policy)
        check_deadline(deadline)
        check_clock(clock)
        task_policies(
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
        self._setup_runs()
        self.task_timeouts = {}
        self.task_isolation = {}
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
        """Raise `TaskOrderLoopError` if the task orders contain a cycle."""
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

    def _compile(self) -> Program:
        if self._program is not None:
            return self._program
        return compile_orders(self)
