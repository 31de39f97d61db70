"""The HTML run page: one self-contained file with the Gantt, the "why was it slow" view, the
task graph and the task table with errors.

Nothing is fetched: the styles are inline, the drawings are inline SVG, there are no scripts,
fonts or images. Every text that comes from the run (task names, errors) is escaped.
"""

from __future__ import annotations

import os
import traceback
from datetime import datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from ._gantt import section_order
from ._slow import analyse
from ._summary import PATH_HEADERS, headline, ordered_stats, path_row, waiting_line
from ._svg import CRITICAL_STROKE, MAX_DRAWN, STATUS_COLOURS, gantt_layout, gantt_svg, graph_layout, graph_svg

if TYPE_CHECKING:
    from ..report._report import ExecutionReport, TaskExecutionStatistics

__all__ = ["GANTT_LEFT", "GANTT_TOP", "GANTT_WIDTH", "page_html", "write_html"]

#: Where the Gantt's top left corner lands on the page, in CSS pixels (the header is fixed
#: height, the page has a fixed padding), and its width.
HEADER_HEIGHT = 80
PAGE_PADDING = 24
GANTT_LEFT = PAGE_PADDING
GANTT_TOP = HEADER_HEIGHT + 16
GANTT_WIDTH = 1100

_CSS = f"""
*{{box-sizing:border-box}}
body{{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2433;background:#f6f7f9}}
header{{height:{HEADER_HEIGHT}px;overflow:hidden;padding:14px {PAGE_PADDING}px;background:#1d2433;color:#fff}}
header h1{{margin:0;font-size:20px;font-weight:600;white-space:nowrap}}
header p{{margin:4px 0 0;color:#c7ccd6;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}}
main{{padding:16px {PAGE_PADDING}px 40px}}
svg{{display:block;font:12px system-ui,sans-serif}}
#gantt{{background:#fff;margin:0}}
.stripe{{fill:#f1f3f6}}
.tick{{stroke:#e3e6eb;stroke-width:1}}
.axis{{fill:#6b7280;text-anchor:middle;font-size:11px}}
.label{{fill:#1d2433;text-anchor:end}}
.edge{{fill:none;stroke:#9aa3b2;stroke-width:1.5}}
.edge.crit{{stroke:{CRITICAL_STROKE};stroke-width:2.5}}
.node text{{fill:#1d2433}}
.legend{{margin:8px 0 0;color:#4b5563}}
.swatch{{display:inline-block;width:12px;height:12px;border-radius:2px;margin:0 4px -1px 12px}}
.swatch.crit{{background:#fff;border:2px solid {CRITICAL_STROKE}}}
section{{margin-top:28px}}
h2{{font-size:16px;margin:0 0 8px}}
.scroll{{overflow-x:auto;background:#fff;padding:4px}}
table{{border-collapse:collapse;background:#fff;width:100%}}
th,td{{text-align:left;padding:4px 8px;border-bottom:1px solid #e3e6eb;vertical-align:top}}
td.num,th.num{{text-align:right;font-variant-numeric:tabular-nums}}
pre{{margin:0;white-space:pre-wrap;word-break:break-word;font:12px ui-monospace,Menlo,Consolas,monospace}}
.status{{font-weight:600}}
details summary{{cursor:pointer;color:#4b5563}}
"""


