"""The instances of mapped tasks in a run's report: their statistics, counts and exceptions.

Each instance (``embed_chunk[3]``) is reported like a task, just before its mapped task: in
``task_statistics`` (its attempts, times, status, pool wait), ``results``, ``exceptions`` and
the counts. A run without mapped tasks never comes here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .._errors import describe_exception
from ..core._program import CANCELLED, COMPLETED, FAILED, TIMED_OUT
from ._report import TaskAttemptStatistics, TaskExecutionStatistics

if TYPE_CHECKING:
    from ..core._map_records import InstanceRecords
    from ..core._run_data import RunData

__all__ = ["instance_counts", "instance_exceptions", "instance_statistics"]


def _reported(run: RunData, status: Sequence[str | None]) -> Mapping[int, InstanceRecords]:
    """The instance records of the mapped tasks that ended (a tail task still running has none yet)."""
    mapped = run.mapped or {}
    return {i: rec for i, rec in mapped.items() if status[i] is not None}


def instance_counts(run: RunData, status: Sequence[str | None]) -> tuple[int, int, int]:
    """``(instances, completed, failed or timed out)`` over every mapped task that ended."""
    total = completed = failed = 0
    for rec in _reported(run, status).values():
        total += rec.n
        completed += rec.count(COMPLETED)
        failed += rec.count(FAILED) + rec.count(TIMED_OUT)
    return total, completed, failed


def instance_exceptions(run: RunData, status: Sequence[str | None]) -> dict[str, BaseException]:
    """``{instance name: exception}`` of the failed instances."""
    return {
        rec.name(k): exc
        for rec in _reported(run, status).values()
        for k, exc in sorted(rec.exceptions.items())
    }


def instance_statistics(
    run: RunData, rec: InstanceRecords, stage: int, pool: str | None, caused_by: str | None
) -> list[TaskExecutionStatistics]:
    """The statistics of ``rec``'s instances, in the order they ended.

    ``stage`` and ``pool`` are the mapped task's; ``caused_by`` names the failed task that
    stopped the run (for cancelled instances).
    """
    wall = run.wall
    retries = rec.retries
    out: list[TaskExecutionStatistics] = []
    for k in rec.finished:
        st = rec.status[k]
        name = rec.name(k)
        rows = rec.attempt_rows(k)
        attempts = [
            TaskAttemptStatistics(
                task_name=name,
                attempt_number=n,
                max_retries=retries,
                start_time=wall(a_start),
                end_time=wall(a_end),
                duration=a_end - a_start,
                status=a_status,
                error_message=(
                    str(a_exc) if a_exc is not None else ("Task cancelled" if a_status == CANCELLED else None)
                ),
                will_retry=n < len(rows) and a_status in (FAILED, TIMED_OUT),
                exception=a_exc,
                delay_before=a_delay,
            )
            for n, (a_start, a_end, a_status, a_exc, a_delay) in enumerate(rows, start=1)
        ]
        exc = rec.exceptions.get(k)
        out.append(
            TaskExecutionStatistics(
                task_name=name,
                stage_id=stage,
                start_time=wall(rec.start_at[k]),
                end_time=wall(rec.end_at[k]),
                duration=rec.end_at[k] - rec.start_at[k],
                status=st or CANCELLED,
                error_message=None if st == COMPLETED else _end_message(run, st, exc),
                retry=retries,
                attempt_count=len(attempts),
                attempt_statistics=attempts,
                queued_duration=max(0.0, rec.start_at[k] - rec.ready_at),
                exception=exc,
                caused_by=caused_by if st == CANCELLED else None,
                pool=pool,
                pool_queued_duration=rec.pool_wait.get(k, 0.0),
            )
        )
    return out


def _end_message(run: RunData, st: str | None, exc: BaseException | None) -> str | None:
    if st in (FAILED, TIMED_OUT):
        return describe_exception(exc) if exc is not None else None
    if run.deadline_hit:
        return "Task cancelled: the run deadline passed"
    return "Task cancelled due to previous failure" if run.failed else "Task cancelled"
