"""Executors benchmark: CPU-bound sync tasks on threads, a process pool and a Dask cluster.

Usage (from the repository root; needs astrum[dask])::

    .venv/bin/python benchmarks/executors.py [--noop 200]

Prints markdown rows: the makespan of 8 CPU-bound pure-Python tasks of ~0.3 s each (four
chains of two) on each executor with the speed-up over threads, and the per-task overhead
of each executor on no-op tasks (a wide DAG, makespan / tasks).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from astrum import AstrumConfig, SchedulerRegistry


def spin(loops: int) -> int:
    total = 0
    for i in range(loops):
        total += i * i % 7
    return total


def noop() -> None:
    return None


def calibrate(seconds: float) -> int:
    loops = 200_000
    while True:
        started = time.perf_counter()
        spin(loops)
        took = time.perf_counter() - started
        if took > 0.05:
            return int(loops * seconds / took)
        loops *= 2


def cpu_registry(loops: int) -> SchedulerRegistry:
    registry = SchedulerRegistry("cpu_bench")
    for chain in range(4):
        first = f"c{chain}_first"
        registry.register(lambda: spin(loops), first)
        registry.register(lambda: spin(loops), f"c{chain}_second", depends_on=[first])
    return registry


def noop_registry(n: int) -> SchedulerRegistry:
    registry = SchedulerRegistry("noop_bench")
    for i in range(n):
        registry.register(noop, f"noop{i}")
    return registry


def makespan(registry: SchedulerRegistry, executor: Any) -> float:
    config = (
        AstrumConfig() if executor is None else AstrumConfig(executors={"x": executor}, default_executor="x")
    )
    asyncio.run(registry.run(config=config))  # warm-up: workers started, code imported
    started = time.perf_counter()
    report = asyncio.run(registry.run(config=config))
    took = time.perf_counter() - started
    assert report.execution_state == "completed", report.error_summary
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--noop", type=int, default=200)
    args = parser.parse_args()
    import distributed

    loops = calibrate(0.3)
    context = multiprocessing.get_context("forkserver")
    with (
        ProcessPoolExecutor(2, mp_context=context) as pool,
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0", host="127.0.0.1"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        executors: list[tuple[str, Callable[[], Any]]] = [
            ("threads", lambda: None),
            ("ProcessPoolExecutor(2)", lambda: pool),
            ("Dask LocalCluster (2 processes)", lambda: client),
        ]
        print("| executor | 8 x 0.3 s CPU tasks (s) | speed-up | no-op task overhead (µs/task) |")
        print("| --- | ---: | ---: | ---: |")
        base = None
        for name, make in executors:
            cpu = makespan(cpu_registry(loops), make())
            base = base or cpu
            per_task = makespan(noop_registry(args.noop), make()) / args.noop * 1e6
            print(f"| {name} | {cpu:.2f} | {base / cpu:.2f}x | {per_task:.0f} |")


if __name__ == "__main__":
    main()
