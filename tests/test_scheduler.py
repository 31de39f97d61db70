"""DynamicScheduler: construction, event-driven execution, sync tasks, concurrency bounds, isolation."""

from __future__ import annotations

import asyncio
import functools
import itertools
import threading
import time
from collections.abc import Awaitable
from typing import Any

import pytest

from astrum import DynamicScheduler, ExecutionReport, ExecutionState, TaskOrder
from astrum.authoring._taskdata import DataItem, DTRela, TaskData


async def within(awaitable: Awaitable[Any], seconds: float = 10) -> Any:
    """Await, but fail instead of hanging forever."""
    return await asyncio.wait_for(awaitable, seconds)


def sleeper(seconds: float, value: Any = None):
    async def task() -> Any:
        await asyncio.sleep(seconds)
        return value

    return task


def by_name(report: ExecutionReport) -> dict[str, Any]:
    return {stat.task_name: stat for stat in report.task_statistics}


# -- construction ---------------------------------------------------------------------------


def test_coroutine_object_is_rejected_with_a_type_error():
    async def load() -> int:
        return 1

    coro = load()
    try:
        with pytest.raises(TypeError) as info:
            DynamicScheduler(tasks=[("load", coro)], task_order=[TaskOrder("load")])
    finally:
        coro.close()
    assert "已 call 的协程" in str(info.value)
    assert "'load'" in str(info.value)
    assert "Duplicate" not in str(info.value)


def test_non_callable_task_is_rejected_with_a_type_error():
    with pytest.raises(TypeError) as info:
        DynamicScheduler(tasks=[("value", 42)], task_order=[TaskOrder("value")])
    assert "不是可调用对象" in str(info.value)
    assert "int" in str(info.value)
    assert "Duplicate" not in str(info.value)


def test_duplicate_and_non_string_task_names_are_all_listed_in_one_type_error():
    with pytest.raises(TypeError) as info:
        DynamicScheduler(
            tasks=[
                ("b", sleeper(0)),
                ("a", sleeper(0)),
                ("b", sleeper(0)),
                (7, sleeper(0)),
                ("a", sleeper(0)),
            ],
            task_order=[],
        )
    lines = str(info.value).split("\n")
    assert lines[0] == "Duplicate task names in tasks: ['a', 'b']"
    assert "Task #3 name is not a string: <class 'int'>" in lines


def test_constructor_keeps_its_arguments_and_starts_idle():
    sem = asyncio.Semaphore(3)
    orders = [TaskOrder("a")]
    task = sleeper(0)
    scheduler = DynamicScheduler(
        [("a", task)], orders, ignore_tail_task=["a"], concurrency_context=sem, task_retries={"a": 2}
    )
    assert scheduler.task_order is orders
    assert scheduler.concurrency_context is sem
    assert scheduler.task_retries == {"a": 2}
    assert scheduler.ignore_tail_task == ["a"]
    assert scheduler.task_data_refs == {}
    assert scheduler.execution_state is ExecutionState.NONE
    assert scheduler.current_stage == -1
    assert scheduler.find_task_by_name("a") is task
    assert scheduler.find_task_by_name("missing") is None


def test_find_task_by_name_takes_astrum_01s_task_name_keyword_and_name():
    task = sleeper(0)
    scheduler = DynamicScheduler([("a", task)], [TaskOrder("a")])

    assert scheduler.find_task_by_name(task_name="a") is task
    assert scheduler.find_task_by_name(name="a") is task
    assert scheduler.find_task_by_name(task_name="missing") is None
    with pytest.raises(TypeError, match="both name and task_name"):
        scheduler.find_task_by_name("a", task_name="a")
    with pytest.raises(TypeError, match="missing the task name"):
        scheduler.find_task_by_name()


# -- basic execution --------------------------------------------------------------------------


async def test_dependencies_finish_before_their_dependent_starts():
    events: list[str] = []

    def tracked(name: str, seconds: float):
        async def task() -> str:
            events.append(f"start {name}")
            await asyncio.sleep(seconds)
            events.append(f"end {name}")
            return name

        return task

    a, b = TaskOrder("a"), TaskOrder("b")
    c = TaskOrder("c", [a, b])
    scheduler = DynamicScheduler([(n, tracked(n, 0.02)) for n in "abc"], [a, b, c])
    report = await within(scheduler.execute())

    assert report.execution_state == "completed"
    assert report.successful_tasks == 3
    assert report.failed_tasks == 0
    assert events.index("start c") > max(events.index("end a"), events.index("end b"))
    assert report.results == {"a": "a", "b": "b", "c": "c"}
    assert scheduler.execution_state is ExecutionState.COMPLETED


