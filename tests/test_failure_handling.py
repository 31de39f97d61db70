"""Failure handling: timeouts that really stop work, retry policies, failure isolation, run deadline.

Process-isolated task functions live in ``tests/_process_jobs.py``: a worker
process receives its function by reference, so it must be importable at module
level. Backoff, timeouts and deadlines are checked on a ``FakeClock`` (instant,
exact) wherever no real blocking is involved; the real-clock tests use generous
bounds.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import multiprocessing
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import _process_jobs as jobs
from astrum import (
    AstrumConfig,
    DynamicScheduler,
    ExecutionReport,
    ProcessTaskError,
    Retry,
    SchedulerError,
    SchedulerRegistry,
    TaskOrder,
    TaskRegistrationError,
    TaskTimeoutError,
    fn_hook,
)
from astrum.testing import FakeClock

ROOT = Path(__file__).resolve().parent.parent


async def within(awaitable: Awaitable[Any], seconds: float = 20) -> Any:
    return await asyncio.wait_for(awaitable, seconds)


def by_name(report: ExecutionReport) -> dict[str, Any]:
    return {stat.task_name: stat for stat in report.task_statistics}


def statuses(report: ExecutionReport) -> dict[str, str]:
    return {stat.task_name: stat.status for stat in report.task_statistics}


def pid_is_gone(pid: int, seconds: float = 3.0) -> bool:
    """Whether process ``pid`` has exited and been reaped (polls for up to ``seconds``)."""
    end = time.monotonic() + seconds
    while True:
        try:
            os.kill(pid, 0)  # succeeds for live processes and for zombies
        except ProcessLookupError:
            return True
        if time.monotonic() > end:
            return False
        time.sleep(0.02)


def run_python(script: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh interpreter (this one) that imports this checkout's astrum."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=cwd, env=env
    )


def read_pid(path: Path) -> int:
    assert path.exists(), "the worker process never started"
    return int(path.read_text())


def assert_worker_gone(pid_file: Path) -> None:
    """No worker process is left: none is a child of ours, and the spinner's pid no longer exists.

    The pid is only known if the worker got as far as writing it (on a heavily loaded
    machine a 0.5 s limit can strike first); ``active_children`` is checked regardless.
    """
    assert multiprocessing.active_children() == []
    if pid_file.exists() and pid_file.read_text():
        assert pid_is_gone(read_pid(pid_file))


@pytest.fixture(scope="module", autouse=True)
def _warm_forkserver() -> None:
    """Start the forkserver once, so the first process-isolated task is not slow to begin.

    Preloading astrum in the forkserver spares every worker that import (~150 ms each);
    it has no effect if another test module started the forkserver already.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return  # astrum uses "spawn" there: nothing to warm up
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["astrum", "_process_jobs"])
    process = context.Process(target=jobs.worker_pid)
    process.start()
    process.join(30)
    assert process.exitcode == 0


# -- timeouts ----------------------------------------------------------------------------------


async def test_a_spinning_process_isolated_task_is_killed_at_its_timeout(tmp_path):
    pid_file = tmp_path / "spinner.pid"
    registry = SchedulerRegistry("spin")
    registry.register(
        functools.partial(jobs.spin_forever, str(pid_file)), "spin", isolation="process", timeout=0.5
    )

    started = time.perf_counter()
    report = await within(registry.run())
    elapsed = time.perf_counter() - started

    assert elapsed < 1.5
    assert report.execution_state == "failed"
    assert report.failed_tasks == 1
    stat = by_name(report)["spin"]
    assert stat.status == "timed_out"
    assert isinstance(stat.exception, TaskTimeoutError)
    assert stat.exception.timeout == 0.5
    assert stat.error_message == (
        "TaskTimeoutError: Task 'spin' timed out after 0.5 s; its worker process was killed."
    )
    assert [a.status for a in stat.attempt_statistics] == ["timed_out"]
    # the worker is gone: no child left, and the pid no longer exists (not even as a zombie)
    assert_worker_gone(pid_file)


async def test_a_blocking_thread_task_is_timed_out_while_an_independent_task_completes():
    registry = SchedulerRegistry("thread_timeout")

    @registry.task(timeout=0.3)
    def blocking() -> str:
        time.sleep(5)
        return "late"

    @registry.task()
    async def independent() -> str:
        await asyncio.sleep(0.5)
        return "done"

    started = time.perf_counter()
    report = await within(registry.run(config=AstrumConfig(failure_policy="continue")))
    elapsed = time.perf_counter() - started

    assert elapsed < 2.0  # nobody waited for the 5 s sleep
    stats = by_name(report)
    assert stats["blocking"].status == "timed_out"
    assert 0.28 <= stats["blocking"].duration < 1.0
    assert stats["blocking"].error_message == (
        "TaskTimeoutError: Task 'blocking' timed out after 0.3 s; its worker thread cannot be stopped "
        "and runs on; its late result is discarded."
    )
    assert stats["independent"].status == "completed"
    assert report.results == {"independent": "done"}
    assert (report.successful_tasks, report.failed_tasks) == (1, 1)
    assert report.execution_state == "failed"


async def test_with_the_default_policy_a_thread_timeout_cancels_slow_siblings_but_not_finished_ones():
    registry = SchedulerRegistry("thread_timeout_cancel")

    @registry.task(timeout=0.3)
    def blocking() -> None:
        time.sleep(5)

    @registry.task()
    async def quick() -> str:
        return "quick"

    @registry.task()
    async def slow() -> None:
        await asyncio.sleep(5)

    started = time.perf_counter()
    report = await within(registry.run())
    elapsed = time.perf_counter() - started

    assert elapsed < 2.0
    assert report.execution_state == "failed"
    stats = by_name(report)
    assert stats["blocking"].status == "timed_out"
    assert stats["quick"].status == "completed"  # done long before the timeout
    assert stats["slow"].status == "cancelled"  # still sleeping at the timeout
    assert stats["slow"].caused_by == "blocking"
    assert report.error_summary[0].startswith(
        "Execution interrupted; task 'blocking' failed: Task 'blocking' timed out after 0.3 s"
    )


