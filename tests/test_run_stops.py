"""What a stopping run does with the work it has not finished.

A run stops at the first final failure (``failure_policy="cancel"``), at its
deadline, or when its caller cancels it. From then on nothing starts: tasks that
were ready are reported ``cancelled`` without running, tasks whose inputs never
became ready ``skipped``, and sync tasks already running are awaited (only
their own timeout or the deadline gives a thread up).
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Awaitable
from typing import Any

import pytest

from astrum import AstrumConfig, ExecutionReport, Retry, RunHook, SchedulerRegistry
from astrum.core._threads import MAX_WORKERS
from astrum.testing import FakeClock


async def within(awaitable: Awaitable[Any], seconds: float = 10) -> Any:
    return await asyncio.wait_for(awaitable, seconds)


def by_name(report: ExecutionReport) -> dict[str, Any]:
    return {stat.task_name: stat for stat in report.task_statistics}


class Starts:
    """Thread-safe record of task bodies starting, and of starts after the run returned."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.times: list[float] = []
        self.after_return: list[str] = []
        self.returned = False

    def __call__(self, name: str) -> None:
        self.times.append(time.perf_counter())  # list.append is atomic: safe from worker threads
        self.names.append(name)
        if self.returned:
            self.after_return.append(name)


# -- tasks that were ready when the run stopped -------------------------------------------------


def ready_sibling(kind: str, starts: Starts):
    """A task of ``kind`` that takes a while; it records when its body starts."""
    if kind == "sync":

        def work() -> str:
            starts("b")
            time.sleep(0.05)
            return "b"

        return work

    async def slow() -> str:
        starts("b")
        await asyncio.sleep(0.2)
        return "b"

    return slow


@pytest.mark.parametrize(
    ("kind", "options", "config"),
    [
        ("async", {}, {}),
        ("async", {"retry": 2}, {}),
        ("sync", {}, {}),
        ("sync", {"retry": 2}, {}),
        ("async", {}, {"concurrency_limit": 1}),
        ("sync", {}, {"concurrency_limit": 1}),
    ],
    ids=["async", "async-retry", "sync", "sync-retry", "async-limit", "sync-limit"],
)
async def test_a_task_ready_when_its_sibling_fails_at_once_is_cancelled_not_skipped(kind, options, config):
    starts = Starts()
    registry = SchedulerRegistry("ready_at_failure")

    @registry.task()
    async def a() -> None:
        raise RuntimeError("boom")

    registry.register(ready_sibling(kind, starts), "b", **options)

    @registry.task(depends_on=["b"])
    async def after_b() -> None:
        starts("after_b")

    report = await within(registry.run(config=AstrumConfig(**config)))

    stats = by_name(report)
    assert (stats["a"].status, stats["b"].status, stats["after_b"].status) == (
        "failed",
        "cancelled",
        "skipped",
    )
    b = stats["b"]
    assert b.caused_by == "a"
    assert b.error_message == "Task cancelled due to previous failure"
    assert b.attempt_count <= 1
    assert b.attempt_count == len(starts.names)  # an attempt is a body that ran
    assert [(x.status, x.will_retry) for x in b.attempt_statistics] in ([], [("cancelled", False)])
    assert starts.names in ([], ["b"])
    assert report.failed_tasks == 1
    assert report.execution_state == "failed"


async def test_a_ready_task_waiting_for_its_pool_is_cancelled_at_a_failure():
    starts = Starts()
    registry = SchedulerRegistry("pool_waiting")

    @registry.task(pool="db")
    async def holds_the_pool() -> None:
        starts("holds_the_pool")
        await asyncio.sleep(5)

    @registry.task(pool="db")
    async def waits_for_the_pool() -> None:
        starts("waits_for_the_pool")

    @registry.task()
    async def fails() -> None:
        await asyncio.sleep(0.02)
        raise RuntimeError("boom")

    report = await within(registry.run(config=AstrumConfig(pools={"db": 1})))

    stats = by_name(report)
    assert stats["holds_the_pool"].status == "cancelled"
    assert stats["holds_the_pool"].attempt_count == 1
    waiting = stats["waits_for_the_pool"]
    assert (waiting.status, waiting.attempt_count, waiting.caused_by) == ("cancelled", 0, "fails")
    # it waited for its pool from the start until the run stopped
    assert 0 < waiting.pool_queued_duration <= waiting.queued_duration < 5
    assert starts.names == ["holds_the_pool"]


