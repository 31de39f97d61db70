"""Why was a run slow: the critical path taken apart, the tasks with slack, the time lost waiting.

`analyse` reads only public report fields (so stored runs work too) and returns plain
data; ``astrum.viz._summary`` writes it out as plain text and with rich.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..report._report import ExecutionReport, TaskExecutionStatistics

__all__ = ["PathStep", "SlackTask", "SlowAnalysis", "analyse", "topological"]

#: How many tasks the slack list holds at most.
MAX_SLACK = 5
#: Less slack than this is rounding (times are epoch seconds): none.
_NO_SLACK = 1e-5


@dataclass(frozen=True)
class PathStep:
    """Where one critical-path task's time went, in seconds.

    ``ready`` is when its inputs were ready (after the run start); then it waited
    ``queued`` for a concurrency slot and ``pool_wait`` for its pool; ``retried`` ran in
    attempts that failed and were retried, ``backoff`` was slept between attempts, and
    ``running`` is the rest of its duration.
    """

    task: str
    status: str
    ready: float
    queued: float
    pool_wait: float
    backoff: float
    retried: float
    running: float
    attempts: int

    @property
    def total(self) -> float:
        """From ready to finished."""
        return self.queued + self.pool_wait + self.backoff + self.retried + self.running


@dataclass(frozen=True)
class SlackTask:
    """A task that could have finished ``slack`` seconds later without delaying the run."""

    task: str
    slack: float


@dataclass(frozen=True)
class SlowAnalysis:
    """The "why was it slow" view of one report (seconds throughout)."""

    makespan: float
    path: list[PathStep]
    slack: list[SlackTask]
    #: Pool waits, retry backoff and retried attempts of the critical path's tasks.
    pool_wait: float
    backoff: float
    retried: float

    @property
    def lead(self) -> float:
        """Time before the first critical-path task was ready (planning, the first launch)."""
        return self.path[0].ready if self.path else 0.0

    def share(self, seconds: float) -> float:
        """``seconds`` as a share of the makespan (0 for an empty run)."""
        return seconds / self.makespan if self.makespan > 0 else 0.0


def _step(stat: TaskExecutionStatistics, origin: float) -> PathStep:
    attempts = stat.attempt_statistics
    backoff = sum(a.delay_before for a in attempts)
    retried = sum(a.duration for a in attempts if a.will_retry)
    pool_wait = stat.pool_queued_duration
    return PathStep(
        task=stat.task_name,
        status=stat.status,
        ready=stat.start_time - stat.queued_duration - origin,
        queued=max(0.0, stat.queued_duration - pool_wait),
        pool_wait=pool_wait,
        backoff=backoff,
        retried=retried,
        running=max(0.0, stat.duration - backoff - retried),
        attempts=stat.attempt_count,
    )


def topological(deps: Mapping[str, Sequence[str]]) -> list[str]:
    """The names of ``{task: [dependencies]}`` in dependency order (tasks in a cycle left out)."""
    waiting = {name: sum(1 for d in parents if d in deps) for name, parents in deps.items()}
    children: dict[str, list[str]] = {name: [] for name in deps}
    for name, parents in deps.items():
        for parent in parents:
            if parent in children:
                children[parent].append(name)
    order = [name for name, count in waiting.items() if count == 0]
    for name in order:  # grows while it is read
        for child in children[name]:
            waiting[child] -= 1
            if waiting[child] == 0:
                order.append(child)
    return order


def _slack(report: ExecutionReport, ran: dict[str, TaskExecutionStatistics]) -> list[SlackTask]:
    """Latest finish minus actual finish of each completed task, from the graph and what ran.

    A task may finish as late as each of its children's latest start allows (the child's
    latest finish minus the time it took from ready to finished); a task with no child
    that ran, as late as the run's last task finished.
    """
    if not ran:
        return []
    deps = report.original_tasks
    children: dict[str, list[str]] = {}
    for name, parents in deps.items():
        for parent in parents:
            children.setdefault(parent, []).append(name)
    run_end = max(stat.end_time for stat in ran.values())
    latest: dict[str, float] = {}
    for name in reversed(topological(deps)):
        if name not in ran:
            continue
        finish = run_end
        for child in children.get(name, ()):
            if child in latest:
                stat = ran[child]
                finish = min(finish, latest[child] - (stat.end_time - stat.start_time + stat.queued_duration))
        latest[name] = finish
    critical = set(report.critical_path)
    slack = [
        SlackTask(name, latest[name] - stat.end_time)
        for name, stat in ran.items()
        if stat.status == "completed"
        and name not in critical
        and name in latest
        and latest[name] - stat.end_time > _NO_SLACK
    ]
    slack.sort(key=lambda s: (-s.slack, s.task))
    return slack[:MAX_SLACK]


def analyse(report: ExecutionReport) -> SlowAnalysis:
    """The critical path taken apart, the tasks with most slack and the waits on the path."""
    by_name = {stat.task_name: stat for stat in report.task_statistics}
    origin = report.total_start_time
    path = [_step(by_name[name], origin) for name in report.critical_path if name in by_name]
    ran = {name: stat for name, stat in by_name.items() if stat.status != "skipped"}
    return SlowAnalysis(
        makespan=report.total_duration,
        path=path,
        slack=_slack(report, ran),
        pool_wait=sum(step.pool_wait for step in path),
        backoff=sum(step.backoff for step in path),
        retried=sum(step.retried for step in path),
    )