async def test_the_late_result_of_a_timed_out_thread_is_discarded():
    finished = threading.Event()
    registry = SchedulerRegistry("late_result")

    @registry.task(timeout=0.2)
    def late() -> str:
        try:
            time.sleep(1.5)
            return "too late"
        finally:
            finished.set()

    report = await within(registry.run())
    assert not finished.is_set()  # the run did not wait for the thread

    await asyncio.to_thread(finished.wait, 5)
    await asyncio.sleep(0.05)  # give a (wrongly) delivered result time to land
    assert finished.is_set()
    assert "late" not in report.results
    assert by_name(report)["late"].status == "timed_out"
    assert report.failed_tasks == 1


async def test_an_async_task_is_cancelled_at_its_timeout():
    cancelled = asyncio.Event()
    registry = SchedulerRegistry("async_timeout")

    @registry.task(timeout=0.2)
    async def hangs() -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    started = time.perf_counter()
    report = await within(registry.run())
    elapsed = time.perf_counter() - started

    assert elapsed < 1.0
    assert cancelled.is_set()
    stat = by_name(report)["hangs"]
    assert stat.status == "timed_out"
    assert stat.error_message == "TaskTimeoutError: Task 'hangs' timed out after 0.2 s; it was cancelled."
    assert isinstance(report.exceptions["hangs"], TimeoutError)  # TaskTimeoutError is a TimeoutError


async def test_an_async_task_timing_out_is_retried_at_exact_virtual_times():
    clock = FakeClock()
    starts: list[float] = []
    registry = SchedulerRegistry("async_timeout_retry")

    @registry.task(timeout=2.0, retry=Retry(retries=3, delay=1.0, backoff=2.0, max_delay=3.0, jitter=0))
    async def hangs() -> None:
        starts.append(clock.now())
        await clock.sleep(10)

    wall = time.perf_counter()
    report = await within(registry.run(config=AstrumConfig(clock=clock)))
    assert time.perf_counter() - wall < 1.0  # virtual time: no real waiting

    # each attempt times out after 2, then waits 1, 2, 3 (capped) before the next
    assert starts == [0.0, 3.0, 7.0, 12.0]
    assert clock.now() == 14.0
    stat = by_name(report)["hangs"]
    assert stat.status == "timed_out"
    assert stat.attempt_count == 4
    assert [a.status for a in stat.attempt_statistics] == ["timed_out"] * 4
    assert [a.duration for a in stat.attempt_statistics] == [2.0] * 4
    assert [a.delay_before for a in stat.attempt_statistics] == [0.0, 1.0, 2.0, 3.0]
    assert [a.will_retry for a in stat.attempt_statistics] == [True, True, True, False]
    assert report.execution_duration == 14.0
    message = "Task 'hangs' timed out after 2 s; it was cancelled."
    assert report.error_summary == [
        f"Execution interrupted; task 'hangs' failed: {message}",
        f"Task 'hangs' attempt 1/4 failed; retrying with 3 retries left: {message}",
        f"Task 'hangs' attempt 2/4 failed; retrying with 2 retries left: {message}",
        f"Task 'hangs' attempt 3/4 failed; retrying with 1 retries left: {message}",
        f"Task 'hangs' exhausted 3 retries after 4 attempts: {message}",
        f"Task 'hangs' failed during execution: {message}",
    ]


async def test_an_async_task_that_times_out_twice_completes_on_its_third_attempt():
    clock = FakeClock()
    calls: list[float] = []
    registry = SchedulerRegistry("async_recovers")

    @registry.task(timeout=1.0, retry=Retry(retries=2, delay=0.5, backoff=2.0, jitter=0))
    async def slow_then_fast() -> str:
        calls.append(clock.now())
        await clock.sleep(5 if len(calls) < 3 else 0.25)
        return f"attempt {len(calls)}"

    report = await within(registry.run(config=AstrumConfig(clock=clock)))

    assert report.execution_state == "completed"
    assert report.results == {"slow_then_fast": "attempt 3"}
    assert calls == [0.0, 1.5, 3.5]
    stat = by_name(report)["slow_then_fast"]
    assert [a.status for a in stat.attempt_statistics] == ["timed_out", "timed_out", "completed"]
    assert [a.delay_before for a in stat.attempt_statistics] == [0.0, 0.5, 1.0]
    assert report.failed_tasks == 0


async def test_a_timed_out_thread_attempt_counts_as_a_failed_attempt_and_is_retried():
    calls = 0
    registry = SchedulerRegistry("thread_retry")

    @registry.task(timeout=0.2, retry=1)
    def first_call_blocks() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            time.sleep(1.0)
        return f"call {calls}"

    report = await within(registry.run())

    assert report.execution_state == "completed"
    assert report.results == {"first_call_blocks": "call 2"}
    stat = by_name(report)["first_call_blocks"]
    assert [a.status for a in stat.attempt_statistics] == ["timed_out", "completed"]
    assert stat.attempt_statistics[0].will_retry is True


async def test_a_process_killed_at_its_timeout_is_retried_in_a_new_process(tmp_path):
    marker = tmp_path / "first-attempt"
    registry = SchedulerRegistry("process_retry")
    registry.register(
        functools.partial(jobs.spin_on_first_call, str(marker)),
        "spins_once",
        isolation="process",
        timeout=0.5,
        retry=1,
    )

    report = await within(registry.run())

    assert report.execution_state == "completed"
    assert report.results == {"spins_once": "second attempt"}
    stat = by_name(report)["spins_once"]
    assert [a.status for a in stat.attempt_statistics] == ["timed_out", "completed"]
    assert pid_is_gone(read_pid(marker))  # the first worker was killed
    assert multiprocessing.active_children() == []


# -- retry policies ----------------------------------------------------------------------------


async def test_backoff_delays_follow_the_policy_exactly_without_jitter():
    clock = FakeClock()
    starts: list[float] = []
    registry = SchedulerRegistry("backoff")

    @registry.task(retry=Retry(retries=5, delay=0.5, backoff=3.0, max_delay=5.0, jitter=0))
    async def always_fails() -> None:
        starts.append(clock.now())
        raise ConnectionError("service unavailable")

    report = await within(registry.run(config=AstrumConfig(clock=clock)))

    # 0.5 * 3 ** k, capped at 5
    assert clock.sleeps == [0.5, 1.5, 4.5, 5.0, 5.0]
    assert starts == pytest.approx([0.0, 0.5, 2.0, 6.5, 11.5, 16.5])
    attempts = by_name(report)["always_fails"].attempt_statistics
    assert [a.delay_before for a in attempts] == [0.0, 0.5, 1.5, 4.5, 5.0, 5.0]
    gaps = [later.start_time - earlier.end_time for earlier, later in itertools.pairwise(attempts)]
    assert gaps == pytest.approx([0.5, 1.5, 4.5, 5.0, 5.0])
    assert report.error_summary[-2] == (
        "Task 'always_fails' exhausted 5 retries after 6 attempts: service unavailable"
    )


