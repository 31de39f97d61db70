"""Execution reports: per-attempt, per-task and per-stage statistics, and the run report.

Reports are built from a compact run record; per-task statistics objects are
only created when first read, so a run of a million tasks pays for them only
if somebody looks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, InitVar, dataclass, field, fields, is_dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from .._errors import describe_exception

if TYPE_CHECKING:
    import os
    from pathlib import Path

    from rich.console import Console

__all__ = [
    "ExecutionReport",
    "TaskAttemptStatistics",
    "TaskExecutionStatistics",
    "TaskStageStatistics",
    "to_json_safe",
]

_T = TypeVar("_T")


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

    ``delay_before`` is the backoff delay waited between the previous attempt and this one
    (with, in a rate-limited pool, the wait for this attempt's token).
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
    slot, ``pool_queued_duration`` the part of it spent waiting for its named ``pool`` (a slot or,
    in a rate-limited pool, a token). ``exception`` is the original exception of a failed task;
    ``caused_by`` names the failed task that stopped a cancelled or skipped one.
    ``cache`` is ``"hit"`` for a task served from its result cache (completed with no
    attempt), ``"miss"`` for a cached task that ran, ``None`` for a task without ``cache=``
    (or one that never started).
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
    cache: str | None = None


class _LazyField(Generic[_T]):
    """A report field made when first read (by the report's ``_lazy`` part ``part``), or set like any field.

    As a dataclass field default it reads as ``None``: passing ``None`` (the
    default) leaves the field to be made lazily, or empty if the report has no lazy parts.
    """

    __slots__ = ("empty", "part", "slot")

    def __init__(self, part: str, empty: Callable[[], _T]) -> None:
        self.part = part
        self.empty = empty
        self.slot = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = "_" + name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> None: ...
    @overload
    def __get__(self, obj: ExecutionReport, owner: type | None = None) -> _T: ...
    def __get__(self, obj: ExecutionReport | None, owner: type | None = None) -> _T | None:
        if obj is None:
            return None  # the dataclass default
        stored = obj.__dict__
        value: _T | None = stored.get(self.slot)
        if value is None:
            lazy = stored.get("_lazy")
            value = getattr(lazy, self.part)() if lazy is not None else self.empty()
            stored[self.slot] = value
        return value

    def __set__(self, obj: ExecutionReport, value: _T | None) -> None:
        obj.__dict__[self.slot] = value


@dataclass(repr=False, eq=False)
class ExecutionReport:
    """The structured result of one run (``scheduler.execute()`` or ``run()``).

    A dataclass, as in Astrum 0.1 (``dataclasses.fields``, ``asdict`` and
    ``replace`` work), compared by identity so that it stays hashable (run-end
    events hold it). ``task_statistics``, ``stage_statistics``,
    ``original_tasks``, ``task_return_set`` and ``critical_path`` are made when
    first read. Besides Astrum 0.1's fields it offers `results` (task id ->
    return value), `exceptions` (task id -> original exception),
    `critical_path`, `to_dict` and `to_json`. ``str(report)``,
    `render`, `to_mermaid_gantt` and `to_html` show where the time went.
    """

    total_start_time: float = 0.0
    total_end_time: float = 0.0
    total_duration: float = 0.0
    planning_duration: float = 0.0
    execution_duration: float = 0.0
    total_tasks: int = 0
    total_stages: int = 0
    max_parallelism: int = 0
    successful_tasks: int = 0
    failed_tasks: int = 0
    #: Timing of each stage of the stage view that had a task start.
    stage_statistics: _LazyField[list[TaskStageStatistics]] = _LazyField("stage_statistics", list)
    #: Per-task statistics, in the order the tasks finished (skipped tasks last).
    task_statistics: _LazyField[list[TaskExecutionStatistics]] = _LazyField("task_statistics", list)
    execution_state: str = "none"
    error_summary: list[str] = field(default_factory=list)
    #: ``{task: [dependency names]}`` for every task of the run.
    original_tasks: _LazyField[dict[str, list[str]]] = _LazyField("original_tasks", dict)
    tail_tasks: dict[str, Any] = field(default_factory=dict)
    #: ``{task: return value}`` of every completed task, in completion order; tail
    #: tasks that finish after the report are added to it.
    task_return_set: _LazyField[dict[str, Any]] = _LazyField("results", dict)
    _: KW_ONLY
    exceptions: dict[str, BaseException] = field(default_factory=dict)
    #: The chain of tasks that determined the makespan, first task first: from the
    #: task that finished last, each step goes to the dependency that finished
    #: last, i.e. the one that released it.
    critical_path: _LazyField[list[str]] = _LazyField("critical_path", list)
    #: The run's id: the same as ``RunContext.run_id`` and the events' ``run_id``, and the key of
    #: the run's records in a run store (``None`` for a run that could not start).
    run_id: str | None = None
    #: The id of the run this one resumed (``resume()``), else ``None``.
    resumed_from: str | None = None
    #: The tasks of a resumed run whose stored results were reused instead of running them
    #: again, in graph order (they are reported ``completed``).
    reused_tasks: tuple[str, ...] = ()
    _lazy: InitVar[_LazyParts | None] = None

    def __post_init__(self, _lazy: _LazyParts | None) -> None:
        self.__dict__["_lazy"] = _lazy

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
            "run_id": self.run_id,
            "resumed_from": self.resumed_from,
            "reused_tasks": list(self.reused_tasks),
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
        """`to_dict` serialised with `json.dumps` (``kwargs`` are passed on)."""
        return json.dumps(self.to_dict(), **kwargs)

    def __repr__(self) -> str:
        return (
            f"ExecutionReport(execution_state={self.execution_state!r}, total_tasks={self.total_tasks}, "
            f"successful_tasks={self.successful_tasks}, failed_tasks={self.failed_tasks}, "
            f"total_duration={self.total_duration:.6f})"
        )

    # -- seeing the run (astrum.viz; rich only for render()) -------------------------------

    def __str__(self) -> str:
        """Plain text: the task table, the critical path taken apart, slack and time spent waiting."""
        from ..viz._summary import summary_text

        return summary_text(self)

    def render(self, console: Console | None = None) -> None:
        """Print `__str__`'s view with rich (``pip install 'astrum[viz]'``)."""
        from ..viz._summary import render_report

        render_report(self, console)

    def to_mermaid_gantt(self) -> str:
        """The run as a Mermaid ``gantt``: a bar per attempt, sections by status, ``crit`` critical path."""
        from ..viz._gantt import mermaid_gantt

        return mermaid_gantt(self)

    def to_html(self, path: str | os.PathLike[str]) -> Path:
        """Write a self-contained HTML page of the run (Gantt, graph, task table); return its path."""
        from ..viz._html import write_html

        return write_html(self, path)


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
            "retry", "attempt_count", "queued_duration", "caused_by", "pool", "pool_queued_duration", "cache",
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