async def test_a_task_whose_inputs_were_not_ready_at_the_failure_stays_skipped():
    registry = SchedulerRegistry("not_ready")

    @registry.task()
    async def slow() -> str:
        await asyncio.sleep(5)
        return "slow"

    @registry.task()
    async def fails() -> None:
        await asyncio.sleep(0.02)
        raise RuntimeError("boom")

    @registry.task(depends_on=["slow"])
    def after_slow() -> None: ...

    report = await within(registry.run())

    stats = by_name(report)
    assert stats["slow"].status == "cancelled"
    assert (stats["after_slow"].status, stats["after_slow"].attempt_count) == ("skipped", 0)
    assert stats["after_slow"].error_message == "Skipped: task 'fails' failed before this task could start"


async def test_a_ready_task_cancelled_without_starting_gets_a_cancel_event_but_no_start():
    events: list[tuple[str, str, int]] = []

    class Recorder(RunHook):
        def on_task_start(self, event) -> None:
            events.append((event.kind, event.task_id, event.attempt))

        def on_task_cancel(self, event) -> None:
            events.append((event.kind, event.task_id, event.attempt))

    registry = SchedulerRegistry("ready_events")

    @registry.task()
    async def a() -> None:
        raise RuntimeError("boom")

    @registry.task()
    async def b() -> None:
        await asyncio.sleep(1)

    report = await within(registry.run(config=AstrumConfig(hooks=[Recorder()])))

    assert by_name(report)["b"].status == "cancelled"
    assert ("task_cancel", "b", 0) in events
    assert ("task_start", "b", 1) not in events


# -- queued sync jobs never start once the run stopped -------------------------------------------


def sync_sleepers(registry: SchedulerRegistry, count: int, seconds: float, starts: Starts, **options: Any):
    for k in range(count):

        def body(name: str = f"s{k}") -> None:
            starts(name)
            time.sleep(seconds)

        registry.register(body, f"s{k}", **options)


@pytest.mark.parametrize("options", [{}, {"retry": 1}], ids=["plain", "retry"])
async def test_queued_sync_job_never_starts_after_a_final_failure(options):
    starts = Starts()
    failed_at: list[float] = []
    registry = SchedulerRegistry("queued_after_failure")
    count = 3 * MAX_WORKERS  # more than the worker threads: most jobs wait in the queue
    sync_sleepers(registry, count, 0.2, starts, **options)

    @registry.task()
    async def fails() -> None:
        await asyncio.sleep(0.05)
        failed_at.append(time.perf_counter())
        raise RuntimeError("boom")

    report = await within(registry.run())
    starts.returned = True
    ran = len(starts.names)
    await asyncio.sleep(0.3)  # a job left in the queue would start now that the workers are free

    assert len(starts.names) == ran, "a queued job started after the run returned"
    assert 0 < ran <= MAX_WORKERS
    assert max(starts.times) < failed_at[0], "a body started after the failure"
    stats = by_name(report)
    sleepers = [stats[f"s{k}"] for k in range(count)]
    assert {s.status for s in sleepers} == {"cancelled"}
    # exactly the bodies that ran have an attempt; the others were cancelled before starting
    assert sorted(s.task_name for s in sleepers if s.attempt_count == 1) == sorted(starts.names)
    assert all(
        s.attempt_count == 0 and s.attempt_statistics == []
        for s in sleepers
        if s.task_name not in starts.names
    )
    assert all(s.caused_by == "fails" for s in sleepers)


async def test_queued_sync_job_never_starts_after_the_deadline():
    starts = Starts()
    registry = SchedulerRegistry("queued_after_deadline")
    count = 3 * MAX_WORKERS
    sync_sleepers(registry, count, 0.2, starts)

    report = await within(registry.run(config=AstrumConfig(deadline=0.05)))
    starts.returned = True
    ran = len(starts.names)
    await asyncio.sleep(0.45)  # the given-up threads end; a queued job would start meanwhile

    assert starts.after_return == []
    assert len(starts.names) == ran
    assert 0 < ran <= MAX_WORKERS
    stats = by_name(report)
    sleepers = [stats[f"s{k}"] for k in range(count)]
    assert {s.status for s in sleepers} == {"cancelled"}
    given_up = {s.task_name for s in sleepers if s.attempt_count == 1}
    assert given_up == set(starts.names)
    for s in sleepers:
        if s.task_name in given_up:
            assert "worker thread could not be stopped" in s.error_message
        else:
            assert (s.error_message, s.attempt_count) == ("Task cancelled: the run deadline passed", 0)
    assert report.error_summary[0] == (
        f"Run deadline of 0.05 s exceeded: {ran} running task(s) cancelled, "
        f"{count - ran} ready task(s) cancelled before they started, the others skipped."
    )


async def test_queued_sync_job_never_starts_after_the_caller_cancels_the_run():
    starts = Starts()
    registry = SchedulerRegistry("queued_after_cancel")
    sync_sleepers(registry, 3 * MAX_WORKERS, 0.2, starts)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(registry.run(), 0.05)
    starts.returned = True
    ran = len(starts.names)
    await asyncio.sleep(0.3)

    assert starts.after_return == []
    assert 0 < ran <= MAX_WORKERS