async def test_jittered_backoff_delays_stay_within_the_jitter_band_in_a_run():
    clock = FakeClock()
    policy = Retry(retries=6, delay=1.0, backoff=2.0, max_delay=40.0, jitter=0.2)
    registry = SchedulerRegistry("jitter_run")

    @registry.task(retry=policy)
    async def always_fails() -> None:
        raise ConnectionError("nope")

    report = await within(registry.run(config=AstrumConfig(clock=clock)))

    delays = [a.delay_before for a in by_name(report)["always_fails"].attempt_statistics[1:]]
    assert delays == clock.sleeps
    for k, waited in enumerate(delays):
        base = 1.0 * 2.0**k
        assert base * 0.8 <= waited <= base * 1.2


def test_jitter_draws_stay_within_plus_minus_jitter_and_use_the_whole_band():
    policy = Retry(retries=8, delay=0.5, backoff=2.0, max_delay=100.0, jitter=0.25)
    rand = random.Random(20240501).random
    for attempt in range(2, 9):
        base = 0.5 * 2.0 ** (attempt - 2)
        draws = [policy.delay_before(attempt, rand) for _ in range(2000)]
        assert all(base * 0.75 <= d <= base * 1.25 for d in draws), attempt
        # spread on both sides of the base delay, close to both edges
        assert min(draws) < base * 0.76 and max(draws) > base * 1.24


def test_max_delay_caps_every_delay_even_with_jitter():
    policy = Retry(retries=6, delay=10.0, backoff=10.0, max_delay=25.0, jitter=0.2)
    rand = random.Random(7).random
    assert 8.0 <= policy.delay_before(2, rand) <= 12.0
    for attempt in range(3, 8):
        draws = [policy.delay_before(attempt, rand) for _ in range(500)]
        assert all(20.0 <= d <= 25.0 for d in draws)
        assert max(draws) == 25.0  # at the cap jitter can only shorten the delay
    no_jitter = Retry(retries=3, delay=10.0, backoff=10.0, max_delay=25.0, jitter=0)
    assert [no_jitter.delay_before(k) for k in range(1, 5)] == [0.0, 10.0, 25.0, 25.0]


@given(
    delay=st.floats(0, 50),
    backoff=st.floats(1, 5),
    max_delay=st.floats(0, 100),
    jitter=st.floats(0, 1),
    attempt=st.integers(1, 20),
    draw=st.floats(0, 1, exclude_max=True),
)
@settings(max_examples=300, deadline=None)
def test_delay_before_follows_the_documented_formula(delay, backoff, max_delay, jitter, attempt, draw):
    policy = Retry(retries=20, delay=delay, backoff=backoff, max_delay=max_delay, jitter=jitter)
    waited = policy.delay_before(attempt, lambda: draw)
    if attempt == 1 or delay == 0:
        assert waited == 0.0
        return
    base = min(max_delay, delay * backoff ** (attempt - 2))
    assert 0.0 <= waited <= max_delay
    assert base * (1 - jitter) - 1e-9 <= waited <= base * (1 + jitter) + 1e-9
    if jitter == 0:
        assert waited == base


async def test_an_exception_outside_on_fails_at_once_and_the_summary_says_why():
    calls = 0
    registry = SchedulerRegistry("retry_on")

    @registry.task(retry=Retry(retries=3, delay=0, on=(ConnectionError,)))
    async def parse() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("bad input")

    report = await within(registry.run())

    assert calls == 1
    stat = by_name(report)["parse"]
    assert stat.status == "failed"
    assert stat.attempt_count == 1
    assert stat.attempt_statistics[0].will_retry is False
    assert (
        "Task 'parse' attempt 1/4 failed with ValueError, which its retry policy does not retry "
        "(on=('ConnectionError',)): bad input"
    ) in report.error_summary
    assert not any("retrying" in line for line in report.error_summary)


async def test_on_retries_matching_exceptions_and_their_subclasses_only():
    clock = FakeClock()
    raised: list[type[Exception]] = [ConnectionResetError, TimeoutError, KeyError]
    registry = SchedulerRegistry("retry_on_mixed")

    @registry.task(retry=Retry(retries=5, delay=1.0, backoff=1.0, jitter=0, on=OSError))
    async def fetch() -> None:
        raise raised.pop(0)("x")

    report = await within(registry.run(config=AstrumConfig(clock=clock)))

    # ConnectionResetError and TimeoutError are OSErrors (retried); KeyError is not (fails at once)
    stat = by_name(report)["fetch"]
    assert stat.attempt_count == 3
    assert raised == []
    assert clock.sleeps == [1.0, 1.0]
    assert isinstance(report.exceptions["fetch"], KeyError)
    assert any("attempt 3/6 failed with KeyError" in line for line in report.error_summary)


def test_on_accepts_a_single_exception_type():
    assert Retry(on=ConnectionError).on == (ConnectionError,)
    assert Retry(on=ConnectionError).retries_error(ConnectionResetError())
    assert not Retry(on=ConnectionError).retries_error(ValueError())


async def test_a_task_waiting_for_its_next_attempt_does_not_hold_a_concurrency_slot():
    clock = FakeClock()
    events: list[tuple[str, float]] = []
    registry = SchedulerRegistry("slot_release")

    @registry.task(retry=Retry(retries=1, delay=5.0, jitter=0))
    async def flaky() -> str:
        events.append(("flaky", clock.now()))
        if len(events) == 1:
            raise ConnectionError("first attempt fails")
        return "flaky"

    @registry.task()
    async def other() -> str:
        events.append(("other starts", clock.now()))
        await clock.sleep(1.0)
        events.append(("other ends", clock.now()))
        return "other"

    config = AstrumConfig(concurrency_limit=1, clock=clock)
    report = await within(registry.run(config=config))

    # with the only slot taken by a pausing task, "other" would have started at 5 at the earliest
    assert events == [("flaky", 0.0), ("other starts", 0.0), ("other ends", 1.0), ("flaky", 5.0)]
    assert report.execution_state == "completed"
    assert report.results == {"flaky": "flaky", "other": "other"}


