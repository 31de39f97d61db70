"""Why was it slow: str(report) in plain text, report.render() with rich, and the analysis behind them."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from _viz_runs import ERROR_TEXT, pipeline_report
from astrum import ExecutionReport, TaskExecutionStatistics
from astrum.viz._slow import analyse


async def test_critical_path_is_taken_apart_into_queued_pool_wait_backoff_and_running():
    report = await pipeline_report()

    analysis = analyse(report)

    steps = {step.task: step for step in analysis.path}
    assert list(steps) == ["load_users", "summarise", "publish"]
    summarise = steps["summarise"]
    # Ready at 50 ms, the pool frees at 80; attempt 1 runs 40 and fails, 30 of backoff, attempt 2 runs 40.
    assert summarise.pool_wait == pytest.approx(0.030, abs=1e-4)
    assert summarise.backoff == pytest.approx(0.030, abs=1e-4)
    assert summarise.retried == pytest.approx(0.040, abs=1e-4)
    assert summarise.running == pytest.approx(0.040, abs=1e-4)
    assert summarise.queued == pytest.approx(0.0, abs=1e-4)
    assert steps["load_users"].running == pytest.approx(0.050, abs=1e-4)
    assert analysis.pool_wait == pytest.approx(0.030, abs=1e-4)
    assert analysis.share(analysis.pool_wait) == pytest.approx(0.030 / report.total_duration)
    assert analysis.share(analysis.backoff) == pytest.approx(0.030 / report.total_duration, rel=1e-2)


async def test_slack_is_latest_finish_minus_actual_finish_from_the_graph():
    report = await pipeline_report()

    slack = {item.task: item.slack for item in analyse(report).slack}

    # publish could have started at 190 ms at the latest: classify (ended 80) had 110 ms to spare,
    # and so had load_orders (classify took 60 ms from ready to done). The critical path has none.
    assert slack == {
        "classify": pytest.approx(0.110, abs=1e-3),
        "load_orders": pytest.approx(0.110, abs=1e-3),
    }


def _stat(name: str, start: float, end: float, queued: float = 0.0) -> TaskExecutionStatistics:
    return TaskExecutionStatistics(name, 0, start, end, end - start, "completed", queued_duration=queued)


def test_slack_of_a_hand_made_report_counts_the_childs_queue_time():
    # a ─┬─ b (ready at 1, queued 1, runs 2 → 4) ─ d (4 → 5)
    #    └─ c (1 → 2) ────────────────────────────┘
    report = ExecutionReport(
        total_start_time=0.0,
        total_duration=5.0,
        task_statistics=[_stat("a", 0, 1), _stat("b", 2, 4, queued=1.0), _stat("c", 1, 2), _stat("d", 4, 5)],
        original_tasks={"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]},
        critical_path=["a", "b", "d"],
    )

    analysis = analyse(report)

    assert [(s.task, s.slack) for s in analysis.slack] == [("c", pytest.approx(2.0))]
    assert [(step.task, step.ready, step.queued) for step in analysis.path] == [
        ("a", 0, 0),
        ("b", 1, 1),
        ("d", 4, 0),
    ]


async def test_str_of_a_report_is_a_plain_text_why_slow_summary():
    report = await pipeline_report()

    text = str(report)

    lines = text.splitlines()
    assert lines[0].startswith("Run failed in ") and "5/7 tasks completed, 1 failed" in lines[0]
    for name in ("load_users", "load_orders", "summarise", "classify", "publish", "broken", "after_broken"):
        assert any(line.split()[0] == name for line in lines[1:9]), name
    assert "Critical path (*): load_users -> summarise -> publish" in text
    path_rows = [line.split() for line in lines if line.split()[:1] == ["summarise"] and "*" not in line]
    assert len(path_rows) == 1  # the task table's row is "summarise *"
    assert path_rows[0][3:] == ["30.0", "30.0", "40.0", "40.0"]  # pool wait, backoff, retried, running
    assert "waited 30.0 ms for pools (15%)" in text
    assert "classify" in text.split("Most slack")[1] and "+110.0" in text.split("Most slack")[1]
    assert ERROR_TEXT in text
    assert "\x1b[" not in text  # no terminal styling


async def test_repr_stays_short_and_the_report_is_still_a_dataclass():
    report = await pipeline_report()

    assert repr(report).startswith("ExecutionReport(execution_state='failed'") and "\n" not in repr(report)
    assert len(repr(report)) < 200
    assert str(report) != repr(report)
    names = {f.name for f in dataclasses.fields(report)}
    assert {"task_statistics", "critical_path", "original_tasks"} <= names
    copy = dataclasses.replace(report, execution_state="completed")
    assert copy.execution_state == "completed" and copy.task_statistics == report.task_statistics
    assert "Run completed in" in str(copy)
    assert str(ExecutionReport()).startswith("Run none in 0.0 ms: 0/0 tasks completed")


def test_str_needs_no_rich():
    code = (
        "import sys; sys.modules['rich'] = None\n"
        "from astrum import ExecutionReport, TaskExecutionStatistics\n"
        "r = ExecutionReport(total_duration=1.0, task_statistics=[TaskExecutionStatistics('only', 0, 0.0, 1.0, 1.0, 'completed')],"
        " original_tasks={'only': []}, critical_path=['only'])\n"
        "print(r)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert "Critical path (*): only" in result.stdout


async def test_render_prints_the_tables_with_rich():
    from rich.console import Console

    report = await pipeline_report()
    console = Console(record=True, width=160, color_system=None)

    report.render(console)

    text = console.export_text()
    assert "Run failed in" in text
    for name in ("load_users", "load_orders", "summarise", "classify", "publish", "broken", "after_broken"):
        assert name in text
    assert "Critical path (*)" in text and "pool wait" in text and "backoff" in text
    assert "Most slack" in text and "+110.0" in text
    assert "waited 30.0 ms for pools (15%)" in text


async def test_render_without_rich_names_the_extra(monkeypatch):
    report = await pipeline_report()
    monkeypatch.setitem(sys.modules, "rich", None)
    monkeypatch.setitem(sys.modules, "rich.console", None)

    with pytest.raises(ImportError, match=r"pip install \"astrum\[viz\]\""):
        report.render()
