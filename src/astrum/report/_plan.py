"""The stage view of a DAG: Astrum 0.1's execution plan, kept for inspection.

Execution never waits on stages (the engine starts each task when its own
dependencies are done); stages only describe the graph level by level: stage
*k* starts the tasks whose longest dependency chain has length *k*.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .._errors import TaskOrderNoExitError
from ..core._graph import Graph, TaskOrder, compile_graph, order_entries
from ._report import TaskStageStatistics

__all__ = [
    "ExecutionPlan",
    "ExecutionPlanner",
    "ExecutionStage",
    "build_plan",
    "graph_from_orders",
    "stage_parallelism",
    "stage_statistics",
]


@dataclass(frozen=True)
class ExecutionStage:
    """One level of the DAG.

    ``start_tasks`` are the tasks of this level (in task order), ``wait_for_tasks``
    their direct dependencies, ``parallel_tasks`` the tasks that may be running
    together at this level (earlier tasks not yet waited for, then ``start_tasks``).
    """

    stage_id: int
    parallel_tasks: list[str]
    wait_for_tasks: list[str]
    start_tasks: list[str]


@dataclass
class ExecutionPlan:
    """All stages of a DAG plus summary figures."""

    stages: list[ExecutionStage]
    total_tasks: int
    max_parallelism: int
    original_tasks: list[TaskOrder] = field(default_factory=list)

    def set_original_tasks(self, tasks: Sequence[TaskOrder]) -> None:
        """Remember the task orders this plan was made from (for `get_dependency_graph_info`)."""
        self.original_tasks = list(tasks)

    def get_dependency_graph_info(self) -> str:
        """One line per task: ``- name: depends on a, b`` (or ``none``)."""
        if not self.original_tasks:
            return "No task dependency information."
        lines = ["Task dependency graph:"]
        for order in self.original_tasks:
            deps = order.dependency_names()
            lines.append(f"- {order.task_name}: depends on {', '.join(deps) if deps else 'none'}")
        return "\n".join(lines)

    def get_visualization_table(self) -> str:
        """One line per stage with its start, wait and parallel task lists."""
        if not self.stages:
            return "No execution stages."
        lines = [f"Execution plan ({len(self.stages)} stages):"]
        for stage in self.stages:
            lines.append(
                f"- stage {stage.stage_id}: start={stage.start_tasks!r}, "
                f"wait={stage.wait_for_tasks!r}, parallel={stage.parallel_tasks!r}"
            )
        return "\n".join(lines)

    def get_full_visualization(self) -> str:
        """The dependency lines and the stage table, separated by a blank line."""
        return f"{self.get_dependency_graph_info()}\n\n{self.get_visualization_table()}"


def graph_from_orders(orders: Sequence[TaskOrder]) -> Graph:
    """Validate task orders and compile them (see `astrum.core._graph.compile_graph`)."""
    return compile_graph(order_entries(orders))


def _wait_levels(graph: Graph) -> list[int]:
    """For each task, the first stage that waits for it (``-1``: no stage does)."""
    levels = graph.levels
    waited = [-1] * len(graph)
    for level, parents in zip(levels, graph.parents, strict=True):
        for p in parents:
            w = waited[p]
            if w < 0 or level < w:
                waited[p] = level
    return waited


def stage_parallelism(graph: Graph) -> tuple[int, int]:
    """``(number of stages, max parallelism)`` without materialising the stages, in O(V + E)."""
    if not len(graph):
        return 0, 0
    stage_count = max(graph.levels) + 1
    delta = [0] * (stage_count + 1)
    for level, waited in zip(graph.levels, _wait_levels(graph), strict=True):
        # running at its own stage, and at every later stage before the one that waits for it
        end = stage_count if waited < 0 else waited
        delta[level] += 1
        delta[end] -= 1
    running = peak = 0
    for k in range(stage_count):
        running += delta[k]
        peak = max(peak, running)
    return stage_count, peak


def build_plan(graph: Graph) -> ExecutionPlan:
    """Materialise every stage of ``graph`` (deterministic, independent of hashing)."""
    n = len(graph)
    if not n:
        return ExecutionPlan(stages=[], total_tasks=0, max_parallelism=0)
    names = graph.names
    levels = graph.levels
    stage_count = max(levels) + 1
    by_level: list[list[int]] = [[] for _ in range(stage_count)]
    for i in range(n):
        by_level[levels[i]].append(i)
    waited = _wait_levels(graph)
    retire_at: list[list[int]] = [[] for _ in range(stage_count + 1)]
    for i, w in enumerate(waited):
        if w >= 0:
            retire_at[w].append(i)
    running: dict[int, None] = {}
    stages: list[ExecutionStage] = []
    peak = 0
    for k in range(stage_count):
        for i in retire_at[k]:
            running.pop(i, None)
        starts = by_level[k]
        wait: dict[int, None] = {}
        for i in starts:
            for p in graph.parents[i]:
                wait[p] = None
        parallel = [names[i] for i in running] + [names[i] for i in starts]
        peak = max(peak, len(parallel))
        stages.append(
            ExecutionStage(
                stage_id=k,
                parallel_tasks=parallel,
                wait_for_tasks=[names[i] for i in wait],
                start_tasks=[names[i] for i in starts],
            )
        )
        for i in starts:
            running[i] = None
    return ExecutionPlan(stages=stages, total_tasks=n, max_parallelism=peak)


class ExecutionPlanner:
    """Validates task orders and computes their stage view."""

    def __init__(self, task_order: Sequence[TaskOrder]) -> None:
        self.task_order = list(task_order)

    def validate(self) -> None:
        """Raise on duplicate names, unknown dependencies or cycles.

        Raises:
            TaskDependencyError: duplicate names or unknown dependencies.
            TaskOrderLoopError: a cycle; the message shows it (``a -> b -> a``).
        """
        graph_from_orders(self.task_order)

    def detect_cycle(self) -> None:
        """Raise `TaskOrderLoopError` if the orders contain a cycle."""
        graph_from_orders(self.task_order)

    def get_execute_timeline(self) -> ExecutionPlan:
        """Validate and return the stage plan.

        Raises:
            TaskOrderNoExitError: the orders are not empty but no task is free of dependencies.
        """
        if self.task_order and all(order.dependencies for order in self.task_order):
            graph_from_orders(self.task_order)  # a cycle is the more precise error
            raise TaskOrderNoExitError("Task order has no entry point; every task depends on another task.")
        plan = build_plan(graph_from_orders(self.task_order))
        plan.set_original_tasks(self.task_order)
        return plan


def stage_statistics(
    stages: Sequence[ExecutionStage],
    span: Callable[[str], tuple[float, float] | None],
    wall: Callable[[float], float] = float,
) -> list[TaskStageStatistics]:
    """Per stage that any task started in: its members and its span, from ``span(task)`` (the
    start and end of a task that started, ``None`` for one that did not) turned into epoch
    seconds by ``wall``."""
    out: list[TaskStageStatistics] = []
    for stage in stages:
        spans = [s for s in map(span, stage.start_tasks) if s is not None]
        if not spans:
            continue
        start = min(s[0] for s in spans)
        end = max(s[1] for s in spans)
        out.append(
            TaskStageStatistics(
                stage_id=stage.stage_id,
                stage_name=f"Stage_{stage.stage_id}",
                start_time=wall(start),
                end_time=wall(end),
                duration=end - start,
                parallel_task_count=len(stage.parallel_tasks),
                wait_task_count=len(stage.wait_for_tasks),
                parallel_tasks=stage.parallel_tasks,
                wait_tasks=stage.wait_for_tasks,
            )
        )
    return out