async def test_a_task_pausing_for_a_retry_releases_a_user_semaphore_too():
    clock = FakeClock()
    events: list[tuple[str, float]] = []

    async def flaky() -> str:
        events.append(("flaky", clock.now()))
        if len(events) == 1:
            raise ConnectionError("first attempt fails")
        return "flaky"

    async def other() -> str:
        events.append(("other starts", clock.now()))
        await clock.sleep(1.0)
        return "other"

    scheduler = DynamicScheduler(
        [("flaky", flaky), ("other", other)],
        [TaskOrder("flaky"), TaskOrder("other")],
        concurrency_context=asyncio.Semaphore(1),
        task_retries={"flaky": Retry(retries=1, delay=5.0, jitter=0)},
        clock=clock,
    )
    report = await within(scheduler.execute())

    assert events == [("flaky", 0.0), ("other starts", 0.0), ("flaky", 5.0)]
    assert report.execution_state == "completed"


async def test_retry_n_keeps_upstreams_exact_summary_lines_and_does_not_wait():
    clock = FakeClock()
    calls = 0
    recovers = SchedulerRegistry("retry_int_recovers")

    @recovers.task(retry=2)
    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise RuntimeError(f"failure {calls}")
        return "ok"

    report = await within(recovers.run(config=AstrumConfig(clock=clock)))

    assert report.execution_state == "completed"
    assert report.error_summary == [
        "Task 'flaky' attempt 1/3 failed; retrying with 2 retries left: failure 1",
        "Task 'flaky' attempt 2/3 failed; retrying with 1 retries left: failure 2",
    ]
    stat = by_name(report)["flaky"]
    assert stat.retry == 2
    assert [a.delay_before for a in stat.attempt_statistics] == [0.0, 0.0, 0.0]

    exhausts = SchedulerRegistry("retry_int_exhausts")

    @exhausts.task(retry=1)
    async def doomed() -> None:
        raise RuntimeError("always")

    report = await within(exhausts.run(config=AstrumConfig(clock=clock)))

    assert report.error_summary == [
        "Execution interrupted; task 'doomed' failed: always",
        "Task 'doomed' attempt 1/2 failed; retrying with 1 retries left: always",
        "Task 'doomed' exhausted 1 retries after 2 attempts: always",
        "Task 'doomed' failed during execution: always",
    ]
    assert clock.sleeps == []  # retry=N retries immediately


async def test_summary_lines_and_attempt_messages_end_with_the_exception_message_alone():
    registry = SchedulerRegistry("erp")
    events: list[Any] = []

    @registry.task(retry=3)
    async def push_invoice() -> None:
        raise ConnectionResetError("erp busy")

    hook = fn_hook(on_task_retry=events.append, on_task_failure=events.append)
    report = await within(registry.run(config=AstrumConfig(hooks=[hook])))

    assert report.error_summary == [
        "Execution interrupted; task 'push_invoice' failed: erp busy",
        "Task 'push_invoice' attempt 1/4 failed; retrying with 3 retries left: erp busy",
        "Task 'push_invoice' attempt 2/4 failed; retrying with 2 retries left: erp busy",
        "Task 'push_invoice' attempt 3/4 failed; retrying with 1 retries left: erp busy",
        "Task 'push_invoice' exhausted 3 retries after 4 attempts: erp busy",
        "Task 'push_invoice' failed during execution: erp busy",
    ]
    stat = by_name(report)["push_invoice"]
    assert [a.error_message for a in stat.attempt_statistics] == ["erp busy"] * 4
    # The type stays where the form is astrum's own: exceptions, events, to_dict().
    assert all(type(a.exception) is ConnectionResetError for a in stat.attempt_statistics)
    assert [e.kind for e in events] == ["task_retry"] * 3 + ["task_failure"]
    assert all(type(e.error) is ConnectionResetError for e in events)
    assert report.to_dict()["task_statistics"][0]["exception"] == {
        "type": "builtins.ConnectionResetError",
        "message": "ConnectionResetError: erp busy",
    }


# -- failure isolation -------------------------------------------------------------------------


async def test_continue_runs_the_independent_branch_and_skips_exactly_the_failed_tasks_descendants():
    ran: list[str] = []
    registry = SchedulerRegistry("continue")

    def track(name: str, value: Any = None, fail: bool = False, seconds: float = 0.0):
        async def body() -> Any:
            ran.append(name)
            await asyncio.sleep(seconds)
            if fail:
                raise RuntimeError(f"{name} broke")
            return value if value is not None else name

        return body

    registry.register(track("extract"), "extract")
    registry.register(track("transform", fail=True, seconds=0.01), "transform", depends_on=["extract"])
    registry.register(track("load"), "load", depends_on=["transform"])
    registry.register(track("notify"), "notify", depends_on=["load"])
    registry.register(track("audit"), "audit", depends_on=["extract", "transform"])
    registry.register(track("archive", seconds=0.1), "archive", depends_on=["extract"])  # still running
    registry.register(track("archive_done"), "archive_done", depends_on=["archive"])  # starts later
    registry.register(track("unrelated", seconds=0.05), "unrelated")

    report = await within(registry.run(config=AstrumConfig(failure_policy="continue")))

    assert statuses(report) == {
        "extract": "completed",
        "transform": "failed",
        "load": "skipped",
        "notify": "skipped",
        "audit": "skipped",
        "archive": "completed",
        "archive_done": "completed",
        "unrelated": "completed",
    }
    stats = by_name(report)
    for name in ("load", "notify", "audit"):
        assert stats[name].caused_by == "transform"
        assert stats[name].error_message == "Skipped: task 'transform' failed before this task could start"
        assert stats[name].attempt_count == 0
    assert all(stats[name].caused_by is None for name in ("archive", "archive_done", "unrelated"))
    assert sorted(ran) == ["archive", "archive_done", "extract", "transform", "unrelated"]
    assert report.execution_state == "failed"
    assert (report.successful_tasks, report.failed_tasks) == (4, 1)
    assert report.error_summary[0] == (
        "Run finished with failures; first failed task 'transform': transform broke"
    )


