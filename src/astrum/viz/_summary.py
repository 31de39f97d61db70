"""The "why was it slow" view written out: plain text (``str(report)``) and rich (``report.render()``).

The same rows serve the HTML page (``astrum.viz._html``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ._gantt import section_order
from ._slow import PathStep, SlowAnalysis, analyse

if TYPE_CHECKING:
    from rich.console import Console

    from ..report._report import ExecutionReport, TaskExecutionStatistics

__all__ = ["headline", "ordered_stats", "path_row", "render_report", "summary_text", "waiting_line"]

#: How many tasks the task table shows at most.
MAX_ROWS = 60


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
    if not note and getattr(stat, "cache", None) == "hit":
        note = "served from the cache"
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