class TaskEvents(RunHook):
    """The task events hooks hear, in order, as ``(kind, task, attempt)``."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, int]] = []

    def on_task_start(self, event) -> None:
        self.seen.append(("start", event.task_id, event.attempt))

    def on_task_success(self, event) -> None:
        self.seen.append(("success", event.task_id, event.attempt))

    def on_task_failure(self, event) -> None:
        self.seen.append(("failure", event.task_id, event.attempt))

    def on_task_cancel(self, event) -> None:
        self.seen.append(("cancel", event.task_id, event.attempt))

    def of(self, task: str) -> list[tuple[str, int]]:
        return [(kind, attempt) for kind, name, attempt in self.seen if name == task]


@pytest.mark.parametrize(
    "options", [{}, {"retry": 1}, {"timeout": 5}], ids=["thread-lane", "retry", "timeout"]
)
async def test_a_queued_sync_job_withdrawn_at_a_stop_gets_no_start_event(options):
    starts = Starts()
    events = TaskEvents()
    registry = SchedulerRegistry("withdrawn_events")
    count = 3 * MAX_WORKERS  # more than the worker threads: most jobs wait in the queue
    sync_sleepers(registry, count, 0.2, starts, **options)

    @registry.task()
    async def fails() -> None:
        await asyncio.sleep(0.05)
        raise RuntimeError("boom")

    report = await within(registry.run(config=AstrumConfig(hooks=[events])))

    announced = [name for kind, name, _ in events.seen if kind == "start" and name != "fails"]
    assert sorted(announced) == sorted(starts.names), "task_start events and bodies that ran differ"
    assert 0 < len(announced) < count
    stats = by_name(report)
    for k in range(count):
        name = f"s{k}"
        if name in starts.names:
            assert stats[name].attempt_count == 1
            assert events.of(name) == [("start", 1), ("cancel", 1)]
        else:  # withdrawn before a worker took it: cancelled, with no attempt and no start
            assert (stats[name].status, stats[name].attempt_count) == ("cancelled", 0)
            assert events.of(name) == [("cancel", 0)]


async def test_sync_jobs_given_up_at_the_deadline_get_a_start_event_and_withdrawn_ones_none():
    starts = Starts()
    events = TaskEvents()
    registry = SchedulerRegistry("deadline_events")
    count = 3 * MAX_WORKERS
    sync_sleepers(registry, count, 0.2, starts)

    report = await within(registry.run(config=AstrumConfig(deadline=0.05, hooks=[events])))
    await asyncio.sleep(0.25)  # the given-up threads end

    stats = by_name(report)
    given_up = {f"s{k}" for k in range(count) if stats[f"s{k}"].attempt_count == 1}
    assert given_up == set(starts.names)
    assert 0 < len(given_up) < count
    for k in range(count):
        name = f"s{k}"
        assert events.of(name) == ([("start", 1), ("cancel", 1)] if name in given_up else [("cancel", 0)])


@pytest.mark.parametrize("options", [{}, {"retry": 1}], ids=["thread-lane", "retry"])
async def test_a_sync_task_start_event_arrives_while_its_body_runs(options):
    events = TaskEvents()
    heard = threading.Event()

    class StartListener(RunHook):
        def on_task_start(self, event) -> None:
            if event.task_id == "work":
                heard.set()

    registry = SchedulerRegistry("start_while_running")

    def work() -> bool:
        return heard.wait(5)  # the loop hears of the start while the body runs

    registry.register(work, "work", **options)

    @registry.task(depends_on=["work"])
    def after() -> None: ...

    report = await within(registry.run(config=AstrumConfig(hooks=[StartListener(), events])))

    assert report.results["work"] is True
    assert events.of("work") == [("start", 1), ("success", 1)]
    assert events.seen.index(("success", "work", 1)) < events.seen.index(("start", "after", 1))


# -- running sync tasks are awaited; only a real timeout gives a thread up -----------------------


async def test_a_sync_task_with_a_timeout_is_awaited_when_a_sibling_fails():
    ended: list[str] = []
    registry = SchedulerRegistry("timeout_awaited")

    @registry.task()
    async def fails() -> None:
        await asyncio.sleep(0.05)
        raise RuntimeError("boom")

    @registry.task(timeout=5)
    def crunch() -> str:
        time.sleep(0.3)
        ended.append("crunch")
        return "crunched"

    report = await within(registry.run())

    assert ended == ["crunch"], "run() returned while the sync task was still running"
    stats = by_name(report)
    assert (stats["crunch"].status, stats["crunch"].attempt_count) == ("cancelled", 1)
    assert "crunch" not in report.results


def unretrieved_errors(loop: asyncio.AbstractEventLoop) -> list[dict[str, Any]]:
    """Start collecting what the loop's exception handler is told."""
    seen: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: seen.append(context))
    return seen