async def test_cancel_stays_the_default_and_stops_the_independent_branch():
    registry = SchedulerRegistry("cancel_default")

    @registry.task()
    async def broken() -> None:
        await asyncio.sleep(0.01)
        raise RuntimeError("broken")

    @registry.task()
    async def independent() -> None:
        await asyncio.sleep(5)

    @registry.task(depends_on=["independent"])
    async def after() -> None:
        pass

    assert AstrumConfig().failure_policy == "cancel"
    report = await within(registry.run(), 3)

    assert statuses(report) == {"broken": "failed", "independent": "cancelled", "after": "skipped"}
    assert report.error_summary[0] == "Execution interrupted; task 'broken' failed: broken"


@dataclass(frozen=True)
class Dag:
    parents: list[list[int]]  # parents[i]: indices < i that task i depends on
    failing: frozenset[int]  # these tasks raise whenever they run
    sync: list[bool]  # run as a sync function (worker thread) or a coroutine
    retried: frozenset[int]  # these get retry=1 (so they take the policy path)
    order: list[int]  # position of each task in task_order

    def name(self, i: int) -> str:
        return f"t{i}"

    def ancestors(self, i: int) -> set[int]:
        seen: set[int] = set()
        stack = list(self.parents[i])
        while stack:
            j = stack.pop()
            if j not in seen:
                seen.add(j)
                stack.extend(self.parents[j])
        return seen