async def test_each_task_starts_when_its_own_dependencies_finish():
    # A(0.5 s) -> C(0.01 s) and B(0.01 s) -> D(0.5 s): critical path 0.51 s, not 1.0 s of stages
    a, b = TaskOrder("A"), TaskOrder("B")
    orders = [a, b, TaskOrder("C", [a]), TaskOrder("D", [b])]
    tasks = [("A", sleeper(0.5)), ("B", sleeper(0.01)), ("C", sleeper(0.01)), ("D", sleeper(0.5))]
    scheduler = DynamicScheduler(tasks, orders)

    started = time.perf_counter()
    report = await within(scheduler.execute())
    elapsed = time.perf_counter() - started

    assert report.execution_state == "completed"
    assert elapsed < 1.1 * 0.51, f"makespan {elapsed:.3f} s vs critical path 0.51 s"
    stats = by_name(report)
    assert stats["D"].start_time < stats["A"].end_time
    assert stats["C"].start_time >= stats["A"].end_time


async def test_blocking_sync_tasks_run_beside_each_other_and_async_tasks():
    def blocking_one() -> int:
        time.sleep(0.3)
        return 1

    def blocking_two() -> int:
        time.sleep(0.3)
        return 2

    tasks = [("s1", blocking_one), ("s2", blocking_two), ("a", sleeper(0.3, 3))]
    scheduler = DynamicScheduler(tasks, [TaskOrder(n) for n, _ in tasks])

    started = time.perf_counter()
    report = await within(scheduler.execute())
    elapsed = time.perf_counter() - started

    assert report.results == {"s1": 1, "s2": 2, "a": 3}
    assert elapsed < 0.45, f"{elapsed:.3f} s: sync tasks were serialised"


async def _loop_ticks_during(scheduler: DynamicScheduler) -> tuple[ExecutionReport, int]:
    ticks = 0
    stop = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal ticks
        while not stop.is_set():
            await asyncio.sleep(0.01)
            ticks += 1

    beat = asyncio.create_task(heartbeat())
    try:
        report = await within(scheduler.execute())
    finally:
        stop.set()
        await beat
    return report, ticks


async def test_a_sync_task_never_blocks_the_event_loop():
    def blocking() -> str:
        time.sleep(0.3)
        return "done"

    scheduler = DynamicScheduler([("block", blocking)], [TaskOrder("block")])
    report, ticks = await _loop_ticks_during(scheduler)
    assert report.results == {"block": "done"}
    assert ticks >= 10, f"the loop ticked only {ticks} times in 0.3 s"


async def test_a_sync_lambda_never_blocks_the_event_loop():
    scheduler = DynamicScheduler([("block", lambda: time.sleep(0.3) or "done")], [TaskOrder("block")])
    report, ticks = await _loop_ticks_during(scheduler)
    assert report.results == {"block": "done"}
    assert ticks >= 10, f"the loop ticked only {ticks} times in 0.3 s"


async def test_sync_tasks_run_off_the_loop_thread():
    threads: dict[str, int] = {}

    def where() -> None:
        threads["task"] = threading.get_ident()

    scheduler = DynamicScheduler([("where", where)], [TaskOrder("where")])
    report = await within(scheduler.execute())
    assert report.execution_state == "completed"
    assert threads["task"] != threading.get_ident()


async def test_an_awaitable_returned_by_a_sync_callable_is_awaited():
    async def inner() -> str:
        await asyncio.sleep(0)
        return "inner"

    def outer():
        return inner()

    scheduler = DynamicScheduler(
        [("outer", outer), ("lam", lambda: inner())], [TaskOrder("outer"), TaskOrder("lam")]
    )
    report = await within(scheduler.execute())
    assert report.results == {"outer": "inner", "lam": "inner"}


