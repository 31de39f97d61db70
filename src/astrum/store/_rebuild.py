"""Rebuild an `ExecutionReport` from the records of a stored run.

Everything a report holds is rebuilt, except what no record keeps: the original exception
objects (a `StoredTaskError` stands in for each, with the type name, message and
traceback text), the planning time (``0.0``) and the retry limits (taken as the number of
attempts that ran, minus one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import SchedulerError, TaskDependencyError, TaskOrderLoopError
from ..core._graph import Graph, compile_graph, latest_chain
from ..report._plan import build_plan, stage_statistics
from ..report._report import (
    ExecutionReport,
    TaskAttemptStatistics,
    TaskExecutionStatistics,
)
from ._base import AttemptRecord, RunRecord, TaskRecord

__all__ = ["StoredTaskError", "rebuild_report"]

_FAILED = ("failed", "timed_out")


class StoredTaskError(SchedulerError):
    """Stands in for the exception of a stored failed task or attempt, which was not kept itself.

    Found in reports rebuilt from a run store (never raised by astrum). ``str()`` is the
    original ``str(exc)``.

    Attributes:
        type_name: qualified name of the original exception's type.
        message: ``str()`` of the original exception.
        traceback: the formatted traceback text, if it was recorded.
    """

    def __init__(self, type_name: str | None, message: str | None, traceback: str | None = None) -> None:
        self.type_name = type_name or "Exception"
        self.message = message or ""
        self.traceback = traceback
        super().__init__(self.message)

    def describe(self) -> str:
        """``"TypeName: message"`` like the live report's task statistics."""
        short = self.type_name.rpartition(".")[2]
        return f"{short}: {self.message}" if self.message else short


def _graph(run: RunRecord, tasks: Sequence[TaskRecord]) -> Graph:
    names = list(run.tasks)
    known = set(names)
    names.extend(dict.fromkeys(t.task_id for t in tasks if t.task_id not in known))
    entries: list[tuple[str, list[str]]] = []
    for name in names:
        shape = run.tasks.get(name)
        deps: dict[str, None] = {}
        if shape is not None:
            deps.update((dep, None) for dep in shape.depends_on if dep in known)
            deps.update((source, None) for _, source, _ in shape.inputs if source in known)
        entries.append((name, list(deps)))
    try:
        return compile_graph(entries)
    except (TaskDependencyError, TaskOrderLoopError):  # records that no real run writes
        return compile_graph((name, ()) for name in names)


def rebuild_report(
    run_id: str,
    run: RunRecord,
    *,
    state: str,
    end_time: float | None,
    tasks: Sequence[TaskRecord],
    attempts: Mapping[str, Sequence[AttemptRecord]],
    results: dict[str, Any],
) -> ExecutionReport:
    """The report of a stored run.

    Args:
        run_id: the run's id, set as ``report.run_id`` (``resumed_from`` and ``reused_tasks``
            come from ``run``).
        run: the run's start record.
        state: the run's state as presented (``interrupted`` for a run whose process is gone).
        end_time: when the run finished; ``None`` while running or if interrupted.
        tasks: the task records in the order they were recorded.
        attempts: the attempt records of each task, in attempt order.
        results: the decoded results of completed tasks, in record order.
    """
    graph = _graph(run, tasks)
    names, levels = graph.names, graph.levels
    ends = [t.end_time for t in tasks if t.end_time is not None]
    ends += [a.end_time for rows in attempts.values() for a in rows]
    finish = end_time if end_time is not None else max(ends, default=run.start_time)
    exceptions: dict[str, BaseException] = {}
    stats: list[TaskExecutionStatistics] = []
    for record in tasks:
        rows = attempts.get(record.task_id, ())
        stat = _task_statistics(record, rows, levels[graph.index[record.task_id]], finish)
        if stat.exception is not None:
            exceptions[record.task_id] = stat.exception
        stats.append(stat)
    recorded = {t.task_id for t in tasks}
    if state in ("running", "interrupted"):
        not_started = (
            f"Not started: the run {'is still running' if state == 'running' else 'was interrupted'}"
        )
    else:
        not_started = "Skipped: the run stopped before this task could start"
    stats.extend(
        TaskExecutionStatistics(
            task_name=name,
            stage_id=levels[i],
            start_time=finish,
            end_time=finish,
            duration=0.0,
            status="skipped",
            error_message=not_started,
        )
        for i, name in enumerate(names)
        if name not in recorded
    )
    plan = build_plan(graph)
    ran = {t.task_id for t in tasks if t.start_time is not None and t.status != "skipped"}
    by_name = {stat.task_name: stat for stat in stats if stat.task_name in ran}
    return ExecutionReport(
        total_start_time=run.start_time,
        total_end_time=finish,
        total_duration=finish - run.start_time,
        planning_duration=0.0,
        execution_duration=finish - run.start_time,
        total_tasks=len(graph),
        total_stages=len(plan.stages),
        max_parallelism=plan.max_parallelism,
        successful_tasks=sum(1 for t in tasks if t.status == "completed"),
        failed_tasks=sum(1 for t in tasks if t.status in _FAILED),
        stage_statistics=stage_statistics(plan.stages, lambda name: _span(by_name.get(name))),
        task_statistics=stats,
        execution_state=state,
        error_summary=_error_summary(run, state, tasks, len(graph) - len(recorded)),
        original_tasks={
            name: [names[p] for p in parents] for name, parents in zip(names, graph.parents, strict=True)
        },
        task_return_set=results,
        exceptions=exceptions,
        critical_path=_critical_path(graph, by_name),
        run_id=run_id,
        resumed_from=run.resumed_from,
        reused_tasks=run.reused,
    )


