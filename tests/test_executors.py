"""Sync tasks on a named executor (a process pool here): results through Ref, errors, retries,

timeouts, cancellation, and what is refused at build."""

import asyncio
import multiprocessing
import os
import threading
import traceback
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import _process_jobs as jobs
from astrum import (
    AstrumConfig,
    ConfigurationError,
    ExecutionReport,
    F,
    Ref,
    Retry,
    SchedulerRegistry,
    TaskRegistrationError,
    TaskTimeoutError,
)


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver")) as executor:
        yield executor


def by_name(report: ExecutionReport) -> dict[str, Any]:
    return {stat.task_name: stat for stat in report.task_statistics}


async def test_results_flow_through_ref_from_a_closure_on_a_process_pool(pool: ProcessPoolExecutor) -> None:
    registry = SchedulerRegistry("pool_ref")
    offset = 10  # a closure over a local: sent with cloudpickle

    @registry.task(executor="cpu")
    def produce() -> int:
        return 32 + offset

    @registry.task(executor="cpu")
    def consume(value: Ref[int, F("produce")]) -> tuple[int, int]:
        return value * 2, os.getpid()

    report = await registry.run(config=AstrumConfig(executors={"cpu": pool}))

    assert report.execution_state == "completed"
    doubled, pid = report.results["consume"]
    assert doubled == 84
    assert pid != os.getpid()  # it ran in a worker process


async def test_default_executor_takes_sync_tasks_and_async_tasks_stay_on_the_loop(
    pool: ProcessPoolExecutor,
) -> None:
    registry = SchedulerRegistry("pool_default")

    @registry.task
    def sync_pid() -> int:
        return os.getpid()

    @registry.task
    async def async_pid() -> int:
        return os.getpid()

    report = await registry.run(config=AstrumConfig(executors={"cpu": pool}, default_executor="cpu"))

    assert report.results["sync_pid"] != os.getpid()
    assert report.results["async_pid"] == os.getpid()


async def test_a_task_error_keeps_its_type_message_and_worker_traceback(pool: ProcessPoolExecutor) -> None:
    registry = SchedulerRegistry("pool_error")
    registry.register(jobs.raise_parse_error, "parse", executor="cpu")

    report = await registry.run(config=AstrumConfig(executors={"cpu": pool}))

    stat = by_name(report)["parse"]
    assert stat.status == "failed"
    assert type(stat.exception) is jobs.ParseError
    assert str(stat.exception) == "bad row 7"
    text = "".join(traceback.format_exception(stat.exception))
    assert "raise_parse_error" in text  # the worker's frames are kept


async def test_a_failed_attempt_on_a_process_pool_is_retried(
    pool: ProcessPoolExecutor, tmp_path: Path
) -> None:
    registry = SchedulerRegistry("pool_retry")
    marker = tmp_path / "failed-once"

    @registry.task(executor="cpu", retry=Retry(retries=2))
    def flaky() -> str:
        if not marker.exists():
            marker.write_text("x")
            raise ConnectionError("first call fails")
        return "second attempt"

    report = await registry.run(config=AstrumConfig(executors={"cpu": pool}))

    assert report.results == {"flaky": "second attempt"}
    assert [a.status for a in by_name(report)["flaky"].attempt_statistics] == ["failed", "completed"]


async def test_a_timed_out_job_fails_its_attempt_and_names_the_executor() -> None:
    registry = SchedulerRegistry("pool_timeout")
    release = threading.Event()

    @registry.task(executor="io", timeout=0.2)
    def blocked() -> None:
        release.wait(5)

    with ThreadPoolExecutor(1) as executor:
        report = await registry.run(config=AstrumConfig(executors={"io": executor}))
        release.set()

    stat = by_name(report)["blocked"]
    assert stat.status == "timed_out"
    assert isinstance(stat.exception, TaskTimeoutError)
    assert "its job on executor 'io' was cancelled" in str(stat.exception)