async def test_partials_and_callable_objects_run_as_tasks():
    async def add(x: int, y: int) -> int:
        await asyncio.sleep(0)
        return x + y

    class AsyncCallable:
        async def __call__(self) -> str:
            await asyncio.sleep(0)
            return "async object"

    class SyncCallable:
        def __call__(self) -> str:
            return "sync object"

    tasks = [
        ("partial", functools.partial(add, 1, 2)),
        ("async_obj", AsyncCallable()),
        ("sync_obj", SyncCallable()),
        ("sync_partial", functools.partial(int, "7")),
    ]
    scheduler = DynamicScheduler(tasks, [TaskOrder(n) for n, _ in tasks])
    report = await within(scheduler.execute())
    assert report.results == {
        "partial": 3,
        "async_obj": "async object",
        "sync_obj": "sync object",
        "sync_partial": 7,
    }


async def test_callables_not_in_the_task_order_are_ignored():
    ran: list[str] = []

    async def extra() -> None:
        ran.append("extra")

    scheduler = DynamicScheduler([("a", sleeper(0, "a")), ("extra", extra)], [TaskOrder("a")])
    report = await within(scheduler.execute())
    assert report.results == {"a": "a"}
    assert ran == []
    assert [s.task_name for s in report.task_statistics] == ["a"]


async def test_callables_listed_in_another_order_than_the_task_order_keep_their_names():
    scheduler = DynamicScheduler(
        [("c", sleeper(0, "c")), ("a", sleeper(0, "a")), ("b", sleeper(0, "b"))],
        [TaskOrder("a"), TaskOrder("b", ["a"]), TaskOrder("c", ["b"])],
    )
    report = await within(scheduler.execute())
    assert report.results == {"a": "a", "b": "b", "c": "c"}
    assert [s.task_name for s in report.task_statistics] == ["a", "b", "c"]


async def test_a_task_order_without_a_callable_fails_planning_even_when_the_counts_match():
    scheduler = DynamicScheduler(
        [("a", sleeper(0, "a")), ("x", sleeper(0))], [TaskOrder("a"), TaskOrder("b")]
    )
    report = await within(scheduler.execute())
    assert report.execution_state == "failed"
    assert report.error_summary == ["Execution failed: Task 'b' not found in task list."]


async def test_a_repeated_dependency_still_runs_the_task_once_after_it():
    calls: list[str] = []

    def tracked(name: str):
        async def task() -> None:
            calls.append(name)

        return task

    scheduler = DynamicScheduler(
        [("a", tracked("a")), ("b", tracked("b"))], [TaskOrder("a"), TaskOrder("b", ["a", "a"])]
    )
    report = await within(scheduler.execute())
    assert report.execution_state == "completed"
    assert calls == ["a", "b"]


async def test_an_empty_task_order_completes_at_once():
    report = await within(DynamicScheduler([], []).execute())
    assert report.execution_state == "completed"
    assert report.total_tasks == 0
    assert report.task_statistics == []
    assert report.critical_path == []


async def test_current_stage_is_the_last_stages_id_after_a_completed_run():
    a = TaskOrder("a")
    b = TaskOrder("b", [a])
    orders = [a, b, TaskOrder("c", [b]), TaskOrder("side")]
    scheduler = DynamicScheduler([(o.task_name, sleeper(0)) for o in orders], orders)
    assert scheduler.current_stage == -1

    report = await within(scheduler.execute())

    assert report.total_stages == 3
    assert scheduler.current_stage == 2
    await within(scheduler.execute())
    assert scheduler.current_stage == 2


async def test_current_stage_after_a_failed_run_is_the_deepest_stage_a_task_started_in():
    async def boom() -> None:
        raise RuntimeError("boom")

    a = TaskOrder("a")
    b = TaskOrder("b", [a])
    c = TaskOrder("c", [b])
    orders = [a, b, c, TaskOrder("d", [c])]
    tasks = [("a", sleeper(0)), ("b", boom), ("c", sleeper(0)), ("d", sleeper(0))]
    scheduler = DynamicScheduler(tasks, orders)

    report = await within(scheduler.execute())

    assert report.execution_state == "failed"
    assert scheduler.current_stage == 1  # b's stage; c (stage 2) and d (stage 3) never started


async def test_current_stage_stays_minus_one_after_an_empty_run_or_a_planning_failure():
    empty = DynamicScheduler([], [])
    await within(empty.execute())
    assert empty.current_stage == -1

    unknown = DynamicScheduler([("a", sleeper(0))], [TaskOrder("a", ["missing"])])
    report = await within(unknown.execute())
    assert report.execution_state == "failed"
    assert unknown.current_stage == -1