def _task_statistics(
    record: TaskRecord, rows: Sequence[AttemptRecord], stage_id: int, finish: float
) -> TaskExecutionStatistics:
    retry = max(len(rows) - 1, 0)
    attempts = [
        TaskAttemptStatistics(
            task_name=record.task_id,
            attempt_number=row.attempt,
            max_retries=retry,
            start_time=row.start_time,
            end_time=row.end_time,
            duration=row.end_time - row.start_time,
            status=row.status,
            error_message=(
                row.error_message
                if row.error_message is not None or row.status != "cancelled"
                else "Task cancelled"
            ),
            will_retry=k < len(rows) and row.status in _FAILED,
            exception=(
                StoredTaskError(row.error_type, row.error_message, row.traceback)
                if row.status in _FAILED
                else None
            ),
            delay_before=row.delay_before,
        )
        for k, row in enumerate(rows, start=1)
    ]
    exception: StoredTaskError | None = None
    if record.status in _FAILED:
        exception = StoredTaskError(record.error_type, record.error_message, record.traceback)
        message: str | None = exception.describe()
    elif record.status == "cancelled":
        message = record.error_message or "Task cancelled"
    elif record.status == "skipped":
        message = record.error_message or "Skipped: the run stopped before this task could start"
    else:
        message = record.error_message
    end = record.end_time if record.end_time is not None else finish
    start = record.start_time if record.start_time is not None else end
    return TaskExecutionStatistics(
        task_name=record.task_id,
        stage_id=stage_id,
        start_time=start,
        end_time=end,
        duration=end - start,
        status=record.status,
        error_message=message,
        retry=retry,
        attempt_count=len(attempts),
        attempt_statistics=attempts,
        queued_duration=record.queued_duration,
        exception=exception,
        caused_by=record.caused_by,
        pool_queued_duration=record.pool_queued_duration,
        cache=record.cache,
    )


def _error_summary(run: RunRecord, state: str, tasks: Sequence[TaskRecord], missing: int) -> list[str]:
    """Upstream's lines for each failed task, led by the line naming the first failure."""
    failed = [t for t in tasks if t.status in _FAILED]
    summary = [f"Task '{t.task_id}' failed during execution: {t.error_message or ''}" for t in failed]
    if failed and state != "completed":
        first = failed[0]
        if run.config.get("failure_policy") == "continue":
            describe = StoredTaskError(first.error_type, first.error_message).describe()
            summary.insert(0, f"Run finished with failures; first failed task '{first.task_id}': {describe}")
        else:
            summary.insert(
                0, f"Execution interrupted; task '{first.task_id}' failed: {first.error_message or ''}"
            )
    if state == "interrupted":
        summary.append(
            f"Run interrupted: the process running it ended before the run finished; "
            f"{missing} task(s) had not finished."
        )
    return summary


def _span(stat: TaskExecutionStatistics | None) -> tuple[float, float] | None:
    return None if stat is None else (stat.start_time, stat.end_time)


def _critical_path(graph: Graph, by_name: Mapping[str, TaskExecutionStatistics]) -> list[str]:
    """From the task that finished last, step to the dependency that finished last, and so on."""
    if not by_name:
        return []
    names = graph.names
    index = graph.index

    def end_of(i: int) -> float:
        stat = by_name.get(names[i])
        return stat.end_time if stat is not None else float("-inf")

    return latest_chain(graph, index[max(by_name.values(), key=lambda stat: stat.end_time).task_name], end_of)
