"""Why was a run slow: the critical path taken apart, the tasks with slack, the time lost waiting.

:func:`analyse` reads only public report fields (so stored runs work too) and returns plain
data; :func:`summary_text` writes it as plain text (``str(report)``) and :func:`render_report`
with rich (``report.render()``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._gantt import section_order

if TYPE_CHECKING:
    from rich.console import Console

    from ..report._report import ExecutionReport, TaskExecutionStatistics

__all__ = ["PathStep", "SlackTask", "SlowAnalysis", "analyse", "render_report", "summary_text", "topological"]

#: How many tasks the task table and the slack list show at most.
MAX_ROWS = 60
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


# -- shared wording ------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def headline(report: ExecutionReport) -> str:
    """``Run completed in 812.3 ms: 9/9 tasks completed, 0 failed``."""
    return (
        f"Run {report.execution_state} in {_ms(report.total_duration)} ms: "
        f"{report.successful_tasks}/{report.total_tasks} tasks completed, {report.failed_tasks} failed"
    )


def ordered_stats(report: ExecutionReport) -> list[TaskExecutionStatistics]:
    """Tasks by start time, grouped by status in the Gantt's section order."""
    stats = report.task_statistics
    rank = {status: k for k, status in enumerate(section_order({s.status for s in stats}))}
    return sorted(stats, key=lambda s: (rank[s.status], s.start_time, s.task_name))


def task_row(stat: TaskExecutionStatistics, origin: float, critical: set[str]) -> list[str]:
    """The cells of one task: name (``*`` on the critical path), status, times, tries, pool, note."""
    note = stat.error_message or ""
    note = note.splitlines()[0] if note else ""
    if len(note) > 80:
        note = note[:79] + "…"
    return [
        stat.task_name + (" *" if stat.task_name in critical else ""),
        stat.status,
        _ms(stat.start_time - origin),
        _ms(stat.queued_duration),
        _ms(stat.duration),
        str(stat.attempt_count),
        stat.pool or "",
        note,
    ]


TASK_HEADERS = ["task", "status", "start ms", "queued ms", "duration ms", "tries", "pool", "note"]
PATH_HEADERS = ["task", "ready at ms", "queued ms", "pool wait ms", "backoff ms", "retried ms", "running ms"]


def path_row(step: PathStep) -> list[str]:
    """The cells of one critical-path step."""
    return [
        step.task,
        _ms(step.ready),
        _ms(step.queued),
        _ms(step.pool_wait),
        _ms(step.backoff),
        _ms(step.retried),
        _ms(step.running),
    ]


def waiting_line(analysis: SlowAnalysis) -> str:
    """The share of the makespan the critical path spent waiting for pools and on retries."""
    return (
        f"Of the {_ms(analysis.makespan)} ms makespan, the critical path waited "
        f"{_ms(analysis.pool_wait)} ms for pools ({analysis.share(analysis.pool_wait):.0%}), "
        f"{_ms(analysis.backoff)} ms in retry backoff ({analysis.share(analysis.backoff):.0%}) and ran "
        f"{_ms(analysis.retried)} ms of attempts that were retried ({analysis.share(analysis.retried):.0%})."
    )


# -- plain text ----------------------------------------------------------------------------------


def _columns(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[bool]) -> list[str]:
    table = [list(headers), *(list(row) for row in rows)]
    widths = [max(len(row[k]) for row in table) for k in range(len(headers))]
    return [
        "  "
        + "  ".join(
            (cell.rjust(width) if right else cell.ljust(width))
            for cell, width, right in zip(row, widths, numeric, strict=True)
        ).rstrip()
        for row in table
    ]


def summary_text(report: ExecutionReport) -> str:
    """The report as plain text: tasks, the critical path taken apart, slack and waiting."""
    analysis = analyse(report)
    origin = report.total_start_time
    critical = set(report.critical_path)
    stats = ordered_stats(report)
    lines = [headline(report)]
    if stats:
        numeric = [False, False, True, True, True, True, False, False]
        lines += _columns(TASK_HEADERS, (task_row(s, origin, critical) for s in stats[:MAX_ROWS]), numeric)
        if len(stats) > MAX_ROWS:
            lines.append(f"  … {len(stats) - MAX_ROWS} more tasks")
    if analysis.path:
        lines.append(
            f"Critical path (*): {' -> '.join(step.task for step in analysis.path)} "
            f"({_ms(analysis.lead)} ms before its first task was ready)"
        )
        lines += _columns(PATH_HEADERS, map(path_row, analysis.path), [False] + [True] * 6)
        lines.append(waiting_line(analysis))
    if analysis.slack:
        lines.append("Most slack (could have finished this much later without delaying the run):")
        lines += _columns(
            ["task", "slack ms"],
            ([item.task, f"+{_ms(item.slack)}"] for item in analysis.slack),
            [False, True],
        )
    if report.error_summary:
        lines.append("Errors:")
        lines += [f"  {line}" for line in report.error_summary]
    return "\n".join(lines)


# -- rich ----------------------------------------------------------------------------------------

_STYLE = {
    "completed": "green",
    "failed": "bold red",
    "timed_out": "red",
    "cancelled": "yellow",
    "skipped": "dim",
}


def render_report(report: ExecutionReport, console: Console | None = None) -> None:
    """Print the report with rich: tasks, the critical path taken apart, slack and waiting."""
    from ._render import _console

    out = _console(console)
    from rich.table import Table
    from rich.text import Text

    analysis = analyse(report)
    origin = report.total_start_time
    critical = set(report.critical_path)
    stats = ordered_stats(report)
    table = Table(title=headline(report), title_justify="left", caption="times in ms; * on the critical path")
    for k, header in enumerate(TASK_HEADERS):
        if k == len(TASK_HEADERS) - 1:
            table.add_column(header, overflow="fold", min_width=12)
        else:
            table.add_column(
                header.removesuffix(" ms"), justify="right" if 2 <= k <= 5 else "left", no_wrap=True
            )
    for stat in stats[:MAX_ROWS]:
        cells = task_row(stat, origin, critical)
        style = _STYLE.get(stat.status, "")
        table.add_row(
            Text(cells[0], style="bold" if stat.task_name in critical else ""),
            Text(cells[1], style=style),
            *cells[2:7],
            Text(cells[7], style="red" if stat.status in ("failed", "timed_out") else "dim"),
        )
    if len(stats) > MAX_ROWS:
        table.add_row(f"… {len(stats) - MAX_ROWS} more tasks", *[""] * 7)
    out.print(table)
    if analysis.path:
        path = Table(
            title=f"Critical path (*): {_ms(analysis.lead)} ms before its first task was ready",
            title_justify="left",
            caption="times in ms",
        )
        for k, header in enumerate(PATH_HEADERS):
            path.add_column(header.removesuffix(" ms"), justify="right" if k else "left", no_wrap=True)
        for step in analysis.path:
            path.add_row(*path_row(step))
        out.print(path)
        out.print(waiting_line(analysis), highlight=False)
    if analysis.slack:
        slack = Table(
            title="Most slack",
            title_justify="left",
            caption="could have finished this much later without delaying the run",
        )
        slack.add_column("task")
        slack.add_column("slack ms", justify="right")
        for item in analysis.slack:
            slack.add_row(item.task, f"+{_ms(item.slack)}")
        out.print(slack)
    for line in report.error_summary:
        out.print(Text(line, style="red"))
