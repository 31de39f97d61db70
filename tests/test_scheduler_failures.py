"""Task failures and retries: what stops, what is reported, and how attempts are counted."""

from __future__ import annotations

import asyncio
import threading
import time
import traceback
from collections.abc import Awaitable
from typing import Any

import pytest

from astrum import DynamicScheduler, ExecutionReport, ExecutionState, TaskOrder


async def within(awaitable: Awaitable[Any], seconds: float = 10) -> Any:
    return await asyncio.wait_for(awaitable, seconds)


def by_name(report: ExecutionReport) -> dict[str, Any]:
    return {stat.task_name: stat for stat in report.task_statistics}


def sleeper(seconds: float, value: Any = None):
    async def task() -> Any:
        await asyncio.sleep(seconds)
        return value

    return task


def failing(message: str = "boom", after: float = 0.0, exc_type: type[Exception] = RuntimeError):
    async def task() -> None:
        await asyncio.sleep(after)
        raise exc_type(message)

    return task


def flaky(failures: int, value: Any = "ok", exc_type: type[Exception] = RuntimeError):
    """A task failing its first ``failures`` calls; ``.calls`` counts calls."""

    async def task() -> Any:
        task.calls += 1  # type: ignore[attr-defined]
        await asyncio.sleep(0)
        if task.calls <= failures:  # type: ignore[attr-defined]
            raise exc_type(f"failure {task.calls}")  # type: ignore[attr-defined]
        return value

    task.calls = 0  # type: ignore[attr-defined]
    return task


# -- a final failure stops the run -------------------------------------------------------------


async def test_a_failing_task_cancels_its_sleeping_sibling():
    scheduler = DynamicScheduler(
        [("a", failing("boom", 0.01)), ("b", sleeper(5))], [TaskOrder("a"), TaskOrder("b")]
    )
    started = time.perf_counter()
    report = await within(scheduler.execute())

    assert time.perf_counter() - started < 2
    assert report.execution_state == "failed"
    assert report.failed_tasks == 1
    assert report.successful_tasks == 0
    assert any("boom" in line for line in report.error_summary)
    stats = by_name(report)
    assert stats["a"].status == "failed"
    assert stats["b"].status == "cancelled"
    assert stats["b"].error_message == "Task cancelled due to previous failure"
    assert stats["b"].caused_by == "a"
    assert scheduler.execution_state is ExecutionState.FAILED


async def test_every_task_is_reported_once_as_completed_failed_cancelled_or_skipped():
    quick, fail, slow = TaskOrder("quick"), TaskOrder("fail"), TaskOrder("slow")
    orders = [
        quick,
        fail,
        slow,
        TaskOrder("down", [quick, fail]),  # waits for the failed task: never starts
        TaskOrder("after_slow", [slow]),  # waits for the cancelled task: never starts
        TaskOrder("after_quick", [quick]),  # ready only after the failure: never starts
    ]
    tasks = [
        ("quick", sleeper(0.01, "q")),
        ("fail", failing("kaput", 0.05)),
        ("slow", sleeper(5)),
        ("down", sleeper(0)),
        ("after_slow", sleeper(0)),
        ("after_quick", sleeper(0.2)),
    ]
    # after_quick starts at ~0.01 s and sleeps past the failure, so it is cancelled, not skipped
    report = await within(DynamicScheduler(tasks, orders).execute())

    stats = report.task_statistics
    assert sorted(s.task_name for s in stats) == sorted(o.task_name for o in orders)
    status = {s.task_name: s.status for s in stats}
    assert status == {
        "quick": "completed",
        "fail": "failed",
        "slow": "cancelled",
        "after_quick": "cancelled",
        "down": "skipped",
        "after_slow": "skipped",
    }
    caused = {s.task_name: s.caused_by for s in stats}
    assert caused == {
        "quick": None,
        "fail": None,
        "slow": "fail",
        "after_quick": "fail",
        "down": "fail",
        "after_slow": "fail",
    }
    skipped = by_name(report)["down"]
    assert skipped.attempt_count == 0
    assert skipped.duration == 0.0
    assert "fail" in (skipped.error_message or "")
    assert report.successful_tasks == 1
    assert report.failed_tasks == 1
    assert report.results == {"quick": "q"}