async def test_a_stopped_run_withdraws_the_jobs_still_queued_on_the_executor(tmp_path: Path) -> None:
    registry = SchedulerRegistry("pool_cancel")
    release = threading.Event()
    started: list[str] = []

    @registry.task
    async def fails() -> None:
        await asyncio.sleep(0.1)
        raise RuntimeError("stop the run")

    def job(name: str) -> Any:
        def body() -> None:
            started.append(name)
            release.wait(5)

        return body

    for name in ("a", "b", "c"):
        registry.register(job(name), name, executor="one")

    with ThreadPoolExecutor(1) as executor:  # one worker: one job runs, two wait in its queue
        run = asyncio.ensure_future(registry.run(config=AstrumConfig(executors={"one": executor})))
        await asyncio.sleep(0.4)
        release.set()
        report = await asyncio.wait_for(run, 10)

    assert report.execution_state == "failed"
    assert len(started) == 1  # the queued jobs never started


def test_an_unknown_executor_is_refused_at_build_naming_the_task_and_the_known_ones() -> None:
    registry = SchedulerRegistry("pool_unknown")

    @registry.task(executor="gpu")
    def work() -> None: ...

    with pytest.raises(TaskRegistrationError) as info:
        registry.build_scheduler(config=AstrumConfig(executors={"cpu": ThreadPoolExecutor(1)}))
    message = str(info.value)
    assert "Task 'work' uses executor 'gpu'" in message
    assert "['cpu']" in message


def test_a_function_closing_over_a_lock_is_refused_before_the_run(pool: ProcessPoolExecutor) -> None:
    registry = SchedulerRegistry("pool_unpicklable")
    lock = threading.Lock()
    ran: list[bool] = []

    @registry.task(executor="cpu")
    def guarded() -> None:
        with lock:
            ran.append(True)

    with pytest.raises(TaskRegistrationError) as info:
        registry.build_scheduler(config=AstrumConfig(executors={"cpu": pool}))
    message = str(info.value)
    assert "Task 'guarded' runs on executor 'cpu' but its function cannot be pickled" in message
    assert "lock" in message
    assert "create them inside the function" in message
    assert ran == []


def test_an_async_task_naming_an_executor_is_refused() -> None:
    registry = SchedulerRegistry("pool_async")

    @registry.task(executor="cpu")
    async def on_loop() -> None: ...

    with pytest.raises(TaskRegistrationError, match="Task 'on_loop' is async"):
        registry.build_scheduler(config=AstrumConfig(executors={"cpu": ThreadPoolExecutor(1)}))


def test_the_configuration_refuses_what_is_not_an_executor_and_an_unknown_default() -> None:
    with pytest.raises(TypeError, match=r"executors\['cpu'\] must be a concurrent.futures.Executor"):
        AstrumConfig(executors={"cpu": 4})
    with pytest.raises(ConfigurationError, match="default_executor='gpu' names no executor"):
        AstrumConfig(executors={"cpu": ThreadPoolExecutor(1)}, default_executor="gpu")


@pytest.fixture
def one_worker() -> Iterator[ProcessPoolExecutor]:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver")) as executor:
        yield executor


async def test_a_timed_out_job_is_stopped_in_its_worker_which_then_takes_the_next_job(
    one_worker: ProcessPoolExecutor,
) -> None:
    registry = SchedulerRegistry("pool_timeout_stops")

    @registry.task(executor="cpu", timeout=0.3)
    def spin() -> None:
        while True:
            pass

    @registry.task
    async def later() -> None:
        await asyncio.sleep(0.05)  # spin reaches the only worker first

    @registry.task(executor="cpu")
    def after(_: Ref[None, F("later")]) -> int:
        return os.getpid()

    config = AstrumConfig(executors={"cpu": one_worker}, failure_policy="continue", deadline=20)
    report = await registry.run(config=config)

    stats = by_name(report)
    assert stats["spin"].status == "timed_out"
    assert "was cancelled (and stopped in its worker process if it had started)" in str(
        stats["spin"].exception
    )
    # one worker: `after` could only run once spin had been stopped, and the worker survived it
    assert stats["after"].status == "completed"
    assert report.results["after"] == one_worker.submit(os.getpid).result(timeout=5)


