"""What a stopping run does with the work it has not finished.

A run stops at the first final failure (``failure_policy="cancel"``), at its
deadline, or when its caller cancels it. From then on nothing starts: tasks that
were ready are reported ``cancelled`` without running, tasks whose inputs never
became ready ``skipped``, and sync tasks already running are awaited (only
their own timeout or the deadline gives a thread up).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable
from typing import Any

from astrum import ExecutionReport, SchedulerRegistry
from astrum._threads import MAX_WORKERS


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
