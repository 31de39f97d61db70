"""Sync tasks on a real Dask cluster (two worker processes on loopback): results through Ref,
errors, cancellation, and a worker killed mid-task."""

import asyncio
import functools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import _process_jobs as jobs
from astrum import AstrumConfig, ExecutionReport, F, Ref, Retry, SchedulerRegistry
from astrum.executors._dask import close_address_clients

distributed = pytest.importorskip("distributed", reason="the Dask tests need astrum[dask] (distributed)")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    import dask

    # a worker lost while running a job fails that job at once: astrum's retry policy decides
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=":0",
            host="127.0.0.1",
        ) as local:
            yield local
            close_address_clients()  # the client made for the address string


@pytest.fixture(scope="module")
def client(cluster: Any) -> Iterator[Any]:
    with distributed.Client(cluster) as dask_client:
        yield dask_client


def by_name(report: ExecutionReport) -> dict[str, Any]:
    return {stat.task_name: stat for stat in report.task_statistics}


def scheduler_task_count(client: Any) -> int:
    return int(client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)))


async def test_results_flow_through_ref_on_a_dask_client(client: Any) -> None:
    registry = SchedulerRegistry("dask_ref")
    base = 40  # a closure: sent with cloudpickle

    @registry.task(executor="cluster")
    def produce() -> int:
        return base + 2

    @registry.task(executor="cluster")
    def consume(value: Ref[int, F("produce")]) -> str:
        from distributed import get_worker

        return f"{value * 2} on {get_worker().address}"

    report = await asyncio.wait_for(registry.run(config=AstrumConfig(executors={"cluster": client})), 30)

    assert report.execution_state == "completed"
    assert report.results["consume"].startswith("84 on tcp://127.0.0.1:")


async def test_a_scheduler_address_string_works_as_an_executor(cluster: Any) -> None:
    registry = SchedulerRegistry("dask_address")

    @registry.task
    def square() -> int:
        return 7 * 7

    config = AstrumConfig(executors={"cluster": cluster.scheduler_address}, default_executor="cluster")
    report = await asyncio.wait_for(registry.run(config=config), 30)

    assert report.results == {"square": 49}


async def test_a_failing_task_keeps_its_exception_type_on_dask(client: Any) -> None:
    registry = SchedulerRegistry("dask_error")
    registry.register(jobs.raise_parse_error, "parse", executor="cluster")

    report = await asyncio.wait_for(registry.run(config=AstrumConfig(executors={"cluster": client})), 30)

    stat = by_name(report)["parse"]
    assert stat.status == "failed"
    assert type(stat.exception) is jobs.ParseError
    assert str(stat.exception) == "bad row 7"


async def test_a_stopped_run_releases_its_tasks_on_the_cluster(client: Any) -> None:
    registry = SchedulerRegistry("dask_cancel")

    @registry.task
    async def fails() -> None:
        await asyncio.sleep(0.3)
        raise RuntimeError("stop the run")

    def slow() -> None:
        time.sleep(3)

    for name in ("a", "b", "c", "d"):  # two run, two wait on the two single-threaded workers
        registry.register(slow, name, executor="cluster")

    report = await asyncio.wait_for(registry.run(config=AstrumConfig(executors={"cluster": client})), 30)

    assert report.execution_state == "failed"
    assert {by_name(report)[name].status for name in "abcd"} == {"cancelled"}
    deadline = time.monotonic() + 10
    while scheduler_task_count(client) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert scheduler_task_count(client) == 0  # every job's key was released


async def test_a_worker_killed_mid_task_is_a_failed_attempt_that_is_retried(
    client: Any, tmp_path: Path
) -> None:
    registry = SchedulerRegistry("dask_killed")
    marker = tmp_path / "killed-once"
    registry.register(
        functools.partial(jobs.die_on_first_call, str(marker)),
        "fragile",
        executor="cluster",
        retry=Retry(retries=1),
    )

    report = await asyncio.wait_for(registry.run(config=AstrumConfig(executors={"cluster": client})), 60)

    assert marker.exists()  # the first attempt killed its worker
    assert report.results == {"fragile": "survived"}
    attempts = by_name(report)["fragile"].attempt_statistics
    assert [a.status for a in attempts] == ["failed", "completed"]
    assert "KilledWorker" in type(attempts[0].exception).__name__
    client.wait_for_workers(2, timeout=30)  # the nanny restarts it for the next tests