async def test_nothing_new_starts_after_a_final_failure():
    started: list[str] = []

    def tracked(name: str, seconds: float):
        async def task() -> None:
            started.append(name)
            await asyncio.sleep(seconds)

        return task

    first = TaskOrder("first")
    orders = [first, TaskOrder("fail"), TaskOrder("second", [first]), TaskOrder("third", ["second"])]
    tasks = [
        ("first", tracked("first", 0.1)),
        ("fail", failing("early", 0.02)),
        ("second", tracked("second", 0)),
        ("third", tracked("third", 0)),
    ]
    report = await within(DynamicScheduler(tasks, orders).execute())
    await asyncio.sleep(0.15)  # anything wrongly left running would start 'second' by now

    assert started == ["first"]
    assert by_name(report)["second"].status == "skipped"
    assert by_name(report)["third"].status == "skipped"


async def test_a_task_launched_beside_a_failing_task_does_not_begin_after_the_failure():
    started: list[str] = []

    def tracked(name: str):
        async def task() -> str:
            started.append(name)
            return name

        return task

    async def fails_at_once() -> None:
        started.append("fail")
        raise RuntimeError("at once")

    scheduler = DynamicScheduler(
        [("first", tracked("first")), ("fail", fails_at_once), ("third", tracked("third"))],
        [TaskOrder("first"), TaskOrder("fail"), TaskOrder("third")],
    )
    report = await within(scheduler.execute())

    assert report.execution_state == "failed"
    # 'third' had not begun when 'fail' failed, so it must not begin afterwards; it was ready,
    # so it counts as cancelled (without an attempt), as if every task had its own asyncio task
    assert "third" not in started[started.index("fail") + 1 :], started
    third = by_name(report)["third"]
    assert (third.status, third.attempt_count, third.attempt_statistics) == ("cancelled", 0, [])
    assert third.caused_by == "fail"
    assert third.error_message == "Task cancelled due to previous failure"


async def test_a_failure_is_noticed_at_once_not_after_slower_siblings():
    scheduler = DynamicScheduler(
        [("slow", sleeper(1.0)), ("fail", failing("fast", 0.01)), ("c", sleeper(0))],
        [TaskOrder("slow"), TaskOrder("fail"), TaskOrder("c", ["slow", "fail"])],
    )
    started = time.perf_counter()
    report = await within(scheduler.execute())
    elapsed = time.perf_counter() - started

    assert elapsed < 0.5, f"the failure was noticed after {elapsed:.3f} s"
    stats = by_name(report)
    assert stats["fail"].duration < 0.5
    assert stats["slow"].status == "cancelled"
    assert stats["c"].status == "skipped"


async def test_cancelled_siblings_finish_their_cleanup_before_execute_returns():
    cleaned = asyncio.Event()

    async def careful() -> None:
        try:
            await asyncio.sleep(5)
        finally:
            await asyncio.sleep(0.05)  # cleanup that itself awaits
            cleaned.set()

    scheduler = DynamicScheduler(
        [("careful", careful), ("fail", failing("x", 0.01))], [TaskOrder("careful"), TaskOrder("fail")]
    )
    report = await within(scheduler.execute())
    assert cleaned.is_set()
    assert by_name(report)["careful"].status == "cancelled"
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_a_sync_task_running_at_a_failure_is_waited_for():
    state = {"running": 0, "finished": 0}
    lock = threading.Lock()

    def blocking() -> None:
        with lock:
            state["running"] += 1
        time.sleep(0.2)
        with lock:
            state["running"] -= 1
            state["finished"] += 1

    scheduler = DynamicScheduler(
        [("sync", blocking), ("fail", failing("x", 0.02))], [TaskOrder("sync"), TaskOrder("fail")]
    )
    report = await within(scheduler.execute())
    assert state == {"running": 0, "finished": 1}
    assert by_name(report)["sync"].status == "cancelled"


async def test_a_failing_sync_task_fails_the_run():
    def broken() -> None:
        raise ValueError("sync broke")

    scheduler = DynamicScheduler(
        [("broken", broken), ("next", sleeper(0))], [TaskOrder("broken"), TaskOrder("next", ["broken"])]
    )
    report = await within(scheduler.execute())
    assert report.execution_state == "failed"
    assert by_name(report)["broken"].status == "failed"
    assert isinstance(report.exceptions["broken"], ValueError)
    assert by_name(report)["next"].status == "skipped"


async def test_the_original_exception_object_is_kept_with_its_traceback():
    error = KeyError("k")

    async def lookup() -> None:
        await asyncio.sleep(0)
        raise error

    report = await within(DynamicScheduler([("lookup", lookup)], [TaskOrder("lookup")]).execute())

    stat = by_name(report)["lookup"]
    assert stat.exception is error
    assert report.exceptions == {"lookup": error}
    assert stat.error_message == "KeyError: 'k'"
    frames = [frame.name for frame in traceback.extract_tb(error.__traceback__)]
    assert "lookup" in frames


