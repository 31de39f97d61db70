"""The run store contract, checked against every store (``store`` fixture: memory and SQLite)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from _store_records import Opaque, complete, fail, same, start_run, tagged_values

from astrum._errors import AstrumError, RunStoreError, UnknownRunError
from astrum.report._report import ExecutionReport
from astrum.store._base import (
    AttemptRecord,
    PickleSerializerWarning,
    RunStore,
    TaskRecord,
    UnstorableResultWarning,
)
from astrum.store._memory import MemoryStore
from astrum.store._sqlite import SQLiteStore

DIAMOND = {"load": (), "left": ("load",), "right": ("load",), "join": ("left", "right")}


def test_both_stores_satisfy_the_protocol(store: Any) -> None:
    assert isinstance(store, RunStore)


def test_recorded_run_is_listed_and_rebuilt_into_a_report(store: Any) -> None:
    t0 = time.time() - 100
    record = start_run(store, "r1", DIAMOND, namespace="etl", start_time=t0)
    complete(store, "r1", "load", {"rows": [1, 2, 3]}, at=t0 + 1)
    store.attempt_finished(
        "r1", AttemptRecord("left", 1, "failed", t0 + 2, t0 + 3, "builtins.OSError", "flaky")
    )
    store.attempt_finished("r1", AttemptRecord("left", 2, "completed", t0 + 3.5, t0 + 4, delay_before=0.5))
    store.task_finished("r1", TaskRecord("left", "completed", t0 + 2, t0 + 4, result=6))
    fail(store, "r1", "right", "bad row 7", at=t0 + 1)
    store.task_finished(
        "r1",
        TaskRecord("join", "skipped", None, None, error_message="Skipped: 'right' failed", caused_by="right"),
    )
    store.run_finished("r1", "failed", t0 + 10)

    [summary] = store.runs()
    assert (summary.run_id, summary.namespace, summary.state) == ("r1", "etl", "failed")
    assert (summary.start_time, summary.end_time) == (t0, t0 + 10)
    assert (summary.total, summary.completed, summary.failed, summary.resumed_from) == (4, 2, 1, None)
    assert store.run("r1") == record

    report = store.report("r1")
    assert isinstance(report, ExecutionReport)
    assert report.run_id == "r1"
    assert report.execution_state == "failed"
    assert (report.total_start_time, report.total_end_time, report.total_duration) == (t0, t0 + 10, 10)
    assert (report.total_tasks, report.successful_tasks, report.failed_tasks) == (4, 2, 1)
    stats = {s.task_name: s for s in report.task_statistics}
    assert {name: s.status for name, s in stats.items()} == {
        "load": "completed", "left": "completed", "right": "failed", "join": "skipped",
    }  # fmt: skip
    left = stats["left"]
    assert [a.status for a in left.attempt_statistics] == ["failed", "completed"]
    assert [a.will_retry for a in left.attempt_statistics] == [True, False]
    assert left.attempt_statistics[0].error_message == "flaky"
    assert left.attempt_statistics[1].delay_before == 0.5
    right = stats["right"]
    assert right.error_message == "ValueError: bad row 7"
    assert right.exception is not None and str(right.exception) == "bad row 7"
    assert "ValueError: bad row 7" in right.exception.traceback  # type: ignore[attr-defined]
    assert report.exceptions["right"] is right.exception
    assert stats["join"].caused_by == "right"
    assert "Task 'right' failed during execution: bad row 7" in report.error_summary
    assert report.error_summary[0] == "Execution interrupted; task 'right' failed: bad row 7"
    assert report.results == {"load": {"rows": [1, 2, 3]}, "left": 6}
    assert report.original_tasks == {
        "load": [],
        "left": ["load"],
        "right": ["load"],
        "join": ["left", "right"],
    }
    assert report.critical_path == ["load", "left"]
    assert [s.stage_id for s in report.stage_statistics] == [0, 1]
    assert report.to_json()  # the rebuilt report exports like a live one


def test_graph_tasks_without_a_record_are_reported_skipped(store: Any) -> None:
    start_run(store, "r1", DIAMOND)
    complete(store, "r1", "load", 1)
    fail(store, "r1", "left", "boom")
    store.run_finished("r1", "failed", time.time())

    stats = {s.task_name: s for s in store.report("r1").task_statistics}
    assert stats["right"].status == stats["join"].status == "skipped"
    assert stats["right"].attempt_count == 0


def test_run_of_this_live_process_is_running_and_unfinished_tasks_are_not_started(store: Any) -> None:
    start_run(store, "r1", DIAMOND)
    complete(store, "r1", "load", 1)

    assert [s.state for s in store.runs()] == ["running"]
    report = store.report("r1")
    assert report.execution_state == "running"
    not_started = [s for s in report.task_statistics if s.status == "skipped"]
    assert [s.task_name for s in not_started] == ["left", "right", "join"]
    assert all(s.error_message.startswith("Not started") for s in not_started)  # type: ignore[union-attr]


def test_runs_are_newest_first_filtered_by_namespace_and_state_and_limited(store: Any) -> None:
    t0 = time.time() - 1000
    for k, (namespace, state) in enumerate(
        [
            ("etl", "completed"),
            ("rag", "failed"),
            ("etl", "failed"),
            ("etl", "cancelled"),
            ("rag", "completed"),
        ]
    ):
        start_run(store, f"r{k}", {"a": ()}, namespace=namespace, start_time=t0 + k)
        store.run_finished(f"r{k}", state, t0 + k + 0.5)
    start_run(store, "live", {"a": ()}, namespace="etl", start_time=t0 + 10)

    assert [s.run_id for s in store.runs()] == ["live", "r4", "r3", "r2", "r1", "r0"]
    assert [s.run_id for s in store.runs(namespace="etl")] == ["live", "r3", "r2", "r0"]
    assert [s.run_id for s in store.runs(state="failed")] == ["r2", "r1"]
    assert [s.run_id for s in store.runs(namespace="rag", state="completed")] == ["r4"]
    assert [s.run_id for s in store.runs(state="running")] == ["live"]
    assert store.runs(state="interrupted") == []
    assert [s.run_id for s in store.runs(limit=2)] == ["live", "r4"]
    assert [s.run_id for s in store.runs(state="failed", limit=1)] == ["r2"]
    assert store.runs(limit=0) == []
    with pytest.raises(ValueError, match="choose one of running, completed"):
        store.runs(state="done")


def test_prune_deletes_old_finished_runs_with_their_records_never_a_running_one(store: Any) -> None:
    day = 86400.0
    now = time.time()
    for run_id, started in [("old", now - 40 * day), ("recent", now - 2 * day)]:
        start_run(store, run_id, {"a": ()}, start_time=started)
        complete(store, run_id, "a", run_id)
        store.run_finished(run_id, "completed", started + 60)
    start_run(store, "old-but-running", {"a": ()}, start_time=now - 50 * day)

    assert store.prune(older_than="30d") == 1
    assert [s.run_id for s in store.runs()] == ["recent", "old-but-running"]
    with pytest.raises(UnknownRunError):
        store.results("old")
    assert store.prune(older_than=timedelta(days=30)) == 0
    assert store.prune(older_than=24 * 3600.0) == 1  # seconds
    assert [s.run_id for s in store.runs()] == ["old-but-running"]
    with pytest.raises(ValueError, match=r"e\.g\. '30d'"):
        store.prune(older_than="thirty days")


@pytest.mark.parametrize("method", ["run", "report", "results", "unstorable"])
def test_unknown_run_id_raises_an_error_naming_it_and_how_to_list_runs(store: Any, method: str) -> None:
    start_run(store, "known", {"a": ()})
    with pytest.raises(UnknownRunError) as caught:
        getattr(store, method)("nope-123")
    assert isinstance(caught.value, LookupError) and isinstance(caught.value, AstrumError)
    assert caught.value.run_id == "nope-123"
    assert "'nope-123'" in str(caught.value) and "astrum runs" in str(caught.value)


def test_unstorable_result_is_recorded_with_its_reason_and_a_warning_naming_the_task(store: Any) -> None:
    start_run(store, "r1", {"fine": (), "bad": ()})
    complete(store, "r1", "fine", [1, 2])
    with pytest.warns(UnstorableResultWarning, match="task 'bad'.*builtins.object"):
        complete(store, "r1", "bad", {"handle": object()})
    store.run_finished("r1", "completed", time.time())

    reasons = store.unstorable("r1")
    assert list(reasons) == ["bad"]
    assert "result['handle'] is a builtins.object" in reasons["bad"]
    assert store.results("r1") == {"fine": [1, 2]}
    report = store.report("r1")
    assert report.successful_tasks == 2 and report.results == {"fine": [1, 2]}
    assert store.runs()[0].completed == 2


def test_result_is_stored_as_returned_even_if_mutated_afterwards(store: Any) -> None:
    start_run(store, "r1", {"a": ()})
    rows = [1, 2]
    complete(store, "r1", "a", rows)
    rows.append(3)  # e.g. a downstream task appending to its input
    assert store.results("r1") == {"a": [1, 2]}


def test_results_round_trip_every_tagged_type(store: Any) -> None:
    values = tagged_values()
    start_run(store, "r1", {name: () for name in values})
    for name, value in values.items():
        complete(store, "r1", name, value)

    loaded = store.results("r1")
    assert list(loaded) == list(values)
    mismatched = [name for name, value in values.items() if not same(value, loaded[name])]
    assert mismatched == []
    assert store.unstorable("r1") == {}


def test_recording_or_reading_after_close_raises(store: Any) -> None:
    start_run(store, "r1", {"a": ()})
    store.close()
    with pytest.raises(RunStoreError, match="closed"):
        complete(store, "r1", "a", 1)
    with pytest.raises(RunStoreError, match="closed"):
        store.runs()
    with pytest.raises(RunStoreError, match="closed"):
        asyncio.run(store.flush())


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_pickle_serializer_stores_values_json_cannot(kind: str, tmp_path: Path) -> None:
    if kind == "sqlite":
        with pytest.warns(PickleSerializerWarning, match="runs code"):
            made: Any = SQLiteStore(tmp_path / "runs.db", serializer="pickle")
    else:
        made = MemoryStore(serializer="pickle")
    with made:
        start_run(made, "r1", {"a": ()})
        complete(made, "r1", "a", {"obj": Opaque(5)})
        assert made.results("r1") == {"a": {"obj": Opaque(5)}}
        assert made.unstorable("r1") == {}


async def test_flush_returns_once_everything_recorded_is_readable(store: Any) -> None:
    start_run(store, "r1", {f"t{i}": () for i in range(200)})
    for i in range(200):
        complete(store, "r1", f"t{i}", i)
    await store.flush()
    assert len(store.results("r1")) == 200
