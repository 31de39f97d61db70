"""Runs recorded into a store as they happen: every attempt and task outcome, results, the run's end."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _store_records import Invoice, Point

import astrum
from astrum import (
    AstrumConfig,
    ConfigurationTypeError,
    DynamicScheduler,
    F,
    MemoryStore,
    Ref,
    Retry,
    RunContext,
    SchedulerRegistry,
    SQLiteStore,
    StoredTaskError,
    TaskOrder,
    fn_hook,
)
from astrum.lifecycle import _events
from astrum.testing import FakeClock


def eventful_registry(clock: FakeClock) -> SchedulerRegistry:
    """A run with a success, a retried success, a timeout, a failure, skipped and cancelled tasks.

    With ``failure_policy="continue"`` and a deadline of 5 (virtual) seconds: ``timer`` times out
    twice, ``boom`` fails, ``after_boom`` is skipped, ``sleeper`` is cancelled at the deadline
    and ``after_sleeper`` skipped.
    """
    registry = SchedulerRegistry("eventful")
    flaky_calls = [0]

    @registry.task()
    async def load() -> dict[str, Any]:
        return {"rows": (1, 2, 3), "when": "today"}

    @registry.task(retry=Retry(retries=2, delay=0.5, jitter=0))
    async def flaky(rows: Ref[tuple[int, ...], F("load", "rows")]) -> int:
        flaky_calls[0] += 1
        if flaky_calls[0] == 1:
            raise ConnectionError("service busy")
        return sum(rows)

    @registry.task(timeout=1.0, retry=1)
    async def timer() -> None:
        await clock.sleep(10)

    @registry.task()
    async def boom(total: Ref[int, F("flaky")]) -> None:
        raise ValueError(f"boom at {total}")

    @registry.task()
    async def after_boom(_: Ref[None, F("boom")]) -> str:
        return "never"

    @registry.task()
    async def sleeper() -> None:
        await clock.sleep(100)

    @registry.task()
    async def after_sleeper(_: Ref[None, F("sleeper")]) -> str:
        return "never"

    return registry


def outcome(report: astrum.ExecutionReport) -> dict[str, Any]:
    """What a stored report must say like the live one: per task, status, message and attempts."""
    return {
        stat.task_name: (
            stat.status,
            stat.error_message,
            stat.caused_by,
            [(a.attempt_number, a.status, a.error_message, a.will_retry) for a in stat.attempt_statistics],
        )
        for stat in report.task_statistics
    }


async def test_a_run_lands_in_the_store_as_the_live_report_tells_it(store: Any) -> None:
    clock = FakeClock()
    registry = eventful_registry(clock)
    config = AstrumConfig(clock=clock, failure_policy="continue", deadline=5.0)

    report = await registry.run(config=config, store=store)
    await store.flush()

    assert report.execution_state == "failed"
    assert {stat.task_name: stat.status for stat in report.task_statistics} == {
        "load": "completed",
        "flaky": "completed",
        "timer": "timed_out",
        "boom": "failed",
        "after_boom": "skipped",
        "sleeper": "cancelled",
        "after_sleeper": "skipped",
    }
    stored = store.report(report.run_id)
    assert stored.run_id == report.run_id
    assert stored.execution_state == report.execution_state
    assert outcome(stored) == outcome(report)
    assert stored.results == report.results == {"load": {"rows": (1, 2, 3), "when": "today"}, "flaky": 6}
    assert (stored.successful_tasks, stored.failed_tasks, stored.total_tasks) == (2, 2, 7)
    flaky = {stat.task_name: stat for stat in stored.task_statistics}["flaky"]
    assert [a.delay_before for a in flaky.attempt_statistics] == [0.0, 0.5]
    error = stored.exceptions["boom"]
    assert isinstance(error, StoredTaskError)
    assert (error.type_name, str(error)) == ("builtins.ValueError", "boom at 6")
    assert error.traceback is not None and "ValueError: boom at 6" in error.traceback
    assert stored.exceptions["timer"].type_name == "astrum._errors.TaskTimeoutError"  # type: ignore[attr-defined]
    [summary] = store.runs()
    assert (summary.run_id, summary.namespace, summary.state) == (report.run_id, "eventful", "failed")
    assert (summary.total, summary.completed, summary.failed) == (7, 2, 2)


async def test_a_task_s_result_is_in_the_store_before_the_run_ends(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    store = SQLiteStore(path)
    registry = SchedulerRegistry("midway")
    seen: dict[str, Any] = {}

    @registry.task()
    async def first() -> Invoice:
        return Invoice(number=1, customer="ACME", issued="2024-03-01", lines=[("bolt", "0.25")])

    @registry.task()
    async def second(ctx: RunContext, invoice: Ref[Invoice, F("first")]) -> int:
        await store.flush()
        with SQLiteStore(path) as other:  # another connection, as the CLI or another process reads
            [summary] = other.runs()
            seen["state"] = summary.state
            seen["results"] = other.results(ctx.run_id)  # type: ignore[arg-type]
        return invoice.number

    report = await registry.run(store=store)
    store.close()

    assert report.execution_state == "completed"
    assert seen["state"] == "running"
    assert seen["results"] == {"first": report.results["first"]}
    assert isinstance(seen["results"]["first"], Invoice)


async def test_the_run_record_holds_the_graph_config_targets_and_context_metadata() -> None:
    store = MemoryStore()
    registry = SchedulerRegistry("shapes")

    @registry.task()
    async def source() -> dict[str, int]:
        return {"n": 1}

    @registry.task(retry=2, timeout=30.0)
    async def sink(n: Ref[int, F("source", "n")]) -> int:
        return n

    @registry.task()
    async def unrelated() -> None:
        return None

    config = AstrumConfig(concurrency_limit=4, pools={"llm": 2})
    context = RunContext(metadata={"owner": "nightly", "at": object()})
    report = await registry.run(["sink"], config, context=context, store=store)

    record = store.run(report.run_id)
    assert (record.namespace, record.targets) == ("shapes", ("sink",))
    assert list(record.tasks) == ["source", "sink"]
    assert record.tasks["sink"].inputs == (("n", "source", "'n'"),)
    assert record.tasks["sink"].depends_on == ("source",)
    assert record.tasks["source"].fingerprint != record.tasks["sink"].fingerprint
    assert record.config["concurrency_limit"] == 4
    assert record.config["pools"] == {"llm": 2}
    assert record.config["failure_policy"] == "cancel"
    assert record.config["policies"] == {"sink": {"retries": 2, "timeout": 30.0, "isolation": "thread"}}
    assert record.metadata["owner"] == "nightly"
    assert isinstance(record.metadata["at"], str)  # what JSON cannot hold is kept as its repr
    assert record.resumed_from is None and record.reused == ()


async def test_the_store_argument_wins_over_the_configured_store() -> None:
    configured, given = MemoryStore(), MemoryStore()
    registry = SchedulerRegistry("which-store")
    registry.task("only")(lambda: 1)
    config = AstrumConfig(store=configured)

    first = await registry.run(config=config)
    second = await registry.run(config=config, store=given)

    assert [s.run_id for s in configured.runs()] == [first.run_id]
    assert [s.run_id for s in given.runs()] == [second.run_id]
    assert first.run_id != second.run_id


async def test_module_level_run_records_its_namespace_and_targets() -> None:
    namespace = "recording_tests"
    astrum.clear_registry(namespace)
    store = MemoryStore()
    try:

        @astrum.task(namespace=namespace)
        def alpha() -> int:
            return 1

        @astrum.task(namespace=namespace)
        def beta() -> int:
            return 2

        report = await astrum.run(["beta"], namespace=namespace, store=store)
    finally:
        astrum.clear_registry(namespace)
    record = store.run(report.run_id)
    assert (record.namespace, record.targets, list(record.tasks)) == (namespace, ("beta",), ["beta"])
    assert store.results(report.run_id) == {"beta": 2}


async def test_a_manual_dag_is_recorded_when_its_scheduler_has_a_store() -> None:
    async def one() -> int:
        return 1

    def two() -> int:
        return 2

    scheduler = DynamicScheduler([("one", one), ("two", two)], [TaskOrder("one"), TaskOrder("two", ["one"])])
    scheduler.store = store = MemoryStore()
    report = await scheduler.execute()

    assert store.results(report.run_id) == {"one": 1, "two": 2}
    assert store.run(report.run_id).tasks["two"].depends_on == ("one",)
    assert store.runs()[0].state == "completed"


async def test_every_report_has_the_run_id_its_tasks_and_events_saw() -> None:
    registry = SchedulerRegistry("ids")
    seen: list[str | None] = []
    events: list[str] = []

    @registry.task()
    async def look(ctx: RunContext) -> None:
        seen.append(ctx.run_id)

    plain = await registry.run()
    hooked = await registry.run(
        config=AstrumConfig(hooks=[fn_hook(on_run_end=lambda e: events.append(e.run_id))])
    )

    assert plain.run_id == seen[0] and len(plain.run_id) == 32
    assert hooked.run_id == seen[1] == events[0]
    assert plain.run_id != hooked.run_id
    assert plain.resumed_from is None and plain.reused_tasks == ()
    assert plain.to_dict()["run_id"] == plain.run_id


async def test_hooks_see_each_completed_task_s_result_on_its_success_event() -> None:
    registry = SchedulerRegistry("results-in-events")
    results: dict[str, Any] = {}

    @registry.task()
    async def make() -> Point:
        return Point(1, 2.0)

    @registry.task()
    def nothing() -> None:
        return None

    hook = fn_hook(on_task_success=lambda event: results.__setitem__(event.task_id, event.result))
    await registry.run(config=AstrumConfig(hooks=[hook]))

    assert results == {"make": Point(1, 2.0), "nothing": None}


async def test_without_a_store_a_run_makes_no_event_bus(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Any] = []
    original = _events.EventBus.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        made.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(_events.EventBus, "__init__", counting)
    registry = SchedulerRegistry("no-store")
    registry.task("a")(lambda: 1)
    registry.task("b", depends_on=["a"])(lambda: 2)

    await registry.run()
    assert made == []
    await registry.run(store=MemoryStore())
    assert len(made) == 1 and len(made[0].listeners) == 1 and made[0].hooks == []


def test_a_store_that_is_not_a_run_store_is_refused() -> None:
    with pytest.raises(ConfigurationTypeError, match=r"AstrumConfig\(store=...\) takes a run store"):
        AstrumConfig(store="runs.db")
    registry = SchedulerRegistry("bad-store")
    registry.task("a")(lambda: 1)
    with pytest.raises(ConfigurationTypeError, match=r"run\(store=...\) takes a run store.*got dict"):
        asyncio.run(registry.run(store={}))  # type: ignore[arg-type]


async def test_a_store_closed_during_a_run_is_logged_once_and_the_run_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    registry = SchedulerRegistry("closed-midway")

    @registry.task()
    async def closer() -> int:
        store.close()
        return 1

    @registry.task()
    async def after(value: Ref[int, F("closer")]) -> int:
        return value + 1

    with caplog.at_level(logging.ERROR, logger="astrum"):
        report = await registry.run(store=store)

    assert report.execution_state == "completed" and report.results == {"closer": 1, "after": 2}
    failures = [r for r in caplog.records if "recording run" in r.getMessage()]
    assert len(failures) == 1
    assert report.run_id in failures[0].getMessage() and "RunStoreError" in failures[0].getMessage()


async def test_a_tail_task_that_ends_after_the_run_returned_is_recorded_when_it_ends() -> None:
    store = MemoryStore()
    registry = SchedulerRegistry("late-tail")
    release = asyncio.Event()

    @registry.task()
    async def main_work() -> int:
        return 1

    @registry.task()
    async def tail() -> str:
        await release.wait()
        return "late"

    report = await registry.run(config=AstrumConfig(ignore_tail_task=["tail"]), store=store)
    assert store.results(report.run_id) == {"main_work": 1}
    release.set()
    await report.tail_tasks["tail"]

    assert store.results(report.run_id) == {"main_work": 1, "tail": "late"}
    assert store.runs()[0].state == "completed"


def test_importing_astrum_loads_no_store_module_until_a_store_is_named() -> None:
    code = (
        "import sys, astrum\n"
        "before = 'sqlite3' in sys.modules or 'astrum.store._sqlite' in sys.modules\n"
        "astrum.SQLiteStore\n"
        "print(before, 'sqlite3' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


async def test_a_failure_that_stops_the_run_records_the_cancelled_and_skipped_tasks(store: Any) -> None:
    clock = FakeClock()
    registry = SchedulerRegistry("stopped")

    @registry.task()
    async def fails_soon() -> None:
        await clock.sleep(1)
        raise KeyError("missing")

    @registry.task()
    async def long_running() -> None:
        await clock.sleep(100)

    @registry.task(retry=Retry(retries=3, delay=5.0, jitter=0))
    async def pausing() -> None:  # fails at once, and is pausing before its retry when the run stops
        raise OSError("disk")

    @registry.task()
    async def never_started(_: Ref[None, F("long_running")]) -> None:
        return None

    report = await registry.run(config=AstrumConfig(clock=clock), store=store)
    await store.flush()

    statuses = {stat.task_name: stat.status for stat in report.task_statistics}
    assert statuses == {
        "fails_soon": "failed",
        "long_running": "cancelled",
        "pausing": "cancelled",
        "never_started": "skipped",
    }
    stored = store.report(report.run_id)
    assert outcome(stored) == outcome(report)
    paused = {stat.task_name: stat for stat in stored.task_statistics}["pausing"]
    # Cancelled during its backoff: attempts are bodies that ran, so no cancelled attempt.
    assert [(a.status, a.error_message) for a in paused.attempt_statistics] == [("failed", "disk")]
    assert store.runs()[0].state == "failed"


async def test_a_run_cancelled_by_its_caller_is_recorded_cancelled(store: Any) -> None:
    registry = SchedulerRegistry("caller-cancels")
    started = asyncio.Event()

    @registry.task()
    def quick() -> int:
        return 1

    @registry.task()
    async def waits(value: Ref[int, F("quick")]) -> None:
        started.set()
        await asyncio.sleep(60)

    @registry.task()
    async def after(_: Ref[None, F("waits")]) -> None:
        return None

    run = asyncio.ensure_future(registry.run(store=store))
    await started.wait()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    await store.flush()

    [summary] = store.runs()
    assert summary.state == "cancelled"
    stored = store.report(summary.run_id)
    assert {stat.task_name: stat.status for stat in stored.task_statistics} == {
        "quick": "completed",
        "waits": "cancelled",
        "after": "skipped",
    }
    assert stored.results == {"quick": 1}


def test_run_id_resumed_from_and_reused_tasks_are_keyword_only_report_fields_with_defaults() -> None:
    by_name = {f.name: f for f in dataclasses.fields(astrum.ExecutionReport)}
    for name in ("run_id", "resumed_from", "reused_tasks"):
        assert by_name[name].kw_only, name
    by_hand = astrum.ExecutionReport(0.0, 1.0, 1.0)  # built by hand as before: positional fields unchanged
    assert (by_hand.run_id, by_hand.resumed_from, by_hand.reused_tasks) == (None, None, ())
    assert dataclasses.replace(by_hand, run_id="abc").run_id == "abc"