def _fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _status_cell(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#6b7cff")
    return f'<td class="status" style="color:{colour}">{escape(status)}</td>'


def _traceback_text(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    stored = getattr(exc, "traceback", None)  # a stored run's stand-in keeps the text
    if isinstance(stored, str) and stored:
        return stored
    if exc.__traceback__ is None:
        return None
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _error_cell(stat: TaskExecutionStatistics) -> str:
    parts: list[str] = []
    if stat.error_message:
        parts.append(f"<pre>{escape(stat.error_message)}</pre>")
    for attempt in stat.attempt_statistics:
        if attempt.will_retry and attempt.error_message:
            parts.append(f"<pre>attempt {attempt.attempt_number}: {escape(attempt.error_message)}</pre>")
    text = _traceback_text(stat.exception)
    if text:
        parts.append(f"<details><summary>traceback</summary><pre>{escape(text)}</pre></details>")
    return f"<td>{''.join(parts)}</td>"


def _task_table(report: ExecutionReport) -> str:
    origin = report.total_start_time
    critical = set(report.critical_path)
    heads = [
        "task",
        "status",
        "start ms",
        "queued ms",
        "pool wait ms",
        "duration ms",
        "tries",
        "pool",
        "error",
    ]
    numeric = {2, 3, 4, 5, 6}
    rows = [
        "<tr>"
        + "".join(f"<th{' class=num' if k in numeric else ''}>{escape(h)}</th>" for k, h in enumerate(heads))
        + "</tr>"
    ]
    for stat in ordered_stats(report):
        name = escape(stat.task_name)
        rows.append(
            "<tr>"
            + (f"<td><strong>{name}</strong> ★</td>" if stat.task_name in critical else f"<td>{name}</td>")
            + _status_cell(stat.status)
            + "".join(
                f'<td class="num">{value}</td>'
                for value in (
                    _fmt_ms(stat.start_time - origin),
                    _fmt_ms(stat.queued_duration),
                    _fmt_ms(stat.pool_queued_duration),
                    _fmt_ms(stat.duration),
                    str(stat.attempt_count),
                )
            )
            + f"<td>{escape(stat.pool or '')}</td>"
            + _error_cell(stat)
            + "</tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def _slow_section(report: ExecutionReport) -> str:
    analysis = analyse(report)
    if not analysis.path:
        return ""
    head = "".join(f"<th{' class=num' if k else ''}>{escape(h)}</th>" for k, h in enumerate(PATH_HEADERS))
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=num' if k else ''}>{escape(cell)}</td>" for k, cell in enumerate(path_row(step))
        )
        + "</tr>"
        for step in analysis.path
    )
    slack = ""
    if analysis.slack:
        items = "".join(f"<li>{escape(item.task)}: +{_fmt_ms(item.slack)} ms</li>" for item in analysis.slack)
        slack = f"<p>Most slack (could have finished this much later without delaying the run):</p><ul>{items}</ul>"
    return (
        '<section id="slow"><h2>Why it took this long: the critical path</h2>'
        f"<p>{escape(' → '.join(step.task for step in analysis.path))} "
        f"({_fmt_ms(analysis.lead)} ms before its first task was ready)</p>"
        f"<table><tr>{head}</tr>{body}</table><p>{escape(waiting_line(analysis))}</p>{slack}</section>"
    )


def _legend(statuses: set[str]) -> str:
    swatches = "".join(
        f'<span class="swatch" style="background:{STATUS_COLOURS.get(s, "#6b7cff")}"></span>{escape(s)}'
        for s in section_order(statuses)
    )
    return f'<p class="legend">{swatches}<span class="swatch crit"></span>critical path</p>'


def page_html(report: ExecutionReport) -> str:
    """The whole page as one string."""
    gantt = gantt_layout(report, GANTT_WIDTH)
    statuses = {stat.task_name: stat.status for stat in report.task_statistics}
    critical = set(report.critical_path)
    graph = graph_layout(report.original_tasks)
    started = datetime.fromtimestamp(report.total_start_time).isoformat(sep=" ", timespec="seconds")
    facts = [f"started {started}", f"{report.total_tasks} tasks", f"{report.failed_tasks} failed"]
    run_id = getattr(report, "run_id", None)
    if run_id:
        facts.insert(0, f"run {run_id}")
    hidden = ""
    if gantt.hidden or graph.hidden:
        hidden = f"<p>Only the first {MAX_DRAWN} tasks are drawn; the table lists them all.</p>"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(headline(report))}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{escape(headline(report))}</h1><p>{escape(' · '.join(facts))}</p></header>"
        f"<main>{gantt_svg(gantt)}{_legend({*statuses.values(), *(placed.bar.status for placed in gantt.bars)})}{hidden}"
        f"{_slow_section(report)}"
        f'<section id="graph-section"><h2>Graph</h2><div class="scroll">'
        f"{graph_svg(graph, statuses, critical)}</div></section>"
        f'<section id="tasks"><h2>Tasks</h2>{_task_table(report)}</section>'
        "</main></body></html>\n"
    )


def write_html(report: ExecutionReport, path: str | os.PathLike[str]) -> Path:
    """Write `page_html` to ``path`` (UTF-8) and return the path."""
    target = Path(path)
    target.write_text(page_html(report), encoding="utf-8")
    return target