async def test_error_summary_starts_with_the_interruption_line():
    scheduler = DynamicScheduler([("x", failing("went wrong"))], [TaskOrder("x")])
    report = await within(scheduler.execute())
    assert report.error_summary[0] == "Execution interrupted; task 'x' failed: went wrong"
    assert "Task 'x' failed during execution: went wrong" in report.error_summary


async def test_an_exception_without_message_is_described_by_its_type():
    async def bare() -> None:
        raise RuntimeError()

    report = await within(DynamicScheduler([("bare", bare)], [TaskOrder("bare")]).execute())
    # upstream's summary line keeps str(exc) alone; the task's own message names the type
    assert report.error_summary[0] == "Execution interrupted; task 'bare' failed: "
    assert by_name(report)["bare"].error_message == "RuntimeError"


async def test_the_first_failure_is_the_one_named_in_the_summary():
    scheduler = DynamicScheduler(
        [("early", failing("first", 0.01)), ("late", failing("second", 0.01))],
        [TaskOrder("early"), TaskOrder("late", ["early"])],
    )
    report = await within(scheduler.execute())
    assert report.error_summary[0].startswith("Execution interrupted; task 'early' failed")
    assert by_name(report)["late"].status == "skipped"


async def test_a_failed_tail_task_does_not_hang_the_tasks_that_wait_for_it():
    holder: dict[str, asyncio.Task[Any] | None] = {}

    async def tail() -> None:
        holder["task"] = asyncio.current_task()
        raise RuntimeError("tail broke")

    scheduler = DynamicScheduler(
        [("tail", tail), ("child", sleeper(0, "child"))],
        [TaskOrder("tail"), TaskOrder("child", ["tail"])],
        ignore_tail_task=["tail"],
    )
    try:
        report = await asyncio.wait_for(scheduler.execute(), 2)
    except TimeoutError:
        pytest.fail("execute() never returned: 'child' waits forever for the failed tail task")
    finally:
        # retrieve the tail's error so asyncio does not log it from a finalizer
        task = holder.get("task")
        if task is not None and task.done() and not task.cancelled():
            task.exception()
    assert report.execution_state == "failed"
    assert report.error_summary[0].startswith("Execution interrupted; task 'tail' failed")
    assert by_name(report)["child"].status == "skipped"


# -- retries ------------------------------------------------------------------------------------------


async def test_without_retries_a_task_runs_once():
    scheduler = DynamicScheduler([("once", failing("nope"))], [TaskOrder("once")])
    report = await within(scheduler.execute())

    stat = by_name(report)["once"]
    assert stat.retry == 0
    assert stat.attempt_count == 1
    assert [a.status for a in stat.attempt_statistics] == ["failed"]
    assert stat.attempt_statistics[0].will_retry is False
    assert not any("exhausted" in line for line in report.error_summary)
    assert not any("retrying" in line for line in report.error_summary)


async def test_a_task_recovering_on_its_third_attempt_completes():
    task = flaky(2, "finally")
    scheduler = DynamicScheduler([("flaky", task)], [TaskOrder("flaky")], task_retries={"flaky": 2})
    report = await within(scheduler.execute())

    assert report.execution_state == "completed"
    assert report.results == {"flaky": "finally"}
    assert task.calls == 3
    stat = by_name(report)["flaky"]
    assert stat.status == "completed"
    assert stat.retry == 2
    assert stat.attempt_count == 3
    attempts = stat.attempt_statistics
    assert [a.status for a in attempts] == ["failed", "failed", "completed"]
    assert [a.will_retry for a in attempts] == [True, True, False]
    assert [a.attempt_number for a in attempts] == [1, 2, 3]
    assert all(a.max_retries == 2 and a.task_name == "flaky" for a in attempts)
    assert [a.error_message for a in attempts] == ["failure 1", "failure 2", None]
    assert all(a.start_time <= a.end_time for a in attempts)
    assert attempts[0].end_time <= attempts[1].start_time <= attempts[2].start_time
    # retry lines stay although the run completed
    assert any("attempt 1/3 failed; retrying with 2 retries left" in line for line in report.error_summary)
    assert any("attempt 2/3 failed; retrying with 1 retries left" in line for line in report.error_summary)
    assert not any("exhausted" in line for line in report.error_summary)


async def test_retry_summary_lines_are_upstreams_exact_lines():
    scheduler = DynamicScheduler([("f", flaky(1))], [TaskOrder("f")], task_retries={"f": 2})
    report = await within(scheduler.execute())
    assert report.error_summary == ["Task 'f' attempt 1/3 failed; retrying with 2 retries left: failure 1"]


