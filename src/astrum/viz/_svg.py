"""Inline SVG drawings of a run: the Gantt (a bar per attempt) and the task graph (layers by level).

Layouts are plain numbers (`gantt_layout`, `graph_layout`) computed before any
markup is written, so a test can tell where a bar must appear on the page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from ._gantt import Bar, run_bars
from ._slow import topological

if TYPE_CHECKING:
    from ..report._report import ExecutionReport

__all__ = [
    "CRITICAL_STROKE",
    "STATUS_COLOURS",
    "GanttLayout",
    "GraphLayout",
    "gantt_layout",
    "gantt_svg",
    "graph_layout",
    "graph_svg",
]

#: Fill of a bar by the status of its attempt (or of its task).
STATUS_COLOURS: Mapping[str, str] = {
    "completed": "#2e9e5b",
    "failed": "#d64545",
    "timed_out": "#e07b39",
    "cancelled": "#d9a21b",
    "skipped": "#9aa0a6",
}
OTHER_COLOUR = "#6b7cff"
#: Outline of the critical path's bars and nodes.
CRITICAL_STROKE = "#1d2433"

MAX_DRAWN = 400  # rows of the Gantt, nodes of the graph; beyond that a note says what was left out


def colour(status: str) -> str:
    """The fill for ``status``."""
    return STATUS_COLOURS.get(status, OTHER_COLOUR)


@dataclass(frozen=True)
class PlacedBar:
    """A bar of the Gantt in SVG user units (pixels): ``x``/``y`` is its top left corner."""

    bar: Bar
    row: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class GanttLayout:
    """Where everything of the Gantt goes (pixels, origin at the drawing's top left)."""

    width: int
    height: int
    label_width: int
    plot_width: int
    top: int
    row_height: int
    span: float  # seconds from the run start to the right edge
    rows: list[str]  # task names, top to bottom
    bars: list[PlacedBar]
    hidden: int  # tasks not drawn (past MAX_DRAWN)

    def x_of(self, seconds: float) -> float:
        """The x of a time ``seconds`` after the run start."""
        return self.label_width + seconds / self.span * self.plot_width


def gantt_layout(report: ExecutionReport, width: int = 1100) -> GanttLayout:
    """Lay the run's bars out: one row per task, one bar per attempt, time to the right."""
    bars = run_bars(report)
    rows: list[str] = []
    row_of: dict[str, int] = {}
    for bar in bars:
        if bar.task not in row_of:
            row_of[bar.task] = len(rows)
            rows.append(bar.task)
    hidden = max(0, len(rows) - MAX_DRAWN)
    rows = rows[:MAX_DRAWN]
    label_width, top, row_height, bar_height = 220, 28, 24, 16
    plot_width = width - label_width - 36  # room for the last tick label
    span = max([report.total_duration, *(bar.end for bar in bars), 1e-6])
    layout = GanttLayout(width, top + row_height * len(rows) + 8, label_width, plot_width, top, row_height, span, rows, [], hidden)  # fmt: skip
    for bar in bars:
        row = row_of[bar.task]
        if row >= MAX_DRAWN:
            continue
        x = layout.x_of(bar.start)
        w = max(2.0, layout.x_of(bar.end) - x)
        y = top + row * row_height + (row_height - bar_height) / 2
        layout.bars.append(PlacedBar(bar, row, round(x, 2), y, round(w, 2), bar_height))
    return layout


def _ticks(span: float) -> list[float]:
    """About six round tick times (seconds) over ``[0, span]``."""
    raw = span / 6
    step = 10.0 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1, 2, 5, 10):
        if raw <= step * factor:
            step *= factor
            break
    count = int(span / step) + 1
    return [k * step for k in range(count)]


def _time_label(seconds: float, span: float) -> str:
    return f"{seconds * 1000:.0f} ms" if span < 2 else f"{seconds:.1f} s"


