"""What the commands print: the table of runs, one run in full, the summary after a run."""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from .._errors import describe_exception
from ..report._report import ExecutionReport, TaskExecutionStatistics
from ..store._base import RunRecord, RunSummary
from ..store._rebuild import StoredTaskError
from ._output import Cell, Column, Output, styled

__all__ = ["command", "format_duration", "format_time", "print_run", "print_runs", "print_summary"]

_FAILED = ("failed", "timed_out")
_NOTE_WIDTH = 72
#: Failed tasks named after a run; ``astrum show`` lists all of them.
_SUMMARY_FAILURES = 5


def format_time(epoch: float) -> str:
    """Local date and time to the second: ``2025-01-31 14:02:11``."""
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(seconds: float) -> str:
    """``0.4 ms``, ``120 ms``, ``2.35 s``, ``4m05s``, ``2h03m``."""
    if seconds < 0.01:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def command(*words: str) -> str:
    """A command line to copy and paste (words quoted for the shell where needed)."""
    return " ".join(shlex.quote(word) for word in words)


def _one_line(text: str | None, width: int = _NOTE_WIDTH) -> str:
    first = (text or "").strip().splitlines()
    line = first[0] if first else ""
    return line if len(line) <= width else line[: width - 3] + "..."


def _describe(exc: BaseException | None, fallback: str | None) -> str:
    if isinstance(exc, StoredTaskError):
        return exc.describe()
    if exc is not None:
        return describe_exception(exc)
    return fallback or ""


# -- astrum runs --------------------------------------------------------------------------------


def print_runs(out: Output, runs: Sequence[RunSummary]) -> None:
    """One row per run, as given (newest first)."""
    columns = [
        Column("run id"),
        Column("namespace"),
        Column("state"),
        Column("started"),
        Column("duration", right=True),
        Column("tasks", right=True),
        Column("failed", right=True),
        Column("resumes"),
    ]
    rows: list[list[str | Cell]] = [
        [
            run.run_id,
            run.namespace,
            styled(run.state),
            format_time(run.start_time),
            format_duration(run.end_time - run.start_time) if run.end_time is not None else "-",
            f"{run.completed}/{run.total}",
            Cell(str(run.failed), "red" if run.failed else ""),
            run.resumed_from or "",
        ]
        for run in runs
    ]
    out.table(columns, rows)


# -- astrum show --------------------------------------------------------------------------------


def _started(stat: TaskExecutionStatistics) -> bool:
    return stat.status != "skipped"


def print_run(out: Output, record: RunRecord, report: ExecutionReport, *, db: Sequence[str] = ()) -> None:
    """A run in full: its header, the task table, errors with their tracebacks, the critical path.

    A run that did not complete ends with the command that resumes it (``db``: the ``--db PATH``
    words to repeat in it).
    """
    stats = sorted(report.task_statistics, key=lambda s: (not _started(s), s.start_time))
    reused_set = set(report.reused_tasks)
    state = report.execution_state
    out.line(f"Run {record.run_id}  {state}", "bold")
    counts = Counter(s.status for s in stats)
    started = format_time(record.start_time)
    if state == "running":
        when = f"{started} (still running)"
    elif state == "interrupted":
        when = f"{started}; last record after {format_duration(report.total_duration)}"
    else:
        when = f"{started}, took {format_duration(report.total_duration)}"
    fields = [
        ("namespace", record.namespace),
        ("targets", ", ".join(record.targets) if record.targets else "all tasks"),
        ("started", when),
    ]
    if record.resumed_from:
        fields.append(("resumes", record.resumed_from))
    tally = ", ".join(f"{counts[status]} {status}" for status in sorted(counts, key=_status_order))
    fields.append(("tasks", f"{tally} ({len(stats)} in all)" if tally else "none"))
    for name, value in fields:
        out.line(f"  {name:<10} {value}")

    out.line()
    origin = record.start_time
    rows: list[list[str | Cell]] = [
        [
            Cell(stat.task_name, "bold" if stat.task_name in report.critical_path else ""),
            styled(stat.status),
            str(stat.attempt_count) if _started(stat) else "-",
            f"+{format_duration(max(stat.start_time - origin, 0.0))}" if _started(stat) else "-",
            format_duration(stat.duration) if _started(stat) else "-",
            f"reused from {report.resumed_from}" if stat.task_name in reused_set else _note(stat),
        ]
        for stat in stats
    ]
    out.table(
        [
            Column("task"),
            Column("status"),
            Column("attempts", right=True),
            Column("start", right=True),
            Column("duration", right=True),
            Column("note"),
        ],
        rows,
    )
    _print_errors(out, stats)
    _print_critical_path(out, report, stats)
    if state == "interrupted":
        out.line()
        out.line("Interrupted: the process running this run ended before the run finished.", "magenta")
    if state not in ("completed", "running"):
        resume = command("astrum", "resume", record.run_id) + " --app MODULE[:REGISTRY]"
        out.line(f"Resume it: {resume}{' ' + command(*db) if db else ''}")