@st.composite
def dags(draw: st.DrawFn) -> Dag:
    n = draw(st.integers(1, 14))
    parents = [sorted(draw(st.sets(st.integers(0, i - 1), max_size=3))) if i else [] for i in range(n)]
    failing = draw(st.frozensets(st.integers(0, n - 1), max_size=max(1, n // 3)))
    sync = [draw(st.booleans()) for _ in range(n)]
    retried = draw(st.frozensets(st.integers(0, n - 1), max_size=3))
    order = draw(st.permutations(range(n)))
    return Dag(parents, failing, sync, retried, list(order))


class Planned(Exception):
    """The planned failure of a task in the property test."""


def run_dag(dag: Dag) -> tuple[ExecutionReport, list[str]]:
    calls: list[str] = []

    def make(i: int):
        name = dag.name(i)
        fails = i in dag.failing
        if dag.sync[i]:

            def sync_body() -> str:
                calls.append(name)
                if fails:
                    raise Planned(name)
                return name

            return sync_body

        async def async_body() -> str:
            calls.append(name)
            await asyncio.sleep(0)
            if fails:
                raise Planned(name)
            return name

        return async_body

    n = len(dag.parents)
    orders = [TaskOrder(dag.name(i), [dag.name(p) for p in dag.parents[i]]) for i in range(n)]
    scheduler = DynamicScheduler(
        [(dag.name(i), make(i)) for i in range(n)],
        [orders[i] for i in dag.order],
        task_retries={dag.name(i): 1 for i in dag.retried},
        failure_policy="continue",
    )

    async def main() -> ExecutionReport:
        report = await asyncio.wait_for(scheduler.execute(), 10)
        assert asyncio.all_tasks() == {asyncio.current_task()}, "a task outlived execute()"
        return report

    return asyncio.run(main()), calls


@given(dags())
@settings(max_examples=80, deadline=None)
def test_continue_skips_exactly_the_descendants_of_failed_tasks_on_random_dags(dag: Dag):
    report, calls = run_dag(dag)
    n = len(dag.parents)
    ancestors = [dag.ancestors(i) for i in range(n)]
    # a failing task fails when it runs, i.e. when no ancestor of it fails or is skipped
    failed = {i for i in dag.failing if not ancestors[i] & dag.failing}
    skipped = {i for i in range(n) if ancestors[i] & failed}
    completed = set(range(n)) - failed - skipped

    names = [stat.task_name for stat in report.task_statistics]
    assert sorted(names) == sorted(dag.name(i) for i in range(n)), "every task reported exactly once"
    got = statuses(report)
    assert {i for i in range(n) if got[dag.name(i)] == "failed"} == failed
    assert {i for i in range(n) if got[dag.name(i)] == "skipped"} == skipped
    assert {i for i in range(n) if got[dag.name(i)] == "completed"} == completed
    stats = by_name(report)
    for i in skipped:
        cause = stats[dag.name(i)].caused_by
        assert cause in {dag.name(j) for j in failed & ancestors[i]}
    # skipped tasks never ran; failing tasks that ran were tried 1 + retries times
    assert not {dag.name(i) for i in skipped} & set(calls)
    for i in failed:
        assert calls.count(dag.name(i)) == (2 if i in dag.retried else 1)
    assert set(report.results) == {dag.name(i) for i in completed}
    assert (report.successful_tasks, report.failed_tasks) == (len(completed), len(failed))
    assert report.execution_state == ("failed" if failed else "completed")
    if failed:
        assert report.error_summary[0].startswith("Run finished with failures; first failed task 't")


# -- run deadline ------------------------------------------------------------------------------


async def test_a_run_deadline_stops_async_thread_and_process_tasks_on_time(tmp_path):
    pid_file = tmp_path / "spinner.pid"
    release = threading.Event()
    registry = SchedulerRegistry("deadline")

    @registry.task()
    async def quick() -> str:
        return "quick"

    @registry.task()
    async def slow_async() -> None:
        await asyncio.sleep(5)

    registry.register(functools.partial(jobs.spin_forever, str(pid_file)), "spinner", isolation="process")

    @registry.task()
    def blocking() -> str:
        release.wait(5)  # an uninterruptible blocking call, like time.sleep(5)
        return "late"

    @registry.task(depends_on=["slow_async"])
    async def never_started() -> None:
        pass

    try:
        started = time.perf_counter()
        report = await within(registry.run(config=AstrumConfig(deadline=0.5)))
        elapsed = time.perf_counter() - started

        assert elapsed < 1.25
        assert report.execution_state == "failed"
        assert statuses(report) == {
            "quick": "completed",
            "slow_async": "cancelled",
            "spinner": "cancelled",
            "blocking": "cancelled",
            "never_started": "skipped",
        }
        stats = by_name(report)
        assert stats["slow_async"].error_message == "Task cancelled: the run deadline passed"
        assert stats["spinner"].error_message == "Task cancelled: the run deadline passed"
        assert "worker thread could not be stopped" in stats["blocking"].error_message
        assert stats["never_started"].error_message == (
            "Skipped: the run deadline passed before this task could start"
        )
        assert report.error_summary[0] == (
            "Run deadline of 0.5 s exceeded: 3 running task(s) cancelled, the tasks not yet started skipped."
        )
        assert (report.successful_tasks, report.failed_tasks) == (1, 0)
        # nothing left behind: no asyncio task, no worker process
        assert asyncio.all_tasks() == {asyncio.current_task()}
        assert_worker_gone(pid_file)
    finally:
        release.set()
    # the abandoned thread's late result is discarded
    await asyncio.sleep(0.1)
    assert report.results == {"quick": "quick"}


async def test_a_deadline_that_is_not_reached_changes_nothing():
    registry = SchedulerRegistry("deadline_unused")

    @registry.task()
    async def quick() -> int:
        await asyncio.sleep(0.01)
        return 1

    report = await within(registry.run(config=AstrumConfig(deadline=5)))

    assert report.execution_state == "completed"
    assert report.error_summary == []
    assert asyncio.all_tasks() == {asyncio.current_task()}  # the deadline watchdog is gone too


async def test_a_deadline_on_the_fake_clock_cancels_running_and_skips_pending_tasks():
    clock = FakeClock(start=100.0)
    registry = SchedulerRegistry("deadline_fake")

    @registry.task()
    async def long() -> None:
        await clock.sleep(50)

    @registry.task()
    async def short() -> str:
        await clock.sleep(3)
        return "short"

    @registry.task(depends_on=["long"])
    async def after_long() -> None:
        pass

    report = await within(registry.run(config=AstrumConfig(clock=clock, deadline=10)))

    assert clock.now() == 110.0
    assert statuses(report) == {"short": "completed", "long": "cancelled", "after_long": "skipped"}
    assert by_name(report)["long"].duration == 10.0
    assert report.execution_duration == 10.0


async def test_tasks_started_at_fake_time_zero_and_stopped_by_the_deadline_are_cancelled():
    clock = FakeClock()  # reads 0.0 when the tasks start
    release = threading.Event()
    registry = SchedulerRegistry("deadline_fake_zero")

    @registry.task()
    async def long() -> None:
        await clock.sleep(50)

    @registry.task()
    def blocking() -> str:
        release.wait(5)
        return "late"

    try:
        report = await within(registry.run(config=AstrumConfig(clock=clock, deadline=10)))
    finally:
        release.set()

    assert clock.now() == 10.0
    assert statuses(report) == {"long": "cancelled", "blocking": "cancelled"}
    assert [a.status for a in by_name(report)["long"].attempt_statistics] == ["cancelled"]
    assert by_name(report)["long"].duration == 10.0  # from virtual 0 to the deadline


async def test_under_continue_a_task_stopped_by_the_deadline_is_not_blamed_on_an_unrelated_failure():
    registry = SchedulerRegistry("deadline_continue")

    @registry.task()
    async def broken() -> None:
        raise RuntimeError("broken")

    @registry.task()
    async def unrelated() -> None:
        await asyncio.sleep(5)

    report = await within(registry.run(config=AstrumConfig(failure_policy="continue", deadline=0.3)))

    stat = by_name(report)["unrelated"]
    assert stat.status == "cancelled"
    assert stat.error_message == "Task cancelled: the run deadline passed"
    assert stat.caused_by is None


async def test_cancelling_a_run_kills_its_worker_processes(tmp_path):
    pid_file = tmp_path / "spinner.pid"
    registry = SchedulerRegistry("outer_cancel")
    registry.register(functools.partial(jobs.spin_forever, str(pid_file)), "spin", isolation="process")

    running = asyncio.ensure_future(registry.run())
    for _ in range(500):  # wait (up to 10 s) until the worker is spinning
        if pid_file.exists() and pid_file.read_text():
            break
        await asyncio.sleep(0.02)
    pid = read_pid(pid_file)
    started = time.perf_counter()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

    assert time.perf_counter() - started < 1.0
    assert multiprocessing.active_children() == []
    assert pid_is_gone(pid)
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_a_retry_whose_backoff_ends_past_the_deadline_is_not_attempted():
    clock = FakeClock()
    starts: list[float] = []
    registry = SchedulerRegistry("deadline_backoff")

    @registry.task(retry=Retry(retries=5, delay=4.0, backoff=2.0, jitter=0))
    async def flaky() -> None:
        starts.append(clock.now())
        raise ConnectionError("down")

    report = await within(registry.run(config=AstrumConfig(clock=clock, deadline=10)))

    # attempt 2 starts at 4; attempt 3 would start at 4 + 8 = 12 > 10
    assert starts == [0.0, 4.0]
    assert clock.now() == 4.0  # the run ends at once instead of waiting for the deadline
    stat = by_name(report)["flaky"]
    assert stat.status == "failed"
    assert [a.will_retry for a in stat.attempt_statistics] == [True, False]
    assert (
        "Task 'flaky' attempt 2/6 failed; not retried: the next attempt would start after the run "
        "deadline: down"
    ) in report.error_summary
    assert report.execution_state == "failed"


# -- process isolation -------------------------------------------------------------------------


def test_a_function_that_cannot_be_pickled_fails_the_build_with_a_clear_error():
    registry = SchedulerRegistry("unpicklable_fn")

    def local_function() -> int:
        return 1

    registry.register(lambda: 1, "a_lambda", isolation="process")
    registry.register(local_function, "a_local", isolation="process")
    registry.register(jobs.worker_pid, "fine", isolation="process")

    with pytest.raises(TaskRegistrationError) as caught:
        registry.build_scheduler()

    problems = caught.value.problems
    assert len(problems) == 2
    assert problems[0].startswith(
        "Task 'a_lambda' uses isolation='process' but its function cannot be sent to a worker process"
    )
    assert problems[1].startswith(
        "Task 'a_local' uses isolation='process' but its function cannot be sent to a worker process"
    )
    assert all("Define it at module level" in p for p in problems)


async def test_an_argument_that_cannot_be_pickled_fails_the_task_with_a_clear_message():
    registry = SchedulerRegistry("unpicklable_arg")

    @registry.task()
    def produce() -> object:
        return threading.Lock()

    registry.register(jobs.describe, "describe", isolation="process")

    report = await within(registry.run())

    stat = by_name(report)["describe"]
    assert stat.status == "failed"
    assert "cannot pickle '_thread.lock' object" in stat.error_message
    assert "must be picklable" in stat.error_message
    assert by_name(report)["produce"].status == "completed"
    assert multiprocessing.active_children() == []


async def test_process_isolated_tasks_return_values_and_raise_typed_exceptions():
    registry = SchedulerRegistry("process_values")

    @registry.task()
    def produce() -> dict[str, int]:
        return {"rows": 3}

    registry.register(jobs.describe, "describe", isolation="process")
    registry.register(functools.partial(jobs.square_sum, 1000), "square_sum", isolation="process")
    registry.register(jobs.worker_pid, "worker_pid", isolation="process")
    registry.register(jobs.async_double, "async_double", isolation="process")
    registry.register(jobs.raise_parse_error, "parse", isolation="process")
    registry.register(jobs.return_unpicklable, "returns_lambda", isolation="process")

    report = await within(registry.run(config=AstrumConfig(failure_policy="continue")))

    results = report.results
    assert results["describe"] == "{'rows': 3}"  # the upstream value reached the worker
    assert results["square_sum"] == sum(i * i for i in range(1000))
    assert results["worker_pid"] != os.getpid()  # it really ran in another process
    doubled, async_pid = results["async_double"]
    assert doubled == 42 and async_pid != os.getpid()  # async functions work too
    # the worker's exception arrives with its own type
    assert type(report.exceptions["parse"]) is jobs.ParseError
    assert str(report.exceptions["parse"]) == "bad row 7"
    assert by_name(report)["parse"].error_message == "ParseError: bad row 7"
    returns_lambda = by_name(report)["returns_lambda"]
    assert returns_lambda.status == "failed"
    assert "the task's outcome cannot be sent back" in returns_lambda.error_message
    assert multiprocessing.active_children() == []


async def test_a_worker_exception_that_cannot_be_rebuilt_arrives_described_by_a_process_task_error():
    registry = SchedulerRegistry("process_unrebuildable")
    registry.register(jobs.raise_pair_error, "pair", isolation="process")
    registry.register(jobs.raise_status_error, "status", isolation="process")

    report = await within(registry.run(config=AstrumConfig(failure_policy="continue")))

    cases = {
        "pair": ("_process_jobs.PairError", "pair 1 and 2 failed", "raise PairError(1, 2)"),
        "status": (
            "_process_jobs.StatusError",
            "server said 503",
            'StatusError("server said 503", status=503)',
        ),
    }
    for name, (type_name, message, raising_line) in cases.items():
        error = report.exceptions[name]
        assert type(error) is ProcessTaskError  # not the TypeError raised while rebuilding it
        assert isinstance(error, SchedulerError) and isinstance(error, RuntimeError)
        assert error.type_name == type_name
        assert error.original_message == message
        assert raising_line in error.traceback_text
        assert error.traceback_text.rstrip().endswith(f"{type_name}: {message}")
        assert str(error).startswith(f"{type_name}: {message} (raised in the worker process")
        assert by_name(report)[name].error_message.startswith(f"ProcessTaskError: {type_name}: {message}")
        assert f"Task '{name}' failed during execution: {type_name}: {message}" in "\n".join(
            report.error_summary
        )
    assert multiprocessing.active_children() == []


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": 0}, "Task 'job' timeout must be a positive number of seconds, got 0."),
        ({"timeout": -1}, "Task 'job' timeout must be a positive number of seconds, got -1."),
        ({"timeout": float("inf")}, "Task 'job' timeout must be a positive number of seconds, got inf."),
        ({"isolation": "fiber"}, "Task 'job' isolation must be 'thread' or 'process', got 'fiber'."),
        ({"retry": -1}, "Task 'job' retry must be a non-negative integer."),
    ],
)
def test_invalid_task_options_are_rejected_at_registration(options, message):
    registry = SchedulerRegistry("invalid")
    with pytest.raises(TaskRegistrationError) as caught:

        @registry.task("job", **options)
        async def job() -> None:
            pass

    assert str(caught.value) == message
    assert "job" not in registry


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retries": -1}, "Retry.retries must be a non-negative integer, got -1"),
        ({"retries": 1.5}, "Retry.retries must be a non-negative integer, got 1.5"),
        ({"delay": -0.1}, "Retry.delay must be a number >= 0.0, got -0.1"),
        ({"backoff": 0.5}, "Retry.backoff must be a number >= 1.0, got 0.5"),
        ({"max_delay": -1}, "Retry.max_delay must be a number >= 0.0, got -1"),
        ({"jitter": 2}, "Retry.jitter must be between 0 and 1, got 2"),
        ({"jitter": -0.1}, "Retry.jitter must be between 0 and 1, got -0.1"),
        ({"on": (int,)}, "Retry.on must be exception types, got (<class 'int'>,)"),
        ({"on": ()}, "Retry.on must be exception types, got ()"),
    ],
)
def test_invalid_retry_policies_are_rejected(options, message):
    with pytest.raises(ValueError) as caught:
        Retry(**options)
    assert str(caught.value) == message


