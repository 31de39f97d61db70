"""Render measurement records as a markdown report."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from _measure import Record

__all__ = ["render_report"]

_COLUMNS = (
    "N",
    "system",
    "build s",
    "run s",
    "µs/task",
    "run µs/task",
    "peak RSS MB",
    "× baseline",
    "run × baseline",
)
_LATENCY_COLUMNS = ("makespan s", "critical path s", "level-sync s", "makespan / CP")


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4f}" if value < 1 else f"{value:.2f}"


def _number(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _ratio(value: float | None, reference: float | None) -> str:
    if value is None or not reference:
        return ""
    return f"{value / reference:.2f}×"


def _cell(text: str, limit: int = 140) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _status(record: Record) -> str:
    if record.get("skipped"):
        return str(record["skipped"])
    if record.get("ok"):
        return "ok"
    return _cell(f"error: {record.get('error')}")


def _row(record: Record, baseline: Record | None, latency: bool) -> list[str]:
    ok = bool(record.get("ok"))
    reference = baseline if baseline and baseline.get("ok") else None
    timed: Record = record if ok or "total_s" in record else Record()
    cells = [
        f"{record['size']:,}",
        record["system"],
        _seconds(timed.get("build_s")),
        _seconds(timed.get("run_s")),
        _number(timed.get("us_per_task")),
        _number(timed.get("run_us_per_task")),
        _number(record.get("peak_rss_mb")) if not record.get("skipped") else "",
        _ratio(record.get("total_s") if ok else None, reference.get("total_s") if reference else None),
        _ratio(record.get("run_s") if ok else None, reference.get("run_s") if reference else None),
    ]
    if latency:
        makespan = timed.get("makespan_s")
        path = record.get("critical_path_s")
        cells += [
            _seconds(makespan),
            _seconds(path),
            _seconds(record.get("level_sync_s")),
            _ratio(makespan if ok else None, path),
        ]
    return [*cells, _status(record)]


def _table(records: Sequence[Record]) -> list[str]:
    latency = any("critical_path_s" in r for r in records)
    header = [*_COLUMNS, *(_LATENCY_COLUMNS if latency else ()), "status"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    baselines = {r["size"]: r for r in records if r["system"] == "baseline"}
    for record in records:
        cells = _row(record, baselines.get(record["size"]), latency)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _packages(records: Iterable[Record]) -> list[str]:
    seen: dict[str, str] = {}
    for r in records:
        if r.get("package") and r["system"] not in seen:
            seen[r["system"]] = str(r["package"])
    return [f"- `{system}`: {package}" for system, package in seen.items()]


def render_report(records: Sequence[Record], preamble: Sequence[str]) -> str:
    """The whole markdown report: preamble lines, packages measured, one table per workload."""
    lines = [*preamble]
    packages = _packages(records)
    if packages:
        lines += ["", "Packages measured:", "", *packages]
    workloads = list(dict.fromkeys(r["workload"] for r in records))
    for workload in workloads:
        lines += ["", f"### {workload}", "", *_table([r for r in records if r["workload"] == workload])]
    return "\n".join(lines) + "\n"
