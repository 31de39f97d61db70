"""Execution reports: per-attempt, per-task and per-stage statistics, and the run report.

Reports are built from a compact run record; per-task statistics objects are
only created when first read, so a run of a million tasks pays for them only
if somebody looks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from ._errors import describe_exception

__all__ = [
    "ExecutionReport",
    "TaskAttemptStatistics",
    "TaskExecutionStatistics",
    "TaskStageStatistics",
    "to_json_safe",
]


@dataclass(frozen=True)
class TaskStageStatistics:
    """Timing of one stage of the stage view: from its first task start to its last task end."""

    stage_id: int
    stage_name: str
    start_time: float
    end_time: float
    duration: float
    parallel_task_count: int
    wait_task_count: int
    parallel_tasks: list[str]
    wait_tasks: list[str]


@dataclass(frozen=True)
class TaskAttemptStatistics:
    """One attempt of one task. ``attempt_number`` counts from 1.

    ``delay_before`` is the backoff delay waited between the previous attempt and this one.
    """

    task_name: str
    attempt_number: int
    max_retries: int
    start_time: float
    end_time: float
    duration: float
    status: str
    error_message: str | None = None
    will_retry: bool = False
    exception: BaseException | None = None
    delay_before: float = 0.0


@dataclass(frozen=True)
class TaskExecutionStatistics:
    """The outcome of one task.

    ``start_time``/``end_time`` bound the task's run (slot waiting excluded);
    ``queued_duration`` is the time it was ready but waited for a concurrency
    slot, ``pool_queued_duration`` the part of it spent waiting for its named ``pool``. ``exception`` is the original exception of a failed task;
    ``caused_by`` names the failed task that stopped a cancelled or skipped one.
    """

    task_name: str
    stage_id: int
    start_time: float
    end_time: float
    duration: float
    status: str
    error_message: str | None = None
    retry: int = 0
    attempt_count: int = 0
    attempt_statistics: list[TaskAttemptStatistics] = field(default_factory=list)
    queued_duration: float = 0.0
    exception: BaseException | None = None
    caused_by: str | None = None
    pool: str | None = None
    pool_queued_duration: float = 0.0


class ExecutionReport:
    """The structured result of one run (``scheduler.execute()`` or ``run()``).

    Besides Astrum 0.1's fields it offers :attr:`results` (task id -> return
    value), :attr:`exceptions` (task id -> original exception),
    :attr:`critical_path`, :meth:`to_dict` and :meth:`to_json`.
    """

    def __init__(
        self,
        total_start_time: float = 0.0,
        total_end_time: float = 0.0,
        total_duration: float = 0.0,
        planning_duration: float = 0.0,
        execution_duration: float = 0.0,
        total_tasks: int = 0,
        total_stages: int = 0,
        max_parallelism: int = 0,
        successful_tasks: int = 0,
        failed_tasks: int = 0,
        stage_statistics: list[TaskStageStatistics] | None = None,
        task_statistics: list[TaskExecutionStatistics] | None = None,
        execution_state: str = "none",
        error_summary: list[str] | None = None,
        original_tasks: dict[str, list[str]] | None = None,
        tail_tasks: dict[str, Any] | None = None,
        task_return_set: dict[str, Any] | None = None,
        *,
        exceptions: dict[str, BaseException] | None = None,
        critical_path: list[str] | None = None,
        _lazy: _LazyParts | None = None,
    ) -> None:
        self.total_start_time = total_start_time
        self.total_end_time = total_end_time
        self.total_duration = total_duration
        self.planning_duration = planning_duration
        self.execution_duration = execution_duration
        self.total_tasks = total_tasks
        self.total_stages = total_stages
        self.max_parallelism = max_parallelism
        self.successful_tasks = successful_tasks
        self.failed_tasks = failed_tasks
        self.execution_state = execution_state
        self.error_summary = error_summary if error_summary is not None else []
        self.tail_tasks = tail_tasks if tail_tasks is not None else {}
        self._task_return_set = task_return_set
        self.exceptions = exceptions if exceptions is not None else {}
        self._original_tasks = original_tasks
        self._stage_statistics = stage_statistics
        self._task_statistics = task_statistics
        self._critical_path = critical_path
        self._lazy = _lazy

    # -- lazily built parts -------------------------------------------------------------

    @property
    def task_statistics(self) -> list[TaskExecutionStatistics]:
        """Per-task statistics, in the order the tasks finished (skipped tasks last)."""
        if self._task_statistics is None:
            self._task_statistics = self._lazy.task_statistics() if self._lazy else []
        return self._task_statistics

    @task_statistics.setter
    def task_statistics(self, value: list[TaskExecutionStatistics]) -> None:
        self._task_statistics = value

    @property
    def stage_statistics(self) -> list[TaskStageStatistics]:
        """Timing of each stage of the stage view that had a task start."""
        if self._stage_statistics is None:
            self._stage_statistics = self._lazy.stage_statistics() if self._lazy else []
        return self._stage_statistics

    @stage_statistics.setter
    def stage_statistics(self, value: list[TaskStageStatistics]) -> None:
        self._stage_statistics = value

    @property
    def original_tasks(self) -> dict[str, list[str]]:
        """``{task: [dependency names]}`` for every task of the run."""
        if self._original_tasks is None:
            self._original_tasks = self._lazy.original_tasks() if self._lazy else {}
        return self._original_tasks

    @original_tasks.setter
    def original_tasks(self, value: dict[str, list[str]]) -> None:
        self._original_tasks = value

    @property
    def critical_path(self) -> list[str]:
        """The chain of tasks that determined the makespan, first task first.

        Starting from the task that finished last, each step goes to the
        dependency that finished last, i.e. the one that released it.
        """
        if self._critical_path is None:
            self._critical_path = self._lazy.critical_path() if self._lazy else []
        return self._critical_path

    @property
    def task_return_set(self) -> dict[str, Any]:
        """``{task: return value}`` of every completed task, in completion order.

        Made when first read; tail tasks that finish after the report are added to it.
        """
        if self._task_return_set is None:
            self._task_return_set = self._lazy.results() if self._lazy else {}
        return self._task_return_set

    @task_return_set.setter
    def task_return_set(self, value: dict[str, Any]) -> None:
        self._task_return_set = value

    @property
    def results(self) -> dict[str, Any]:
        """Return value of every completed task (the same dict as ``task_return_set``)."""
        return self.task_return_set

    # -- Astrum 0.1 helpers ----------------------------------------------------------

    def get_task_statistics_by_stage(self, stage_id: int) -> list[TaskExecutionStatistics]:
        """The statistics of the tasks whose stage is ``stage_id``."""
        return [stat for stat in self.task_statistics if stat.stage_id == stage_id]

    def get_longest_task(self) -> TaskExecutionStatistics | None:
        """The task with the longest duration, or ``None`` if no task ran."""
        stats = self.task_statistics
        return max(stats, key=lambda stat: stat.duration) if stats else None

    def get_average_task_duration(self) -> float:
        """Mean task duration in seconds (``0.0`` if no task ran)."""
        stats = self.task_statistics
        return sum(stat.duration for stat in stats) / len(stats) if stats else 0.0

    # -- export ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the whole report; values JSON cannot hold appear as their ``repr``."""
        return {
            "execution_state": self.execution_state,
            "total_start_time": self.total_start_time,
            "total_end_time": self.total_end_time,
            "total_duration": self.total_duration,
            "planning_duration": self.planning_duration,
            "execution_duration": self.execution_duration,
            "total_tasks": self.total_tasks,
            "total_stages": self.total_stages,
            "max_parallelism": self.max_parallelism,
            "successful_tasks": self.successful_tasks,
            "failed_tasks": self.failed_tasks,
            "error_summary": list(self.error_summary),
            "critical_path": list(self.critical_path),
            "original_tasks": {k: list(v) for k, v in self.original_tasks.items()},
            "tail_tasks": sorted(self.tail_tasks),
            "results": to_json_safe(self.task_return_set),
            "task_statistics": [_stat_to_dict(stat) for stat in self.task_statistics],
            "stage_statistics": [to_json_safe(stat) for stat in self.stage_statistics],
        }

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` serialised with :func:`json.dumps` (``kwargs`` are passed on)."""
        return json.dumps(self.to_dict(), **kwargs)

    def __repr__(self) -> str:
        return (
            f"ExecutionReport(execution_state={self.execution_state!r}, total_tasks={self.total_tasks}, "
            f"successful_tasks={self.successful_tasks}, failed_tasks={self.failed_tasks}, "
            f"total_duration={self.total_duration:.6f})"
        )


class _LazyParts:
    """Deferred builders for the expensive parts of a report."""

    def __init__(
        self,
        task_statistics: Callable[[], list[TaskExecutionStatistics]],
        stage_statistics: Callable[[], list[TaskStageStatistics]],
        original_tasks: Callable[[], dict[str, list[str]]],
        critical_path: Callable[[], list[str]],
        results: Callable[[], dict[str, Any]],
    ) -> None:
        self.task_statistics = task_statistics
        self.stage_statistics = stage_statistics
        self.original_tasks = original_tasks
        self.critical_path = critical_path
        self.results = results


def _stat_to_dict(stat: TaskExecutionStatistics) -> dict[str, Any]:
    data: dict[str, Any] = {
        name: getattr(stat, name)
        for name in (
            "task_name", "stage_id", "start_time", "end_time", "duration", "status", "error_message",
            "retry", "attempt_count", "queued_duration", "caused_by", "pool", "pool_queued_duration",
        )
    }  # fmt: skip
    data["exception"] = _exception_to_dict(stat.exception)
    data["attempt_statistics"] = [
        {
            "attempt_number": a.attempt_number,
            "max_retries": a.max_retries,
            "start_time": a.start_time,
            "end_time": a.end_time,
            "duration": a.duration,
            "status": a.status,
            "error_message": a.error_message,
            "will_retry": a.will_retry,
            "delay_before": a.delay_before,
        }
        for a in stat.attempt_statistics
    ]
    return data


def _exception_to_dict(exc: BaseException | None) -> dict[str, str] | None:
    if exc is None:
        return None
    return {"type": f"{type(exc).__module__}.{type(exc).__qualname__}", "message": describe_exception(exc)}


def to_json_safe(value: Any, _path: frozenset[int] = frozenset()) -> Any:
    """Convert ``value`` into JSON-safe data; anything JSON cannot hold becomes its ``repr``.

    Containers are converted recursively (a container that contains itself is
    rendered as its ``repr`` at the point of recursion); nothing is copied deeply.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    key = id(value)
    if key in _path or len(_path) > 64:
        return _safe_repr(value)
    path = _path | {key}
    if isinstance(value, Mapping):
        if all(isinstance(k, str) for k in value):
            return {k: to_json_safe(v, path) for k, v in value.items()}
        return _safe_repr(value)
    if isinstance(value, (list, tuple)):
        return [to_json_safe(v, path) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json_safe(getattr(value, f.name, None), path) for f in fields(value)}
    return _safe_repr(value)


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception as exc:  # a broken __repr__ must not break the export
        return f"<{type(value).__name__} (repr failed: {type(exc).__name__})>"