async def test_the_run_deadline_stops_a_job_running_in_a_process_worker(
    one_worker: ProcessPoolExecutor,
) -> None:
    registry = SchedulerRegistry("pool_deadline_stops")
    registry.register(jobs.spin_forever, "spin", executor="cpu")

    report = await registry.run(config=AstrumConfig(executors={"cpu": one_worker}, deadline=0.4))

    assert report.execution_state == "failed"
    assert by_name(report)["spin"].status == "cancelled"
    # the worker is free again: without being stopped it would spin for ever
    assert one_worker.submit(os.getpid).result(timeout=5) > 0


async def test_continue_on_a_process_pool_runs_the_independent_branch_and_skips_the_failed_ones_children(
    pool: ProcessPoolExecutor,
) -> None:
    registry = SchedulerRegistry("pool_continue")
    registry.register(jobs.raise_parse_error, "parse", executor="cpu")

    @registry.task(executor="cpu")
    def child(_: Ref[None, F("parse")]) -> str:
        return "never"

    @registry.task(executor="cpu")
    def independent() -> int:
        return 21

    @registry.task(executor="cpu")
    def doubled(value: Ref[int, F("independent")]) -> int:
        return value * 2

    report = await registry.run(config=AstrumConfig(executors={"cpu": pool}, failure_policy="continue"))

    stats = by_name(report)
    assert stats["parse"].status == "failed"
    assert stats["child"].status == "skipped"
    assert report.results["doubled"] == 42


def test_a_task_with_both_an_executor_and_process_isolation_is_refused(pool: ProcessPoolExecutor) -> None:
    registry = SchedulerRegistry("pool_and_isolation")
    registry.register(jobs.spin_forever, "spin", executor="cpu", isolation="process")

    with pytest.raises(TaskRegistrationError) as info:
        registry.build_scheduler(config=AstrumConfig(executors={"cpu": pool}))
    message = str(info.value)
    assert "Task 'spin' sets both executor='cpu' and isolation='process'; choose one" in message


async def test_the_default_executor_leaves_a_process_isolated_task_in_its_own_process(
    one_worker: ProcessPoolExecutor,
) -> None:
    registry = SchedulerRegistry("pool_default_isolated")
    registry.register(jobs.worker_pid, "isolated", isolation="process")

    config = AstrumConfig(executors={"cpu": one_worker}, default_executor="cpu")
    report = await registry.run(config=config)

    worker_pid = one_worker.submit(os.getpid).result(timeout=5)
    assert report.results["isolated"] not in (os.getpid(), worker_pid)


async def test_a_job_running_in_a_process_worker_is_stopped_when_its_run_stops(
    one_worker: ProcessPoolExecutor,
) -> None:
    registry = SchedulerRegistry("pool_run_stop_stops")
    registry.register(jobs.spin_forever, "spin", executor="cpu")

    @registry.task
    async def fails() -> None:
        await asyncio.sleep(0.3)  # spin is running in the worker by now
        raise RuntimeError("stop the run")

    report = await registry.run(config=AstrumConfig(executors={"cpu": one_worker}))

    assert report.execution_state == "failed"
    assert by_name(report)["spin"].status == "cancelled"
    # the only worker is free again (and alive): it was told to stop the job, not killed
    pids = set(one_worker._processes)  # type: ignore[attr-defined]
    assert one_worker.submit(os.getpid).result(timeout=5) in pids


async def test_cancelling_a_run_stops_its_job_in_a_process_worker(one_worker: ProcessPoolExecutor) -> None:
    registry = SchedulerRegistry("pool_cancel_stops")
    registry.register(jobs.spin_forever, "spin", executor="cpu")

    run = asyncio.ensure_future(registry.run(config=AstrumConfig(executors={"cpu": one_worker})))
    await asyncio.sleep(0.3)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run

    assert one_worker.submit(os.getpid).result(timeout=5) > 0
