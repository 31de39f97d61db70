"""Turn a finished :class:`~astrum.core._engine.Run` into an :class:`~astrum.ExecutionReport`."""

from __future__ import annotations

from .._errors import describe_exception
from ..core._engine import Run, attempt_rows
from ..core._program import CANCELLED, COMPLETED, CONTINUE, FAILED, TIMED_OUT
from ._plan import build_plan
from ._report import (
    ExecutionReport,
    TaskAttemptStatistics,
    TaskExecutionStatistics,
    TaskStageStatistics,
    _LazyParts,
)

__all__ = ["report_from_run"]

SKIPPED = "skipped"


def report_from_run(run: Run, *, total_start: float, planning_duration: float) -> ExecutionReport:
    """Build the report of ``run``; per-task objects are created lazily on first access.

    Args:
        run: an executed run.
        total_start: epoch time at which ``execute()`` was entered.
        planning_duration: seconds spent validating and compiling before the run began.
    """
    program = run.program
    graph = program.graph
    names = graph.names
    tails = program.tails
    # Tail tasks may still finish after the report is made: freeze what it describes.
    status = list(run.status) if tails else run.status
    finished = list(run.finished) if tails else run.finished
    successful = status.count(COMPLETED)
    failed = status.count(FAILED) + status.count(TIMED_OUT)
    end_epoch = run.wall(run.perf_end)
    failed_run = run.failed
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
    # Tail tasks still running when the run returned are reported only through tail_tasks;
    # one that never began (a failed dependency, the run stopped first) is skipped like any task.
    unreported = {i for i, t in run.tail_tasks.items() if status[i] is None and not t.done()}
    culprit_name = names[culprit] if culprit is not None else None

    pools = program.pools

    def pool_of(i: int) -> str | None:
        return program.pool_names[pools[i]] if pools is not None and pools[i] >= 0 else None

    def task_statistics() -> list[TaskExecutionStatistics]:
        wall = run.wall
        levels = graph.levels
        retries = program.retries
        stats: list[TaskExecutionStatistics] = []
        append = stats.append
        for i in finished:
            st = status[i]
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
            if st in (FAILED, TIMED_OUT):
                message: str | None = describe_exception(exc) if exc is not None else None
            elif st == CANCELLED and i in run.abandoned:
                message = (
                    "Task cancelled: the run deadline passed; its worker thread could not be stopped "
                    "and runs on, its late result is discarded"
                )
            elif (
                st == CANCELLED
                and run.deadline_hit
                and (culprit is None or program.failure_policy == CONTINUE)
            ):
                message = "Task cancelled: the run deadline passed"
            elif st == CANCELLED:
                message = "Task cancelled due to previous failure" if failed_run else "Task cancelled"
            else:
                message = None
            append(
                TaskExecutionStatistics(
                    task_name=names[i],
                    stage_id=levels[i],
                    start_time=start,
                    end_time=end,
                    duration=run.end_at[i] - run.start_at[i],
                    status=st or SKIPPED,
                    error_message=message,
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
                    pool=pool_of(i),
                    pool_queued_duration=run.pool_wait.get(i, 0.0),
                )
            )
        skip_cause = run.skip_cause
        for i, st in enumerate(status):
            if st is None and i not in unreported:
                cause = names[skip_cause[i]] if i in skip_cause else culprit_name
                if cause:
                    skip_message = f"Skipped: task '{cause}' failed before this task could start"
                elif run.deadline_hit:
                    skip_message = "Skipped: the run deadline passed before this task could start"
                else:
                    skip_message = "Skipped: the run stopped before this task could start"
                append(
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
        return stats

    def stage_statistics() -> list[TaskStageStatistics]:
        plan = build_plan(graph)
        wall = run.wall
        out: list[TaskStageStatistics] = []
        for stage in plan.stages:
            members = [graph.index[name] for name in stage.start_tasks]
            started = [i for i in members if status[i] is not None]
            if not started:
                continue
            start = min(run.start_at[i] for i in started)
            end = max(run.end_at[i] for i in started)
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

    def original_tasks() -> dict[str, list[str]]:
        return {name: [names[p] for p in parents] for name, parents in zip(names, graph.parents, strict=True)}

    def critical_path() -> list[str]:
        ended = [i for i in finished if status[i] is not None and i not in unreported]
        if not ended:
            return []
        end_at = run.end_at
        node = max(ended, key=end_at.__getitem__)
        path = [node]
        while graph.parents[node]:
            node = max(graph.parents[node], key=end_at.__getitem__)
            path.append(node)
        path.reverse()
        return [names[i] for i in path]

    state = "failed" if failed_run else "completed"
    return ExecutionReport(
        total_start_time=total_start,
        total_end_time=end_epoch,
        total_duration=end_epoch - total_start,
        planning_duration=planning_duration,
        execution_duration=run.perf_end - run.perf0,
        total_tasks=len(graph),
        total_stages=program.stage_count,
        max_parallelism=program.max_parallelism,
        successful_tasks=successful,
        failed_tasks=failed,
        execution_state=state,
        error_summary=summary,
        tail_tasks={names[i]: t for i, t in run.tail_tasks.items()},
        exceptions={names[i]: e for i, e in run.exceptions.items()},
        run_id=run.run_id,
        _lazy=_LazyParts(
            task_statistics, stage_statistics, original_tasks, critical_path, lambda: run.results
        ),
    )