def gantt_svg(layout: GanttLayout) -> str:
    """The Gantt as an inline ``<svg>``: rows, a time axis, bars coloured by status."""
    parts = [
        f'<svg id="gantt" width="{layout.width}" height="{layout.height}" '
        f'viewBox="0 0 {layout.width} {layout.height}" role="img" aria-label="Gantt chart of the run">'
    ]
    bottom = layout.height - 8
    for tick in _ticks(layout.span):
        x = layout.x_of(tick)
        parts.append(f'<line class="tick" x1="{x:.1f}" y1="{layout.top - 6}" x2="{x:.1f}" y2="{bottom}"/>')
        parts.append(
            f'<text class="axis" x="{x:.1f}" y="{layout.top - 10}">{_time_label(tick, layout.span)}</text>'
        )
    for row, name in enumerate(layout.rows):
        y = layout.top + row * layout.row_height
        if row % 2:
            parts.append(
                f'<rect class="stripe" x="0" y="{y}" width="{layout.width}" height="{layout.row_height}"/>'
            )
        label = name if len(name) <= 30 else name[:29] + "…"
        parts.append(
            f'<text class="label" x="{layout.label_width - 8}" y="{y + layout.row_height / 2 + 4:.1f}">'
            f"<title>{escape(name)}</title>{escape(label)}</text>"
        )
    for placed in layout.bars:
        bar = placed.bar
        tip = escape(f"{bar.label}: {bar.start * 1000:.1f} → {bar.end * 1000:.1f} ms ({bar.status})")
        if bar.milestone:
            cx, cy, r = placed.x, placed.y + placed.height / 2, placed.height / 2
            parts.append(
                f'<path class="milestone" d="M{cx:.1f} {cy - r:.1f} L{cx + r:.1f} {cy:.1f} L{cx:.1f} {cy + r:.1f} '
                f'L{cx - r:.1f} {cy:.1f} Z" fill="{colour(bar.status)}"><title>{tip}</title></path>'
            )
            continue
        stroke = f' stroke="{CRITICAL_STROKE}" stroke-width="2"' if bar.critical else ""
        parts.append(
            f'<rect class="bar {escape(bar.status)}" x="{placed.x}" y="{placed.y}" width="{placed.width}" '
            f'height="{placed.height}" rx="2" fill="{colour(bar.status)}"{stroke}><title>{tip}</title></rect>'
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class GraphLayout:
    """Nodes by level, left to right (pixels): ``nodes[name] = (x, y)`` of a node's top left."""

    width: int
    height: int
    node_width: int
    node_height: int
    nodes: dict[str, tuple[int, int]]
    edges: list[tuple[str, str]]
    hidden: int


def _levels(deps: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Each task's level: 0 for roots, else one more than its deepest dependency's."""
    level: dict[str, int] = {}
    for name in topological(deps):
        level[name] = max((level[p] + 1 for p in deps[name] if p in level), default=0)
    return level


def graph_layout(deps: Mapping[str, Sequence[str]]) -> GraphLayout:
    """Place the tasks of ``{task: [dependencies]}`` in columns by level."""
    levels = _levels(deps)
    names = [name for name in deps if name in levels][:MAX_DRAWN]
    node_width, node_height, gap_x, gap_y, pad = 170, 34, 56, 14, 12
    columns: dict[int, int] = {}
    nodes: dict[str, tuple[int, int]] = {}
    for name in names:
        level = levels[name]
        row = columns.get(level, 0)
        columns[level] = row + 1
        nodes[name] = (pad + level * (node_width + gap_x), pad + row * (node_height + gap_y))
    edges = [(parent, name) for name in names for parent in deps[name] if parent in nodes]
    depth = max(columns, default=-1) + 1
    tallest = max(columns.values(), default=0)
    width = pad * 2 + max(0, depth * (node_width + gap_x) - gap_x)
    height = pad * 2 + max(0, tallest * (node_height + gap_y) - gap_y)
    return GraphLayout(width, height, node_width, node_height, nodes, edges, len(deps) - len(names))


def graph_svg(layout: GraphLayout, status: Mapping[str, str], critical: set[str]) -> str:
    """The task graph as an inline ``<svg>``: nodes coloured by status, edges left to right."""
    w, h = layout.node_width, layout.node_height
    parts = [
        f'<svg id="graph" width="{layout.width}" height="{layout.height}" '
        f'viewBox="0 0 {layout.width} {layout.height}" role="img" aria-label="Task graph">'
    ]
    for parent, child in layout.edges:
        (px, py), (cx, cy) = layout.nodes[parent], layout.nodes[child]
        x1, y1, x2, y2 = px + w, py + h / 2, cx, cy + h / 2
        mid = (x1 + x2) / 2
        cls = "edge crit" if parent in critical and child in critical else "edge"
        parts.append(f'<path class="{cls}" d="M{x1} {y1} C{mid} {y1}, {mid} {y2}, {x2} {y2}"/>')
    for name, (x, y) in layout.nodes.items():
        state = status.get(name, "skipped")
        stroke = CRITICAL_STROKE if name in critical else colour(state)
        label = name if len(name) <= 22 else name[:21] + "…"
        parts.append(
            f'<g class="node"><title>{escape(name)} ({escape(state)})</title>'
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="#fff" stroke="{stroke}" '
            f'stroke-width="{3 if name in critical else 1.5}"/>'
            f'<rect x="{x}" y="{y}" width="6" height="{h}" rx="2" fill="{colour(state)}"/>'
            f'<text x="{x + 14}" y="{y + h / 2 + 4}">{escape(label)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