def test_retry_is_a_frozen_value_and_retry_n_is_shorthand_without_delay():
    policy = Retry()
    assert (policy.retries, policy.delay, policy.backoff, policy.max_delay, policy.jitter) == (
        3,
        0.5,
        2.0,
        30.0,
        0.1,
    )
    assert policy.on == (Exception,)
    with pytest.raises(AttributeError):
        policy.retries = 5  # type: ignore[misc]
    assert Retry(retries=2) == Retry(retries=2)
    registry = SchedulerRegistry("shorthand")
    record = registry.register(lambda: None, "job", retry=2)
    assert record.retry_policy == Retry(retries=2, delay=0.0, jitter=0.0)
    assert record.retry == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"failure_policy": "maybe"}, "failure_policy must be 'cancel' or 'continue', got 'maybe'"),
        ({"deadline": 0}, "deadline must be a positive number of seconds or None, got 0"),
        ({"deadline": -1}, "deadline must be a positive number of seconds or None, got -1"),
        ({"deadline": True}, "deadline must be a positive number of seconds or None, got True"),
    ],
)
def test_invalid_run_options_are_rejected_by_the_config(options, message):
    with pytest.raises(ValueError) as caught:
        AstrumConfig(**options)
    assert str(caught.value) == message


def test_dynamic_scheduler_rejects_an_unknown_failure_policy():
    with pytest.raises(ValueError, match="failure_policy must be 'cancel' or 'continue', got 'maybe'"):
        DynamicScheduler([("a", jobs.worker_pid)], [TaskOrder("a")], failure_policy="maybe")