def _status_order(status: str) -> int:
    order = ("completed", "failed", "timed_out", "cancelled", "skipped")
    return order.index(status) if status in order else len(order)


def _note(stat: TaskExecutionStatistics) -> str:
    if stat.status in _FAILED:
        return _one_line(_describe(stat.exception, stat.error_message))
    if stat.status in ("cancelled", "skipped"):
        note = _one_line(stat.error_message)
        if stat.caused_by and stat.caused_by not in note:
            note = f"{note} (caused by {stat.caused_by})" if note else f"caused by {stat.caused_by}"
        return note
    return "served from the cache" if stat.cache == "hit" else ""


def _print_errors(out: Output, stats: Sequence[TaskExecutionStatistics]) -> None:
    troubled = [
        s for s in stats if s.status in _FAILED or any(a.exception is not None for a in s.attempt_statistics)
    ]
    if not troubled:
        return
    out.line()
    out.line("Errors", "bold")
    for stat in troubled:
        attempts = stat.attempt_count
        out.line()
        out.line(
            f"{stat.task_name}: {stat.status} after {attempts} attempt{'s' if attempts != 1 else ''}",
            "red" if stat.status in _FAILED else "yellow",
        )
        for attempt in stat.attempt_statistics:
            if attempt.exception is not None or attempt.status in _FAILED:
                text = _describe(attempt.exception, attempt.error_message)
                out.line(f"  attempt {attempt.attempt_number}: {text}")
        if stat.status in _FAILED:
            if not stat.attempt_statistics:
                out.line(f"  {_describe(stat.exception, stat.error_message)}")
            trace = getattr(stat.exception, "traceback", None)
            if trace:
                for line in trace.rstrip().splitlines():
                    out.line(f"    {line}", "dim")


def _print_critical_path(
    out: Output, report: ExecutionReport, stats: Sequence[TaskExecutionStatistics]
) -> None:
    path = report.critical_path
    if not path:
        return
    by_name = {s.task_name: s for s in stats}
    steps = [
        f"{name} ({format_duration(by_name[name].duration)})" if name in by_name else name for name in path
    ]
    out.line()
    out.line(f"Critical path: {' -> '.join(steps)}")


# -- after astrum run / astrum resume -----------------------------------------------------------


def print_summary(
    out: Output, report: ExecutionReport, *, namespace: str, app: str, db: Sequence[str]
) -> None:
    """A few lines after a run: its outcome, its failed tasks, and the commands to see or resume it.

    ``db`` holds the ``--db PATH`` words to repeat in those commands (empty for the default).
    """
    run_id = report.run_id or ""
    reused = report.reused_tasks
    state = report.execution_state
    resumes = f" (resumes {report.resumed_from})" if report.resumed_from is not None else ""
    done = f"{report.successful_tasks}/{report.total_tasks} tasks completed"
    if reused:
        done += f" ({len(reused)} reused)"
    out.line(
        f"Run {run_id}{resumes} {state}: {done} in {format_duration(report.total_duration)} "
        f"(namespace {namespace}).",
        "bold",
    )
    failed = [s for s in report.task_statistics if s.status in _FAILED]
    for stat in failed[:_SUMMARY_FAILURES]:
        out.line(f"  {stat.task_name}: {_one_line(_describe(stat.exception, stat.error_message))}", "red")
    if len(failed) > _SUMMARY_FAILURES:
        out.line(f"  ... and {len(failed) - _SUMMARY_FAILURES} more failed tasks")
    if not failed and state != "completed" and report.error_summary:
        out.line(f"  {_one_line(report.error_summary[0], 100)}", "red")
    out.line(f"Show it:   {command('astrum', 'show', run_id, *db)}")
    out.line(f"Resume it: {command('astrum', 'resume', run_id, '--app', app, *db)}")