async def test_execution_state_is_running_while_tasks_run():
    seen: list[ExecutionState] = []
    scheduler: DynamicScheduler

    async def probe() -> None:
        seen.append(scheduler.execution_state)

    scheduler = DynamicScheduler([("probe", probe)], [TaskOrder("probe")])
    assert scheduler.execution_state is ExecutionState.NONE
    await within(scheduler.execute())
    assert seen == [ExecutionState.RUNNING]
    assert scheduler.execution_state is ExecutionState.COMPLETED


async def test_scheduler_task_return_set_holds_the_last_runs_results():
    scheduler = DynamicScheduler([("a", sleeper(0, 5))], [TaskOrder("a")])
    report = await within(scheduler.execute())
    assert scheduler.task_return_set == {"a": 5}
    assert report.task_return_set == {"a": 5}
    assert scheduler.task_return_set is report.task_return_set


async def test_results_list_completed_tasks_in_completion_order_without_failed_ones():
    async def boom() -> None:
        raise ValueError("no")

    scheduler = DynamicScheduler(
        [("slow", sleeper(0.05, "slow")), ("fast", sleeper(0, "fast")), ("bad", boom), ("none", sleeper(0))],
        [TaskOrder("slow"), TaskOrder("fast"), TaskOrder("bad"), TaskOrder("none")],
    )
    scheduler.failure_policy = "continue"
    report = await within(scheduler.execute())
    assert list(report.results.items()) == [("fast", "fast"), ("none", None), ("slow", "slow")]


async def test_an_assigned_task_return_set_is_kept():
    scheduler = DynamicScheduler([("a", sleeper(0, 5))], [TaskOrder("a")])
    await within(scheduler.execute())
    scheduler.task_return_set = {"seeded": 1}
    assert scheduler.task_return_set == {"seeded": 1}


# -- concurrency bounds ---------------------------------------------------------------------------


def _peak_tracking_tasks(names: list[str], seconds: float) -> tuple[list[tuple[str, Any]], dict[str, int]]:
    counters = {"now": 0, "peak": 0}

    def make(name: str):
        async def task() -> str:
            counters["now"] += 1
            counters["peak"] = max(counters["peak"], counters["now"])
            try:
                await asyncio.sleep(seconds)
            finally:
                counters["now"] -= 1
            return name

        return task

    return [(n, make(n)) for n in names], counters


async def test_a_semaphore_of_one_runs_one_task_at_a_time():
    names = [f"t{i}" for i in range(5)]
    tasks, counters = _peak_tracking_tasks(names, 0.01)
    scheduler = DynamicScheduler(
        tasks, [TaskOrder(n) for n in names], concurrency_context=asyncio.Semaphore(1)
    )
    report = await within(scheduler.execute())
    assert report.execution_state == "completed"
    assert counters["peak"] == 1
    assert report.results == {n: n for n in names}


async def test_a_semaphore_bounds_sync_tasks_too():
    active = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def blocking() -> None:
        with lock:
            active["now"] += 1
            active["peak"] = max(active["peak"], active["now"])
        time.sleep(0.03)
        with lock:
            active["now"] -= 1

    names = [f"s{i}" for i in range(5)]
    scheduler = DynamicScheduler(
        [(n, blocking) for n in names],
        [TaskOrder(n) for n in names],
        concurrency_context=asyncio.Semaphore(2),
    )
    report = await within(scheduler.execute())
    assert report.execution_state == "completed"
    assert active["peak"] == 2


async def test_concurrency_limit_caps_running_tasks_without_a_semaphore():
    names = [f"t{i}" for i in range(6)]
    tasks, counters = _peak_tracking_tasks(names, 0.02)
    scheduler = DynamicScheduler(tasks, [TaskOrder(n) for n in names])
    scheduler.concurrency_limit = 2
    report = await within(scheduler.execute())
    assert report.execution_state == "completed"
    assert counters["peak"] == 2
    assert report.results == {n: n for n in names}


