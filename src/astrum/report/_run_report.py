"""Turn a finished `Run` into an `ExecutionReport`.

The report reads only the run's data (`RunData`): its counts
and summary are made at once, its per-task parts (`_Parts`) on first access.
"""

from __future__ import annotations

from .._errors import describe_exception
from ..core._graph import latest_chain
from ..core._program import CANCELLED, COMPLETED, CONTINUE, FAILED, TIMED_OUT
from ..core._run_data import RunData, attempt_rows
from ._instances import instance_counts, instance_exceptions, instance_statistics
from ._plan import build_plan, stage_statistics
from ._report import (
    ExecutionReport,
    TaskAttemptStatistics,
    TaskExecutionStatistics,
    TaskStageStatistics,
    _LazyParts,
)

__all__ = ["report_from_run"]

SKIPPED = "skipped"


def report_from_run(run: RunData, *, total_start: float, planning_duration: float) -> ExecutionReport:
    """Build the report of ``run``; per-task objects are created lazily on first access.

    Args:
        run: an executed run.
        total_start: epoch time at which ``execute()`` was entered.
        planning_duration: seconds spent validating and compiling before the run began.
    """
    program = run.program
    names = program.graph.names
    parts = _Parts(run)
    status = parts.status
    exceptions = {names[i]: e for i, e in run.exceptions.items()}
    instances = completed = failed = 0
    if run.mapped is not None:  # the instances of mapped tasks are reported like tasks
        instances, completed, failed = instance_counts(run, status)
        exceptions.update(instance_exceptions(run, status))
    return ExecutionReport(
        total_start_time=total_start,
        total_end_time=parts.end_epoch,
        total_duration=parts.end_epoch - total_start,
        planning_duration=planning_duration,
        execution_duration=run.perf_end - run.perf0,
        total_tasks=len(program.graph) + instances,
        total_stages=program.stage_count,
        max_parallelism=program.max_parallelism,
        successful_tasks=status.count(COMPLETED) + completed,
        failed_tasks=status.count(FAILED) + status.count(TIMED_OUT) + failed,
        execution_state="failed" if parts.failed_run else "completed",
        error_summary=_error_summary(run),
        tail_tasks={names[i]: t for i, t in run.tail_tasks.items()},
        exceptions=exceptions,
        run_id=run.run_id,
        _lazy=_LazyParts(
            parts.task_statistics,
            parts.stage_statistics,
            parts.original_tasks,
            parts.critical_path,
            lambda: run.results,
        ),
    )


def _error_summary(run: RunData) -> list[str]:
    """The run's summary lines, led by one naming its first failure (upstream's wording)."""
    program = run.program
    names = program.graph.names
    summary = list(run.error_summary)
    culprit = run.first_failure
    if culprit is not None:
        first = str(run.exceptions[culprit])  # upstream's line: the message alone
        if program.failure_policy == CONTINUE:
            summary.insert(0, f"Run finished with failures; first failed task '{names[culprit]}': {first}")
        else:
            summary.insert(0, f"Execution interrupted; task '{names[culprit]}' failed: {first}")
    elif run.tail_failure is not None:  # only tail tasks failed: the run went on
        tail = run.tail_failure
        summary.insert(
            0, f"Run finished with failures; first failed task '{names[tail]}': {run.exceptions[tail]}"
        )
    return summary