@pytest.mark.parametrize("stop", ["timeout", "deadline"])
async def test_a_late_error_of_a_given_up_thread_is_never_left_unretrieved(stop):
    seen = unretrieved_errors(asyncio.get_running_loop())
    registry = SchedulerRegistry("late_error")
    timeout = 0.05 if stop == "timeout" else 5

    @registry.task(timeout=timeout)
    def late() -> None:
        time.sleep(0.2)
        raise ValueError("late")

    config = AstrumConfig(deadline=0.05) if stop == "deadline" else AstrumConfig()
    report = await within(registry.run(config=config))
    status = by_name(report)["late"].status
    del report  # nothing of the run stays referenced: its futures can be collected
    await asyncio.sleep(0.35)  # the thread raises meanwhile
    gc.collect()
    await asyncio.sleep(0)

    assert status == ("timed_out" if stop == "timeout" else "cancelled")
    assert [c.get("message") for c in seen] == []


# -- nested runs from sync tasks ----------------------------------------------------------------


def nested_runs(outer_tasks: int, inner_seconds: float = 0.0) -> tuple[SchedulerRegistry, Starts]:
    """An outer registry whose sync tasks each run a one-task inner registry with ``asyncio.run``.

    The first ``MAX_WORKERS`` outer bodies wait for each other, so the worker threads are all
    busy with outer tasks when the inner runs begin.
    """
    starts = Starts()
    inner = SchedulerRegistry("inner")

    @inner.task()
    def leaf() -> str:
        time.sleep(inner_seconds)
        return threading.current_thread().name

    outer = SchedulerRegistry("outer")
    all_busy = threading.Event()
    lock = threading.Lock()
    entered = [0]

    def make(k: int):
        def body() -> str:
            starts(f"o{k}")
            with lock:
                entered[0] += 1
                if entered[0] == MAX_WORKERS:
                    all_busy.set()
            all_busy.wait(5)
            report = asyncio.run(inner.run())
            return report.results["leaf"]

        return body

    for k in range(outer_tasks):
        outer.register(make(k), f"o{k}")
    return outer, starts


def in_own_thread(coro_factory, seconds: float = 20) -> Any:
    """Run ``asyncio.run(coro_factory())`` in a daemon thread; fail instead of hanging for good."""
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(asyncio.run(coro_factory()))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the run hung"
    return outcome[0]


def test_nested_runs_from_sync_tasks_do_not_deadlock_the_worker_pool():
    outer, _ = nested_runs(MAX_WORKERS + 8)

    report = in_own_thread(lambda: asyncio.wait_for(outer.run(), 10))

    assert isinstance(report, ExecutionReport), report
    assert report.execution_state == "completed"
    # the inner runs' sync tasks ran on workers of their own, not on the busy outer ones
    assert all(name.startswith("astrum-worker-1.") for name in report.results.values())


def test_wait_for_ends_a_run_whose_sync_tasks_run_nested_runs():
    outer, starts = nested_runs(MAX_WORKERS + 8, inner_seconds=0.2)

    outcome = in_own_thread(lambda: asyncio.wait_for(outer.run(), 0.05))

    assert isinstance(outcome, TimeoutError), outcome
    assert 0 < len(starts.names) <= MAX_WORKERS  # the queued outer jobs never started


# -- retries --------------------------------------------------------------------------------------


async def test_a_cancel_during_retry_backoff_records_no_phantom_attempt():
    clock = FakeClock()
    bodies: list[float] = []
    starts: list[int] = []

    class Recorder(RunHook):
        def on_task_start(self, event) -> None:
            if event.task_id == "flaky":
                starts.append(event.attempt)

    registry = SchedulerRegistry("backoff_cancel")

    @registry.task(retry=Retry(retries=2, delay=1.0, jitter=0))
    async def flaky() -> None:
        bodies.append(clock.now())
        raise ConnectionError("reset")

    @registry.task()
    async def fails() -> None:
        await clock.sleep(0.5)  # while flaky waits 1 s before its second attempt
        raise RuntimeError("boom")

    report = await within(registry.run(config=AstrumConfig(clock=clock, hooks=[Recorder()])))

    assert bodies == [0.0]
    assert starts == [1]
    stat = by_name(report)["flaky"]
    assert stat.status == "cancelled"
    assert stat.attempt_count == 1
    assert [(a.status, a.will_retry) for a in stat.attempt_statistics] == [("failed", False)]
    assert stat.end_time - stat.start_time == pytest.approx(0.5)  # the task ended at the stop