async def test_concurrency_limit_releases_a_slot_to_dependents_as_well():
    names = ["a", "b", "c", "d"]
    tasks, counters = _peak_tracking_tasks(names, 0.01)
    orders = [TaskOrder("a"), TaskOrder("b"), TaskOrder("c", ["a"]), TaskOrder("d", ["b", "c"])]
    scheduler = DynamicScheduler(tasks, orders)
    scheduler.concurrency_limit = 1
    report = await within(scheduler.execute())
    assert report.execution_state == "completed"
    assert counters["peak"] == 1
    assert report.successful_tasks == 4


@pytest.mark.parametrize("bound", ["semaphore", "concurrency_limit"])
async def test_queued_duration_is_time_waiting_for_a_slot_apart_from_duration(bound):
    names = ["x", "y", "z"]
    scheduler = DynamicScheduler([(n, sleeper(0.1, n)) for n in names], [TaskOrder(n) for n in names])
    if bound == "semaphore":
        scheduler.concurrency_context = asyncio.Semaphore(1)
    else:
        scheduler.concurrency_limit = 1
    report = await within(scheduler.execute())

    stats = sorted(report.task_statistics, key=lambda s: s.start_time)
    for stat in stats:
        assert 0.09 <= stat.duration < 0.2, (stat.task_name, stat.duration)
    queued = [stat.queued_duration for stat in stats]
    assert queued[0] < 0.05
    assert 0.08 < queued[1] < 0.2
    assert 0.17 < queued[2] < 0.35
    # the run, not a task, spends the queue time
    assert report.execution_duration >= 0.29


async def test_unbounded_tasks_report_no_queue_time():
    scheduler = DynamicScheduler([(n, sleeper(0.05)) for n in "abc"], [TaskOrder(n) for n in "abc"])
    report = await within(scheduler.execute())
    assert all(stat.queued_duration < 0.03 for stat in report.task_statistics)


# -- isolation ------------------------------------------------------------------------------------


async def test_one_scheduler_executed_twice_concurrently_keeps_each_runs_values_apart():
    counter = itertools.count(1)

    async def produce() -> int:
        n = next(counter)
        # the first run's producer finishes last, so a shared slot would hand both consumers its value
        await asyncio.sleep(0.08 if n == 1 else 0.01)
        return n

    async def consume(value: int) -> int:
        await asyncio.sleep(0.02)
        return value

    consumer_data = TaskData(
        task_id="consume",
        input_data_item=[
            DataItem(
                from_relation=DTRela(related_task="produce", single_item=True),
                to_relation=DTRela(related_task="consume", key="value"),
            )
        ],
        from_tasks=["produce"],
    )
    produce_order = TaskOrder("produce")
    scheduler = DynamicScheduler(
        [("produce", produce), ("consume", consume)],
        [produce_order, TaskOrder("consume", [produce_order])],
        task_data_refs={"consume": consumer_data},
    )

    first, second = await within(asyncio.gather(scheduler.execute(), scheduler.execute()))

    assert first is not second
    assert first.results is not second.results
    assert {first.results["produce"], second.results["produce"]} == {1, 2}
    for report in (first, second):
        assert report.execution_state == "completed"
        assert report.results["consume"] == report.results["produce"]
        assert sorted(s.task_name for s in report.task_statistics) == ["consume", "produce"]


async def test_sequential_runs_get_fresh_reports_and_results():
    counter = itertools.count(1)

    async def tick() -> int:
        return next(counter)

    scheduler = DynamicScheduler([("tick", tick)], [TaskOrder("tick")])
    first = await within(scheduler.execute())
    second = await within(scheduler.execute())
    assert scheduler.task_return_set == {"tick": 2}  # replaced although the first was never read
    assert first.results == {"tick": 1}
    assert second.results == {"tick": 2}
    assert len(second.task_statistics) == 1


@pytest.mark.parametrize("limit", [None, 2])
def test_a_scheduler_runs_again_in_a_second_event_loop(limit):
    names = ["a", "b", "c"]
    orders = [TaskOrder("a"), TaskOrder("b"), TaskOrder("c", ["a", "b"])]
    scheduler = DynamicScheduler([(n, sleeper(0.01, n)) for n in names], orders)
    scheduler.concurrency_limit = limit

    first = asyncio.run(scheduler.execute())
    second = asyncio.run(scheduler.execute())

    for report in (first, second):
        assert report.execution_state == "completed", report.error_summary
        assert report.results == {"a": "a", "b": "b", "c": "c"}