class _Parts:
    """The per-task parts of a report, each built when first read from what the run recorded."""

    def __init__(self, run: RunData) -> None:
        self.run = run
        tails = run.program.tails
        # Tail tasks may still finish after the report is made: freeze what it describes.
        self.status = status = list(run.status) if tails else run.status
        self.finished = list(run.finished) if tails else run.finished
        self.end_epoch = run.wall(run.perf_end)
        self.failed_run = run.failed
        # Tail tasks still running when the run returned are reported only through tail_tasks;
        # one that never began (a failed dependency, the run stopped first) is skipped like any task.
        self.unreported = {i for i, t in run.tail_tasks.items() if status[i] is None and not t.done()}
        self.culprit = culprit = run.first_failure
        self.culprit_name = run.program.graph.names[culprit] if culprit is not None else None

    def task_statistics(self) -> list[TaskExecutionStatistics]:
        """Tasks that ended, in the order they ended, then those that never started."""
        run = self.run
        program = run.program
        graph = program.graph
        names = graph.names
        status = self.status
        culprit_name = self.culprit_name
        failed_run = self.failed_run
        pools = program.pools
        wall = run.wall
        levels = graph.levels
        retries = program.retries
        outcomes = run.cache_outcomes or {}
        stats: list[TaskExecutionStatistics] = []
        append = stats.append
        mapped = run.mapped
        for i in self.finished:
            st = status[i]
            if mapped is not None and i in mapped:  # its instances, just before it
                spec = program.policies[i].fanout  # type: ignore[union-attr]
                pool = program.pool_names[spec.pool] if spec.pool >= 0 else None
                stats.extend(instance_statistics(run, mapped[i], levels[i], pool, culprit_name))
            start = wall(run.start_at[i])
            end = wall(run.end_at[i])
            exc = run.exceptions.get(i)
            rows = attempt_rows(run, i)
            attempts = [
                TaskAttemptStatistics(
                    task_name=names[i],
                    attempt_number=k,
                    max_retries=retries[i],
                    start_time=wall(a_start),
                    end_time=wall(a_end),
                    duration=a_end - a_start,
                    status=a_status,
                    error_message=(
                        str(a_exc)  # upstream's attempt message; the exception itself is kept too
                        if a_exc is not None
                        else ("Task cancelled" if a_status == CANCELLED else None)
                    ),
                    will_retry=k < len(rows) and a_status in (FAILED, TIMED_OUT),
                    exception=a_exc,
                    delay_before=a_delay,
                )
                for k, (a_start, a_end, a_status, a_exc, a_delay) in enumerate(rows, start=1)
            ]
            append(
                TaskExecutionStatistics(
                    task_name=names[i],
                    stage_id=levels[i],
                    start_time=start,
                    end_time=end,
                    duration=run.end_at[i] - run.start_at[i],
                    status=st or SKIPPED,
                    error_message=None if st == COMPLETED else self._end_message(i, st, exc),
                    retry=retries[i],
                    attempt_count=len(attempts),
                    attempt_statistics=attempts,
                    queued_duration=max(0.0, run.start_at[i] - run.ready_at[i]),
                    exception=exc,
                    caused_by=(
                        culprit_name
                        if st == CANCELLED
                        and failed_run
                        and not (run.deadline_hit and program.failure_policy == CONTINUE)
                        else None
                    ),
                    pool=program.pool_names[pools[i]] if pools is not None and pools[i] >= 0 else None,
                    pool_queued_duration=run.pool_wait.get(i, 0.0),
                    cache=outcomes.get(i) if outcomes else None,
                )
            )
        self._add_skipped(stats)
        return stats

    def _end_message(self, i: int, st: str | None, exc: BaseException | None) -> str | None:
        """The error message of task ``i``, which ended failed, timed out or cancelled."""
        run = self.run
        if st in (FAILED, TIMED_OUT):
            return describe_exception(exc) if exc is not None else None
        if st == CANCELLED and i in run.abandoned:
            return (
                "Task cancelled: the run deadline passed; its worker thread could not be stopped "
                "and runs on, its late result is discarded"
            )
        if (
            st == CANCELLED
            and run.deadline_hit
            and (self.culprit is None or run.program.failure_policy == CONTINUE)
        ):
            return "Task cancelled: the run deadline passed"
        if st == CANCELLED:
            return "Task cancelled due to previous failure" if self.failed_run else "Task cancelled"
        return None

    def _add_skipped(self, stats: list[TaskExecutionStatistics]) -> None:
        """Append the statistics of the tasks that never started, each with why."""
        run = self.run
        graph = run.program.graph
        names = graph.names
        levels = graph.levels
        retries = run.program.retries
        end_epoch = self.end_epoch
        unreported = self.unreported
        skip_cause = run.skip_cause
        for i, st in enumerate(self.status):
            if st is None and i not in unreported:
                cause = names[skip_cause[i]] if i in skip_cause else self.culprit_name
                if cause:
                    skip_message = f"Skipped: task '{cause}' failed before this task could start"
                elif run.deadline_hit:
                    skip_message = "Skipped: the run deadline passed before this task could start"
                else:
                    skip_message = "Skipped: the run stopped before this task could start"
                stats.append(
                    TaskExecutionStatistics(
                        task_name=names[i],
                        stage_id=levels[i],
                        start_time=end_epoch,
                        end_time=end_epoch,
                        duration=0.0,
                        status=SKIPPED,
                        error_message=skip_message,
                        retry=retries[i],
                        caused_by=cause,
                    )
                )

    def stage_statistics(self) -> list[TaskStageStatistics]:
        """Per stage of the stage view that any task started in: its span and members."""
        run = self.run
        graph = run.program.graph
        index = graph.index
        status = self.status

        def span(name: str) -> tuple[float, float] | None:
            i = index[name]
            return None if status[i] is None else (run.start_at[i], run.end_at[i])

        return stage_statistics(build_plan(graph).stages, span, run.wall)

    def original_tasks(self) -> dict[str, list[str]]:
        """Each task's dependencies by name."""
        graph = self.run.program.graph
        names = graph.names
        return {name: [names[p] for p in parents] for name, parents in zip(names, graph.parents, strict=True)}

    def critical_path(self) -> list[str]:
        """From the task that ended last, back through the dependency that ended last each time."""
        status = self.status
        unreported = self.unreported
        ended = [i for i in self.finished if status[i] is not None and i not in unreported]
        if not ended:
            return []
        end_of = self.run.end_at.__getitem__
        return latest_chain(self.run.program.graph, max(ended, key=end_of), end_of)