def test_dynamic_scheduler_rejects_a_non_positive_deadline():
    with pytest.raises(ValueError, match="deadline must be a positive number"):
        DynamicScheduler([("a", jobs.worker_pid)], [TaskOrder("a")], deadline=0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"task_timeouts": {"a": 0}}, "Task 'a' timeout must be a positive number of seconds, got 0."),
        (
            {"task_isolation": {"a": "fiber"}},
            "Task 'a' isolation must be 'thread' or 'process', got 'fiber'.",
        ),
    ],
)
def test_dynamic_scheduler_rejects_invalid_task_options_at_construction(options, message):
    async def a() -> None:
        return None

    with pytest.raises(TaskRegistrationError) as caught:
        DynamicScheduler([("a", a)], [TaskOrder("a")], **options)

    assert str(caught.value) == message


# -- the same features through DynamicScheduler ------------------------------------------------


async def test_dynamic_scheduler_kills_a_process_at_its_timeout_and_continues(tmp_path):
    pid_file = tmp_path / "spinner.pid"

    async def independent() -> str:
        await asyncio.sleep(0.05)
        return "done"

    async def downstream() -> str:
        return "never"

    scheduler = DynamicScheduler(
        [
            ("spin", functools.partial(jobs.spin_forever, str(pid_file))),
            ("independent", independent),
            ("downstream", downstream),
        ],
        [TaskOrder("spin"), TaskOrder("independent"), TaskOrder("downstream", ["spin"])],
        task_timeouts={"spin": 0.5},
        task_isolation={"spin": "process"},
        failure_policy="continue",
    )
    started = time.perf_counter()
    report = await within(scheduler.execute())

    assert time.perf_counter() - started < 1.5
    assert statuses(report) == {"spin": "timed_out", "independent": "completed", "downstream": "skipped"}
    assert by_name(report)["downstream"].caused_by == "spin"
    assert report.failed_tasks == 1
    assert_worker_gone(pid_file)


async def test_dynamic_scheduler_process_isolation_of_a_lambda_fails_the_task_clearly():
    scheduler = DynamicScheduler([("lam", lambda: 1)], [TaskOrder("lam")], task_isolation={"lam": "process"})
    report = await within(scheduler.execute())

    stat = by_name(report)["lam"]
    assert stat.status == "failed"
    assert "local object" in stat.error_message  # wording differs across Python versions
    assert "must be picklable (defined at module level)" in stat.error_message


async def test_dynamic_scheduler_backoff_and_timeouts_on_a_fake_clock():
    clock = FakeClock()
    starts: list[float] = []

    async def hangs() -> None:
        starts.append(clock.now())
        await clock.sleep(60)

    scheduler = DynamicScheduler(
        [("hangs", hangs)],
        [TaskOrder("hangs")],
        task_retries={"hangs": Retry(retries=2, delay=2.0, backoff=5.0, jitter=0)},
        task_timeouts={"hangs": 1.0},
        clock=clock,
    )
    report = await within(scheduler.execute())

    assert starts == [0.0, 3.0, 14.0]  # timeout 1, then delays 2 and 10
    stat = by_name(report)["hangs"]
    assert [a.status for a in stat.attempt_statistics] == ["timed_out"] * 3
    assert [a.delay_before for a in stat.attempt_statistics] == [0.0, 2.0, 10.0]
    assert stat.retry == 2


async def test_dynamic_scheduler_deadline_cancels_the_run_on_time():
    async def sleeps() -> None:
        await asyncio.sleep(5)

    async def after() -> None:
        pass

    scheduler = DynamicScheduler(
        [("sleeps", sleeps), ("after", after)],
        [TaskOrder("sleeps"), TaskOrder("after", ["sleeps"])],
        deadline=0.3,
    )
    started = time.perf_counter()
    report = await within(scheduler.execute())

    assert time.perf_counter() - started < 1.0
    assert statuses(report) == {"sleeps": "cancelled", "after": "skipped"}
    assert report.execution_state == "failed"
    assert scheduler.execution_state.value == "failed"
    assert report.error_summary[0].startswith("Run deadline of 0.3 s exceeded")
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_dynamic_scheduler_failure_policy_continue_skips_descendants_only():
    async def broken() -> None:
        raise RuntimeError("broken")

    async def child() -> None:
        pass

    async def sibling() -> str:
        await asyncio.sleep(0.05)
        return "sibling"

    scheduler = DynamicScheduler(
        [("broken", broken), ("child", child), ("sibling", sibling)],
        [TaskOrder("broken"), TaskOrder("child", ["broken"]), TaskOrder("sibling")],
        failure_policy="continue",
    )
    report = await within(scheduler.execute())

    assert statuses(report) == {"broken": "failed", "child": "skipped", "sibling": "completed"}
    assert by_name(report)["child"].caused_by == "broken"
    assert report.results == {"sibling": "sibling"}


# -- the example -------------------------------------------------------------------------------


def test_the_resilient_pipeline_example_runs_and_its_checks_pass():
    result = run_python(ROOT / "examples" / "resilient_pipeline.py", ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "resilient pipeline OK" in result.stdout


def doc_snippets() -> list[str]:
    """The example files that docs/failure-handling.md includes (each run by tests/test_docs_site.py)."""
    text = (ROOT / "docs" / "failure-handling.md").read_text(encoding="utf-8")
    return [
        (ROOT / name).read_text(encoding="utf-8") for name in re.findall(r'^--8<-- "([^"]+)"$', text, re.M)
    ]


def test_the_failure_handling_page_shows_an_example_per_option():
    snippets = doc_snippets()
    assert len(snippets) == 7
    joined = "\n".join(snippets)
    for option in (
        "timeout=",
        'isolation="process"',
        "Retry(",
        'failure_policy="continue"',
        "deadline=",
        "FakeClock",
        "DynamicScheduler(",
    ):
        assert option in joined, option
