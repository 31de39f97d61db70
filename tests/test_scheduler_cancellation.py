"""Cancellation: of execute() by its caller, by timeouts, and by tasks that raise BaseExceptions."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable
from typing import Any

import pytest

from astrum import DynamicScheduler, ExecutionReport, ExecutionState, TaskOrder


async def within(awaitable: Awaitable[Any], seconds: float = 10) -> Any:
    return await asyncio.wait_for(awaitable, seconds)


def by_name(report: ExecutionReport) -> dict[str, Any]:
    return {stat.task_name: stat for stat in report.task_statistics}


def others() -> set[asyncio.Task[Any]]:
    """Every task of the loop except the test's own."""
    return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]


async def cancel_leftovers() -> None:
    leftovers = others()
    for task in leftovers:
        task.cancel()
    if leftovers:
        await asyncio.wait(leftovers)


class Probe:
    """Builds tasks that record start, cleanup and normal completion."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.cleaned: list[str] = []
        self.finished: list[str] = []

    def sleeper(self, name: str, seconds: float):
        async def task() -> str:
            self.started.append(name)
            try:
                await asyncio.sleep(seconds)
            finally:
                self.cleaned.append(name)
            self.finished.append(name)
            return name

        return task


async def _cancel_after(aw: Awaitable[Any], delay: float) -> asyncio.Task[Any]:
    task = asyncio.ensure_future(aw)
    await asyncio.sleep(delay)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await within(task)
    return task


async def test_cancelling_execute_cancels_and_awaits_every_running_task():
    probe = Probe()
    a, b = TaskOrder("a"), TaskOrder("b")
    orders = [a, b, TaskOrder("c", [a]), TaskOrder("tail")]
    tasks = [(n, probe.sleeper(n, 5)) for n in ("a", "b", "c", "tail")]
    scheduler = DynamicScheduler(tasks, orders, ignore_tail_task=["tail"])

    await _cancel_after(scheduler.execute(), 0.05)

    assert others() == set()
    assert sorted(probe.started) == ["a", "b", "tail"]
    assert sorted(probe.cleaned) == ["a", "b", "tail"]
    assert probe.finished == []
    assert scheduler.execution_state is ExecutionState.CANCELLED


async def test_a_cancelled_run_starts_no_dependents_afterwards():
    probe = Probe()
    quick = TaskOrder("quick")
    tasks = [("quick", probe.sleeper("quick", 0.05)), ("after", probe.sleeper("after", 0))]
    scheduler = DynamicScheduler(tasks, [quick, TaskOrder("after", [quick])])

    await _cancel_after(scheduler.execute(), 0.01)
    await asyncio.sleep(0.1)

    assert probe.started == ["quick"]
    assert others() == set()


async def test_a_timeout_around_execute_leaves_no_task_behind():
    probe = Probe()
    scheduler = DynamicScheduler([(n, probe.sleeper(n, 5)) for n in "xy"], [TaskOrder("x"), TaskOrder("y")])
    started = time.perf_counter()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await scheduler.execute()
    assert time.perf_counter() - started < 2
    assert others() == set()
    assert sorted(probe.cleaned) == ["x", "y"]


async def test_wait_for_timeout_leaves_no_task_behind():
    probe = Probe()
    scheduler = DynamicScheduler([(n, probe.sleeper(n, 5)) for n in "xy"], [TaskOrder("x"), TaskOrder("y")])
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(scheduler.execute(), 0.05)
    assert others() == set()
    assert sorted(probe.cleaned) == ["x", "y"]


@pytest.mark.parametrize("setup", ["plain", "retried", "semaphore", "tail"])
async def test_cancelling_execute_waits_for_a_sync_task_running_in_a_thread(setup):
    state = {"running": 0, "finished": 0}
    lock = threading.Lock()

    def blocking() -> None:
        with lock:
            state["running"] += 1
        time.sleep(0.25)
        with lock:
            state["running"] -= 1
            state["finished"] += 1

    async def gate() -> None:  # keeps execute() busy even when 'sync' is a tail task
        await asyncio.sleep(5)

    scheduler = DynamicScheduler(
        [("sync", blocking), ("gate", gate)],
        [TaskOrder("sync"), TaskOrder("gate")],
        task_retries={"sync": 2} if setup == "retried" else None,
        concurrency_context=asyncio.Semaphore(2) if setup == "semaphore" else None,
        ignore_tail_task=["sync"] if setup == "tail" else None,
    )
    started = time.perf_counter()
    await _cancel_after(scheduler.execute(), 0.05)

    # no worker is still inside our callable once CancelledError arrives
    assert state == {"running": 0, "finished": 1}
    assert time.perf_counter() - started >= 0.2
    assert others() == set()


async def test_cancelling_execute_cancels_tasks_waiting_for_a_slot():
    probe = Probe()
    names = ["a", "b", "c"]
    scheduler = DynamicScheduler(
        [(n, probe.sleeper(n, 5)) for n in names],
        [TaskOrder(n) for n in names],
        concurrency_context=asyncio.Semaphore(1),
    )
    await _cancel_after(scheduler.execute(), 0.05)
    await asyncio.sleep(0.05)

    assert probe.started == ["a"]
    assert others() == set()


async def test_cancelling_execute_during_failure_cleanup_still_cancels_tail_tasks():
    tail_probe = Probe()

    async def fail() -> None:
        await asyncio.sleep(0.02)
        raise RuntimeError("boom")

    def slow_to_stop() -> None:  # a thread: the failure cleanup must wait ~0.3 s for it
        time.sleep(0.3)

    scheduler = DynamicScheduler(
        [("fail", fail), ("slow", slow_to_stop), ("tail", tail_probe.sleeper("tail", 5))],
        [TaskOrder("fail"), TaskOrder("slow"), TaskOrder("tail")],
        ignore_tail_task=["tail"],
    )
    try:
        await _cancel_after(scheduler.execute(), 0.1)  # lands while the run waits for 'slow'
        assert others() == set(), "a tail task outlived the cancelled execute()"
        assert tail_probe.cleaned == ["tail"]
    finally:
        await cancel_leftovers()


async def test_a_scheduler_runs_normally_after_a_cancelled_execute():
    probe = Probe()
    scheduler = DynamicScheduler([("a", probe.sleeper("a", 0.05))], [TaskOrder("a")])
    await _cancel_after(scheduler.execute(), 0.01)
    report = await within(scheduler.execute())
    assert report.execution_state == "completed"
    assert report.results == {"a": "a"}


# -- tasks raising CancelledError, KeyboardInterrupt, SystemExit --------------------------------


async def test_a_task_raising_cancelled_error_itself_fails_the_run():
    probe = Probe()

    async def quits() -> None:
        await asyncio.sleep(0.01)
        raise asyncio.CancelledError

    scheduler = DynamicScheduler(
        [("quits", quits), ("other", probe.sleeper("other", 5))], [TaskOrder("quits"), TaskOrder("other")]
    )
    report = await within(scheduler.execute())

    assert report.execution_state == "failed"
    stats = by_name(report)
    assert stats["quits"].status == "failed"
    assert stats["other"].status == "cancelled"
    assert report.successful_tasks == 0
    assert report.error_summary[0] == "Execution interrupted; task 'quits' failed: "  # str(CancelledError())
    assert probe.cleaned == ["other"]
    assert others() == set()


@pytest.mark.parametrize("retries", [0, 1])
async def test_a_sync_task_raising_cancelled_error_is_not_a_completion(retries):
    def quits() -> None:
        raise asyncio.CancelledError

    scheduler = DynamicScheduler([("quits", quits)], [TaskOrder("quits")], task_retries={"quits": retries})
    report = await within(scheduler.execute())
    assert report.execution_state == "failed"
    assert by_name(report)["quits"].status == "failed"
    assert report.successful_tasks == 0


def _raiser(exc_type: type[BaseException], sync: bool):
    if sync:

        def sync_task() -> None:
            time.sleep(0.02)
            raise exc_type

        return sync_task

    async def async_task() -> None:
        await asyncio.sleep(0.02)
        raise exc_type

    return async_task


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
async def test_keyboard_interrupt_and_system_exit_are_reraised_after_cleanup(exc_type, sync):
    probe = Probe()
    scheduler = DynamicScheduler(
        [("stop", _raiser(exc_type, sync)), ("other", probe.sleeper("other", 5))],
        [TaskOrder("stop"), TaskOrder("other")],
    )
    caught: BaseException | None = None
    try:
        # not wait_for(): a BaseException escaping a helper task would stop the event loop itself
        async with asyncio.timeout(10):
            await scheduler.execute()
    except (KeyboardInterrupt, SystemExit) as exc:  # caught here so it never reaches pytest
        caught = exc

    assert type(caught) is exc_type
    assert probe.cleaned == ["other"]
    assert probe.finished == []
    assert others() == set()
    assert scheduler.execution_state is ExecutionState.FAILED


async def test_keyboard_interrupt_in_a_retried_task_is_not_retried():
    calls = {"n": 0}

    async def interrupted() -> None:
        calls["n"] += 1
        raise KeyboardInterrupt

    scheduler = DynamicScheduler([("i", interrupted)], [TaskOrder("i")], task_retries={"i": 3})
    caught = None
    try:
        async with asyncio.timeout(10):
            await scheduler.execute()
    except KeyboardInterrupt as exc:
        caught = exc
    assert isinstance(caught, KeyboardInterrupt)
    assert calls["n"] == 1
