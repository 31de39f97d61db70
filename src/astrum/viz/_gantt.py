"""A run as bars in time: one bar per attempt (the Gantt of the HTML page and of Mermaid).

Reads only public report fields (``task_statistics`` with their ``attempt_statistics``,
``critical_path``, ``total_start_time``...), so a report rebuilt from a run store draws
the same way as a live one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._mermaid import mermaid_escape

if TYPE_CHECKING:
    from ..report._report import ExecutionReport

__all__ = ["STATUS_ORDER", "Bar", "mermaid_gantt", "run_bars", "section_order"]

#: Sections of a Gantt, in this order; statuses not listed (a stored run's ``running``...) follow.
STATUS_ORDER = ("completed", "failed", "timed_out", "cancelled", "skipped")


@dataclass(frozen=True)
class Bar:
    """One attempt of one task, in seconds after the run started.

    ``attempt`` counts from 1 (0: a task with no recorded attempts, drawn as a whole);
    ``status`` is the attempt's, ``section`` the task's. A skipped task is a
    ``milestone``: nothing ran, ``start == end``.
    """

    task: str
    section: str
    attempt: int
    attempts: int
    start: float
    end: float
    status: str
    critical: bool
    milestone: bool = False

    @property
    def label(self) -> str:
        """``fetch``, or ``fetch · attempt 1 failed`` for one of several attempts."""
        if self.attempts > 1:
            return f"{self.task} · attempt {self.attempt} {self.status}"
        if self.milestone:
            return f"{self.task} · skipped"
        return self.task


def run_bars(report: ExecutionReport) -> list[Bar]:
    """Every attempt of every task, tasks by start time (skipped tasks last), attempts in order."""
    origin = report.total_start_time
    critical = set(report.critical_path)
    bars: list[Bar] = []
    stats = sorted(report.task_statistics, key=lambda s: (s.status == "skipped", s.start_time, s.task_name))
    for stat in stats:
        name, status = stat.task_name, stat.status
        on_path = name in critical
        if status == "skipped":
            at = stat.start_time - origin
            bars.append(Bar(name, status, 0, 0, at, at, status, on_path, milestone=True))
            continue
        attempts = stat.attempt_statistics
        if not attempts:
            bars.append(
                Bar(name, status, 0, 0, stat.start_time - origin, stat.end_time - origin, status, on_path)
            )
            continue
        count = len(attempts)
        bars.extend(
            Bar(
                name,
                status,
                attempt.attempt_number,
                count,
                attempt.start_time - origin,
                attempt.end_time - origin,
                attempt.status,
                on_path,
            )
            for attempt in attempts
        )
    return bars


def section_order(statuses: set[str]) -> list[str]:
    """The statuses present, in `STATUS_ORDER` first, then the others sorted."""
    return [s for s in STATUS_ORDER if s in statuses] + sorted(statuses.difference(STATUS_ORDER))


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def mermaid_gantt(report: ExecutionReport) -> str:
    """The run as a Mermaid ``gantt`` (see `ExecutionReport.to_mermaid_gantt`).

    Times are milliseconds after the run's start (``dateFormat x``); every bar of a
    critical-path task is tagged ``crit``, completed attempts ``done``.
    """
    bars = run_bars(report)
    makespan = report.total_duration
    title = f"Run {report.execution_state} · {report.total_tasks} tasks · {makespan * 1000:.1f} ms"
    lines = [
        "gantt",
        f"    title {mermaid_escape(title, gantt=True)}",
        "    dateFormat x",
        f"    axisFormat {'%S.%L s' if makespan < 60 else '%M:%S'}",
        "    todayMarker off",
    ]
    by_section: dict[str, list[tuple[int, Bar]]] = {}
    for k, bar in enumerate(bars):
        by_section.setdefault(bar.section, []).append((k, bar))
    for section in section_order(set(by_section)):
        lines.append(f"    section {mermaid_escape(section, gantt=True)}")
        for k, bar in by_section[section]:
            tags = []
            if bar.critical:
                tags.append("crit")
            if bar.milestone:
                tags.append("milestone")
            elif bar.status == "completed":
                tags.append("done")
            start = _ms(bar.start)
            end = max(start, _ms(bar.end))
            meta = ", ".join([*tags, f"b{k}", str(start), str(end)])
            lines.append(f"    {mermaid_escape(bar.label, gantt=True)} :{meta}")
    return "\n".join(lines) + "\n"
