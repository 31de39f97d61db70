"""report.to_mermaid_gantt(): a bar per attempt at its real time, sections by status, the critical path crit."""

from __future__ import annotations

import re

from _viz_runs import cancelled_report, pipeline_report
from astrum import ExecutionReport, TaskAttemptStatistics, TaskExecutionStatistics

TASK = re.compile(r"^    (?P<text>[^:]+) :(?P<meta>.+)$")
ENTITIES = {"quot": '"', "amp": "&", "lt": "<", "gt": ">"}


def unescape(text: str) -> str:
    return re.sub(r"#(\w+);", lambda m: ENTITIES[m[1]] if m[1] in ENTITIES else chr(int(m[1])), text)


def parse_gantt(source: str) -> list[dict]:
    """One dict per bar: section, task, attempt (0: the whole task), tags, start and end (ms)."""
    lines = source.splitlines()
    assert lines[0] == "gantt"
    assert "    dateFormat x" in lines  # milliseconds
    section = None
    bars = []
    for line in lines[1:]:
        if line.startswith("    section "):
            section = unescape(line.removeprefix("    section "))
            continue
        match = TASK.match(line)
        if match is None:
            assert line.split()[0] in ("title", "dateFormat", "axisFormat", "todayMarker"), line
            continue
        *tags, _bar_id, start, end = [part.strip() for part in match["meta"].split(",")]
        text = unescape(match["text"].strip())
        task, _, rest = text.partition(" · ")
        attempt = int(rest.split()[1]) if rest.startswith("attempt ") else 0
        bars.append(
            {
                "section": section,
                "task": task,
                "attempt": attempt,
                "tags": set(tags),
                "start": int(start),
                "end": int(end),
            }
        )
    return bars


def ms(report: ExecutionReport, epoch: float) -> int:
    return round((epoch - report.total_start_time) * 1000)


def expected_bars(report: ExecutionReport) -> list[dict]:
    critical = set(report.critical_path)
    out = []
    for stat in report.task_statistics:
        crit = {"crit"} if stat.task_name in critical else set()
        if stat.status == "skipped":
            at = ms(report, stat.start_time)
            out.append(
                {
                    "section": "skipped",
                    "task": stat.task_name,
                    "attempt": 0,
                    "tags": crit | {"milestone"},
                    "start": at,
                    "end": at,
                }
            )
        elif not stat.attempt_statistics:
            done = {"done"} if stat.status == "completed" else set()
            out.append(
                {
                    "section": stat.status,
                    "task": stat.task_name,
                    "attempt": 0,
                    "tags": crit | done,
                    "start": ms(report, stat.start_time),
                    "end": ms(report, stat.end_time),
                }
            )
        else:
            many = len(stat.attempt_statistics) > 1
            for a in stat.attempt_statistics:
                done = {"done"} if a.status == "completed" else set()
                out.append(
                    {
                        "section": stat.status,
                        "task": stat.task_name,
                        "attempt": a.attempt_number if many else 0,
                        "tags": crit | done,
                        "start": ms(report, a.start_time),
                        "end": ms(report, a.end_time),
                    }
                )
    return out


def key(bar: dict) -> tuple:
    return bar["task"], bar["attempt"]


async def test_gantt_has_a_bar_per_attempt_in_its_status_section_and_the_critical_path_crit():
    report = await pipeline_report()

    bars = parse_gantt(report.to_mermaid_gantt())

    assert sorted(bars, key=key) == sorted(expected_bars(report), key=key)
    summarise = [b for b in bars if b["task"] == "summarise"]
    assert [(b["attempt"], b["end"] - b["start"]) for b in summarise] == [(1, 40), (2, 40)]
    assert summarise[1]["start"] - summarise[0]["end"] == 30  # the backoff between the attempts
    assert (
        {b["task"] for b in bars if "crit" in b["tags"]}
        == set(report.critical_path)
        == {
            "load_users",
            "summarise",
            "publish",
        }
    )
    sections = [
        line.removeprefix("    section ")
        for line in report.to_mermaid_gantt().splitlines()
        if "section" in line
    ]
    assert sections == ["completed", "failed", "skipped"]
    assert {b["task"] for b in bars if b["section"] == "failed"} == {"broken"}


async def test_gantt_puts_cancelled_tasks_in_their_section_and_skipped_ones_as_milestones():
    report = await cancelled_report()

    bars = parse_gantt(report.to_mermaid_gantt())

    assert sorted(bars, key=key) == sorted(expected_bars(report), key=key)
    by_task = {b["task"]: b for b in bars}
    assert (
        by_task["slow"]["section"] == "cancelled" and by_task["slow"]["end"] - by_task["slow"]["start"] == 100
    )
    assert by_task["after"]["section"] == "skipped" and "milestone" in by_task["after"]["tags"]
    assert by_task["after"]["start"] == by_task["after"]["end"]


def test_gantt_of_a_report_made_from_public_fields_alone():
    """A report rebuilt elsewhere (a run store) has only its public fields: no run behind it."""
    t0 = 1_700_000_000.0
    attempts = [
        TaskAttemptStatistics("fetch: v2", 1, 1, t0 + 0.010, t0 + 0.030, 0.020, "failed", "HTTP 503", True),
        TaskAttemptStatistics(
            "fetch: v2", 2, 1, t0 + 0.050, t0 + 0.090, 0.040, "completed", delay_before=0.02
        ),
    ]
    report = ExecutionReport(
        total_start_time=t0,
        total_end_time=t0 + 0.1,
        total_duration=0.1,
        total_tasks=3,
        successful_tasks=2,
        task_statistics=[
            TaskExecutionStatistics(
                "fetch: v2",
                0,
                t0 + 0.010,
                t0 + 0.090,
                0.080,
                "completed",
                retry=1,
                attempt_count=2,
                attempt_statistics=attempts,
            ),
            TaskExecutionStatistics("store", 1, t0 + 0.090, t0 + 0.100, 0.010, "completed"),
            TaskExecutionStatistics("notify", 1, t0 + 0.1, t0 + 0.1, 0.0, "skipped"),
        ],
        execution_state="completed",
        original_tasks={"fetch: v2": [], "store": ["fetch: v2"], "notify": ["fetch: v2"]},
        critical_path=["fetch: v2", "store"],
    )

    bars = parse_gantt(report.to_mermaid_gantt())

    assert sorted(bars, key=key) == sorted(expected_bars(report), key=key)
    assert [(b["task"], b["start"], b["end"]) for b in bars if b["task"] == "fetch: v2"] == [
        ("fetch: v2", 10, 30),
        ("fetch: v2", 50, 90),
    ]
