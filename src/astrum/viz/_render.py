"""Rich rendering of builds, plans and reports (the ``astrum[viz]`` extra).

Nothing here is imported unless asked for; without rich installed every
function raises an ``ImportError`` that says ``pip install "astrum[viz]"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..core._typenames import type_name

if TYPE_CHECKING:
    from rich.console import Console

    from ..authoring._build import BuildResult
    from ..report._plan import ExecutionPlan
    from ..report._report import ExecutionReport

__all__ = ["print_build", "print_plan", "print_report", "require_rich"]

INSTALL_HINT = 'Visualisation needs the rich package: pip install "astrum[viz]"'
#: Above this many tasks the tree and matrix are replaced by the summary alone.
MAX_DRAWN_TASKS = 300


def require_rich() -> None:
    """Raise an ``ImportError`` naming the install command unless rich is importable."""
    try:
        import rich.console  # noqa: F401
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc


def _console(console: Console | None) -> Console:
    require_rich()
    from rich.console import Console

    return console if console is not None else Console()


def _locator_label(locator: Any) -> str:
    if locator is None:
        return "•"
    if isinstance(locator, int):
        return f"[{locator}]"
    return repr(locator)


def _type_label(tp: Any) -> str:
    text = type_name(tp)
    return "Any" if text == "<unannotated>" else text


def print_build(result: BuildResult, console: Console | None = None) -> None:
    """Print a build: the DAG tree with data lines, the data-transport matrix and a summary."""
    out = _console(console)
    from rich.panel import Panel
    from rich.table import Table
    from rich.tree import Tree

    graph = result.graph
    names = graph.names
    inputs: dict[str, list[str]] = {name: [] for name in names}
    outputs: dict[str, list[str]] = {name: [] for name in names}
    functions = 0
    for tid in result.selected:
        prep = result.prepared[tid]
        for inp in prep.inputs:
            if inp.use_function:
                functions += 1
                fn_name = getattr(inp.from_function, "__name__", repr(inp.from_function))
                inputs[tid].append(f"⬅ {_locator_label(None)} ← ƒ({fn_name}) → {inp.target}")
        for source, locator, param, expected in prep.edges:
            inputs[tid].append(f"⬅ {_locator_label(locator)} ← {source} → {param} : {_type_label(expected)}")
            outputs[source].append(f"➡ {_locator_label(locator)} → {tid}.{param} : {_type_label(expected)}")
    edges = graph.edge_count
    fan_in = sum(1 for p in graph.parents if len(p) > 1)
    fan_out = sum(1 for c in graph.children if len(c) > 1)
    transports = sum(len(v) for v in inputs.values())

    if len(names) <= MAX_DRAWN_TASKS:
        tree = Tree("📋 Astrum DAG 依赖树 (dependency tree)")
        expanded: set[int] = set()
        # Iterative depth-first expansion: roots first, each task expanded once.
        stack: list[tuple[Tree, int]] = [(tree, i) for i in reversed(graph.roots())]
        while stack:
            parent, i = stack.pop()
            name = names[i]
            if i in expanded:
                parent.add(f"[dim]↩ {name} (已展开 / shown above)[/dim]")
                continue
            expanded.add(i)
            badges = ""
            if len(graph.parents[i]) > 1:
                badges += f" [cyan]⇠×{len(graph.parents[i])}[/cyan]"
            if len(graph.children[i]) > 1:
                badges += f" [magenta]⇢×{len(graph.children[i])}[/magenta]"
            node = parent.add(f"[bold]{name}[/bold]{badges}")
            for line in inputs[name] + outputs[name]:
                node.add(f"[green]{line}[/green]" if line.startswith("⬅") else f"[yellow]{line}[/yellow]")
            for child in reversed(graph.children[i]):
                stack.append((node, child))
        out.print(Panel(tree, title="Astrum Execution Plan"))

        table = Table(title="📊 Data Transport Matrix")
        table.add_column("Task")
        table.add_column("Input ⬅")
        table.add_column("Output ➡")
        for name in names:
            ins = "\n".join(f"{k}. {line[2:]}" for k, line in enumerate(inputs[name])) or "—"
            outs = "\n".join(f"{k}. {line[2:]}" for k, line in enumerate(outputs[name])) or "—"
            table.add_row(name, ins, outs)
        out.print(table)

    summary = [
        f"任务总数 tasks: {len(names)}",
        f"依赖边数 dependency edges: {edges}",
        f"数据传输项 data transports: {transports}",
    ]
    if functions:
        summary.append(f"外部函数注入 function injections: {functions}")
    summary.append(f"多源汇聚节点 fan-in tasks: {fan_in}")
    summary.append(f"多路扇出节点 fan-out tasks: {fan_out}")
    out.print(Panel("\n".join(summary), title="📈 统计摘要 (summary)"))


def print_plan(plan: ExecutionPlan, console: Console | None = None) -> None:
    """Print the stage view of a plan as a table."""
    out = _console(console)
    from rich.table import Table

    table = Table(title=f"Stage view ({len(plan.stages)} stages, max parallelism {plan.max_parallelism})")
    table.add_column("stage", justify="right")
    table.add_column("starts")
    table.add_column("waits for")
    for stage in plan.stages:
        table.add_row(
            str(stage.stage_id), ", ".join(stage.start_tasks), ", ".join(stage.wait_for_tasks) or "—"
        )
    out.print(table)


_STATUS_STYLE = {
    "completed": "green",
    "failed": "bold red",
    "cancelled": "yellow",
    "skipped": "dim",
    "timed_out": "red",
}


def _bar(start: float, end: float, origin: float, span: float, width: int) -> str:
    if span <= 0:
        return "█"
    left = int((start - origin) / span * width)
    length = max(1, round((end - start) / span * width))
    left = min(left, width - 1)
    return " " * left + "█" * min(length, width - left)


def print_report(
    report: ExecutionReport, console: Console | None = None, *, width: int | None = None, max_rows: int = 60
) -> None:
    """Print a report: one row per task with a timeline bar, then the critical path and the summary.

    ``width`` is the timeline's width in characters (default: what the console leaves free).
    """
    out = _console(console)
    if width is None:
        width = max(10, min(48, out.width - 72))
    from rich.table import Table

    stats = sorted(report.task_statistics, key=lambda s: (s.start_time, s.task_name))
    origin = report.total_start_time
    span = max(report.total_duration, 1e-9)
    critical = set(report.critical_path)
    table = Table(title=f"Run report: {report.execution_state} in {report.total_duration * 1000:.1f} ms")
    table.add_column("task")
    table.add_column("status")
    table.add_column("start ms", justify="right")
    table.add_column("duration ms", justify="right")
    table.add_column("tries", justify="right")
    table.add_column("timeline")
    for stat in stats[:max_rows]:
        style = _STATUS_STYLE.get(stat.status, "")
        name = f"[bold]{stat.task_name}[/bold] ★" if stat.task_name in critical else stat.task_name
        bar_style = "magenta" if stat.task_name in critical else "cyan"
        table.add_row(
            name,
            f"[{style}]{stat.status}[/{style}]" if style else stat.status,
            f"{(stat.start_time - origin) * 1000:.1f}",
            f"{stat.duration * 1000:.1f}",
            str(stat.attempt_count),
            f"[{bar_style}]{_bar(stat.start_time, stat.end_time, origin, span, width)}[/{bar_style}]",
        )
    if len(stats) > max_rows:
        table.add_row(f"… {len(stats) - max_rows} more", "", "", "", "", "")
    out.print(table)
    path = report.critical_path
    if path:
        by_name = {s.task_name: s for s in report.task_statistics}
        length = sum(by_name[name].duration for name in path if name in by_name)
        out.print(
            f"[bold]Critical path[/bold] ★ {' → '.join(path)}  "
            f"({length * 1000:.1f} ms of task time; makespan {report.total_duration * 1000:.1f} ms)"
        )
    out.print(
        f"{report.successful_tasks}/{report.total_tasks} tasks completed, {report.failed_tasks} failed"
        + (f"; {_plural(len(report.error_summary), 'summary line')}" if report.error_summary else "")
    )
    for line in _head(report.error_summary, 8):
        out.print(f"  [red]{line}[/red]")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _head(lines: Sequence[str], n: int) -> list[str]:
    return list(lines[:n]) + ([f"… {len(lines) - n} more"] if len(lines) > n else [])