async def test_a_task_failing_every_attempt_exhausts_its_retries():
    task = flaky(99)
    scheduler = DynamicScheduler([("doomed", task)], [TaskOrder("doomed")], task_retries={"doomed": 1})
    report = await within(scheduler.execute())

    assert report.execution_state == "failed"
    assert task.calls == 2
    stat = by_name(report)["doomed"]
    assert stat.status == "failed"
    assert stat.attempt_count == 2
    assert [a.status for a in stat.attempt_statistics] == ["failed", "failed"]
    assert [a.will_retry for a in stat.attempt_statistics] == [True, False]
    summary = report.error_summary
    assert summary[0] == "Execution interrupted; task 'doomed' failed: failure 2"
    assert "Task 'doomed' attempt 1/2 failed; retrying with 1 retries left: failure 1" in summary
    assert "Task 'doomed' exhausted 1 retries after 2 attempts: failure 2" in summary
    # the kept exception is the last attempt's
    assert str(report.exceptions["doomed"]) == "failure 2"


async def test_recovery_by_retry_does_not_cancel_a_sibling():
    scheduler = DynamicScheduler(
        [("flaky", flaky(1)), ("sibling", sleeper(0.1, "sib"))],
        [TaskOrder("flaky"), TaskOrder("sibling")],
        task_retries={"flaky": 1},
    )
    report = await within(scheduler.execute())
    assert report.execution_state == "completed"
    assert by_name(report)["sibling"].status == "completed"
    assert report.results == {"flaky": "ok", "sibling": "sib"}


async def test_a_slow_retrying_task_is_cancelled_by_a_siblings_failure():
    scheduler = DynamicScheduler(
        [("slow", sleeper(5)), ("fail", failing("sibling failed", 0.02))],
        [TaskOrder("slow"), TaskOrder("fail")],
        task_retries={"slow": 2},
    )
    report = await within(scheduler.execute())

    stat = by_name(report)["slow"]
    assert stat.status == "cancelled"
    assert stat.retry == 2
    assert stat.attempt_count <= 1
    assert [a.status for a in stat.attempt_statistics] == ["cancelled"]
    assert stat.attempt_statistics[0].will_retry is False
    assert stat.attempt_statistics[0].error_message == "Task cancelled"


async def test_a_task_cancelled_between_failed_attempts_keeps_them():
    calls = {"n": 0}

    async def fails_then_hangs() -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("first")
        await asyncio.sleep(5)

    scheduler = DynamicScheduler(
        [("retrying", fails_then_hangs), ("fail", failing("x", 0.05))],
        [TaskOrder("retrying"), TaskOrder("fail")],
        task_retries={"retrying": 3},
    )
    report = await within(scheduler.execute())
    stat = by_name(report)["retrying"]
    assert stat.status == "cancelled"
    assert [a.status for a in stat.attempt_statistics] == ["failed", "cancelled"]
    assert [a.will_retry for a in stat.attempt_statistics] == [True, False]


async def test_sync_tasks_are_retried_too():
    calls = {"n": 0}

    def shaky() -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise OSError("flaky disk")
        return "read"

    scheduler = DynamicScheduler([("shaky", shaky)], [TaskOrder("shaky")], task_retries={"shaky": 2})
    report = await within(scheduler.execute())
    assert report.results == {"shaky": "read"}
    assert by_name(report)["shaky"].attempt_count == 3


async def test_the_semaphore_is_held_across_a_tasks_whole_retry_loop():
    events: list[str] = []
    calls = {"n": 0}

    async def retried() -> None:
        calls["n"] += 1
        events.append(f"retried {calls['n']}")
        await asyncio.sleep(0.01)
        if calls["n"] < 3:
            raise RuntimeError("again")

    async def other() -> None:
        events.append("other")

    scheduler = DynamicScheduler(
        [("retried", retried), ("other", other)],
        [TaskOrder("retried"), TaskOrder("other")],
        concurrency_context=asyncio.Semaphore(1),
        task_retries={"retried": 2},
    )
    report = await within(scheduler.execute())
    assert report.execution_state == "completed"
    assert events == ["retried 1", "retried 2", "retried 3", "other"]


async def test_a_self_raised_cancelled_error_is_a_failed_last_attempt():
    async def gives_up() -> None:
        await asyncio.sleep(0)
        raise asyncio.CancelledError

    scheduler = DynamicScheduler(
        [("gives_up", gives_up)], [TaskOrder("gives_up")], task_retries={"gives_up": 2}
    )
    report = await within(scheduler.execute())

    stat = by_name(report)["gives_up"]
    assert report.execution_state == "failed"
    assert stat.status == "failed"
    assert isinstance(stat.exception, asyncio.CancelledError)
    # the report must not contradict itself: the task failed, so its last attempt failed
    assert stat.attempt_statistics[-1].status == "failed"
