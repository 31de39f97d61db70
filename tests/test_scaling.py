"""Guards against super-linear growth: 4x the tasks must cost well under 6x the time.

These tests compare two sizes measured in the same process; they never assert
on absolute wall time.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

import pytest

from astrum import AstrumConfig, DynamicScheduler, F, Ref, SchedulerRegistry, TaskOrder

SMALL = 10_000
LARGE = 40_000
MAX_RATIO = 6.0


def _best_of(runs: int, measure: Callable[[], float]) -> float:
    """The fastest of ``runs`` measurements, each with the cyclic collector paused.

    A full collection scans the whole process heap (everything the test session
    holds), a cost unrelated to the graph's size that would make the comparison
    flaky; the collector's own amortised cost is linear anyway.
    """
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        gc.disable()
        try:
            best = min(best, measure())
        finally:
            gc.enable()
    return best


def _scheduler_run(size: int, chain: bool) -> float:
    async def noop() -> None:
        return None

    orders: list[TaskOrder] = []
    for i in range(size):
        orders.append(TaskOrder(f"t{i}", [orders[i - 1]] if chain and i else []))
    scheduler = DynamicScheduler([(f"t{i}", noop) for i in range(size)], orders)
    started = time.perf_counter()
    report = asyncio.run(scheduler.execute())
    elapsed = time.perf_counter() - started
    assert report.successful_tasks == size
    return elapsed


def _registry_build_and_run(size: int, *, evaluated: bool) -> float:
    """Register a ``Ref`` chain and run it. Annotations that are objects (``evaluated``) take the
    one-pass build; this module's postponed (string) return annotations take the general one."""
    registry = SchedulerRegistry("scaling")

    def make(i: int) -> Callable[..., object]:
        if i == 0:

            async def first() -> int:
                return 0

            if evaluated:
                first.__annotations__["return"] = int
            return first

        async def step(value: int) -> int:
            return value + 1

        # Set the annotation object directly: this module uses postponed (string) annotations.
        step.__annotations__["value"] = Ref[int, F(f"t{i - 1}")]
        if evaluated:
            step.__annotations__["return"] = int
        return step

    functions = [make(i) for i in range(size)]
    started = time.perf_counter()
    for i, fn in enumerate(functions):
        registry.task(f"t{i}")(fn)
    report = asyncio.run(registry.run(config=AstrumConfig()))
    elapsed = time.perf_counter() - started
    assert report.results[f"t{size - 1}"] == size - 1
    return elapsed


def test_wide_run_grows_linearly() -> None:
    small = _best_of(3, lambda: _scheduler_run(SMALL, chain=False))
    large = _best_of(3, lambda: _scheduler_run(LARGE, chain=False))
    assert large < MAX_RATIO * small, f"{LARGE} tasks took {large / small:.1f}x the time of {SMALL}"


def test_chain_run_grows_linearly() -> None:
    small = _best_of(3, lambda: _scheduler_run(SMALL, chain=True))
    large = _best_of(3, lambda: _scheduler_run(LARGE, chain=True))
    assert large < MAX_RATIO * small, f"{LARGE} tasks took {large / small:.1f}x the time of {SMALL}"


@pytest.mark.parametrize("evaluated", [True, False], ids=["one-pass build", "general build"])
def test_registry_build_and_run_with_data_passing_grows_linearly(evaluated: bool) -> None:
    small = _best_of(3, lambda: _registry_build_and_run(SMALL, evaluated=evaluated))
    large = _best_of(3, lambda: _registry_build_and_run(LARGE, evaluated=evaluated))
    assert large < MAX_RATIO * small, f"{LARGE} tasks took {large / small:.1f}x the time of {SMALL}"


def test_report_export_grows_linearly() -> None:
    def export(size: int) -> float:
        async def noop() -> None:
            return None

        orders = [TaskOrder(f"t{i}") for i in range(size)]
        report = asyncio.run(DynamicScheduler([(f"t{i}", noop) for i in range(size)], orders).execute())
        started = time.perf_counter()
        data = report.to_dict()
        _ = report.stage_statistics, report.critical_path
        elapsed = time.perf_counter() - started
        assert len(data["task_statistics"]) == size
        return elapsed

    small = _best_of(3, lambda: export(SMALL))
    large = _best_of(3, lambda: export(LARGE))
    assert large < MAX_RATIO * small, f"{LARGE} tasks took {large / small:.1f}x the time of {SMALL}"
