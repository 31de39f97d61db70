"""ExecutionReport: contract fields, timings, critical path, JSON export, tail tasks, planning errors."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import logging
import math
import threading
import time
from collections.abc import Awaitable
from typing import Any

import pytest

from astrum import (
    AstrumConfig,
    DynamicScheduler,
    ExecutionReport,
    SchedulerRegistry,
    TaskAttemptStatistics,
    TaskExecutionStatistics,
    TaskOrder,
    TaskStageStatistics,
)


async def within(awaitable: Awaitable[Any], seconds: float = 10) -> Any:
    return await asyncio.wait_for(awaitable, seconds)


def by_name(report: ExecutionReport) -> dict[str, Any]:
    return {stat.task_name: stat for stat in report.task_statistics}


def sleeper(seconds: float, value: Any = None):
    async def task() -> Any:
        await asyncio.sleep(seconds)
        return value

    return task


def returning(value: Any):
    async def task() -> Any:
        return value

    return task


async def _diamond_report() -> tuple[ExecutionReport, float, float]:
    a = TaskOrder("a")
    b, c = TaskOrder("b", [a]), TaskOrder("c", [a])
    orders = [a, b, c, TaskOrder("d", [b, c])]
    tasks = [
        ("a", sleeper(0.05, 1)),
        ("b", sleeper(0.1, 2)),
        ("c", sleeper(0.02, 3)),
        ("d", sleeper(0.01, 4)),
    ]
    before = time.time()
    report = await within(DynamicScheduler(tasks, orders).execute())
    after = time.time()
    return report, before, after


# -- fields ---------------------------------------------------------------------------------------


async def test_report_carries_every_contract_field():
    report, before, after = await _diamond_report()

    assert report.execution_state == "completed"
    assert before <= report.total_start_time <= report.total_end_time <= after + 0.01
    assert report.total_duration == pytest.approx(report.total_end_time - report.total_start_time)
    assert 0 <= report.planning_duration < report.total_duration
    assert 0.15 <= report.execution_duration <= report.total_duration + 1e-6
    assert report.total_tasks == 4
    assert report.total_stages == 3
    assert report.max_parallelism == 2
    assert report.successful_tasks == 4
    assert report.failed_tasks == 0
    assert report.error_summary == []
    assert report.original_tasks == {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
    assert report.tail_tasks == {}
    assert report.task_return_set == {"a": 1, "b": 2, "c": 3, "d": 4}
    assert report.results is report.task_return_set
    assert report.exceptions == {}
    assert [s.stage_name for s in report.stage_statistics] == ["Stage_0", "Stage_1", "Stage_2"]
    assert len(report.task_statistics) == 4
    assert "execution_state='completed'" in repr(report)


async def test_task_statistics_describe_each_task():
    report, _, _ = await _diamond_report()
    stats = by_name(report)

    b = stats["b"]
    assert isinstance(b, TaskExecutionStatistics)
    assert b.task_name == "b"
    assert b.stage_id == 1
    assert b.status == "completed"
    assert b.error_message is None
    assert b.retry == 0
    assert b.attempt_count == 1
    assert b.exception is None
    assert b.caused_by is None
    (attempt,) = b.attempt_statistics
    assert isinstance(attempt, TaskAttemptStatistics)
    assert attempt.task_name == "b"
    assert attempt.attempt_number == 1
    assert attempt.max_retries == 0
    assert attempt.status == "completed"
    assert attempt.error_message is None
    assert attempt.will_retry is False
    assert attempt.start_time == pytest.approx(b.start_time, abs=0.01)
    assert attempt.end_time == pytest.approx(b.end_time, abs=0.01)
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.status = "failed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        attempt.status = "failed"  # type: ignore[misc]


# Astrum 0.1's ExecutionReport fields, in their dataclass order.
ASTRUM_01_REPORT_FIELDS = [
    "total_start_time", "total_end_time", "total_duration", "planning_duration", "execution_duration",
    "total_tasks", "total_stages", "max_parallelism", "successful_tasks", "failed_tasks",
    "stage_statistics", "task_statistics", "execution_state", "error_summary", "original_tasks",
    "tail_tasks", "task_return_set",
]  # fmt: skip


async def test_report_is_a_dataclass_with_astrum_01_fields_in_order():
    report, _, _ = await _diamond_report()

    assert dataclasses.is_dataclass(report)
    names = [f.name for f in dataclasses.fields(report)]
    assert names[: len(ASTRUM_01_REPORT_FIELDS)] == ASTRUM_01_REPORT_FIELDS
    assert names == [f.name for f in dataclasses.fields(ExecutionReport)]
    assert {report: 1}[report] == 1  # compared by identity: hashable, as run-end events need


async def test_asdict_of_a_report_includes_the_parts_made_when_first_read():
    async def boom() -> None:
        raise ValueError("boom")

    a = TaskOrder("a")
    report = await within(
        DynamicScheduler([("a", returning({"n": 1})), ("b", boom)], [a, TaskOrder("b", [a])]).execute()
    )

    data = dataclasses.asdict(report)

    assert data["execution_state"] == "failed"
    assert data["task_return_set"] == {"a": {"n": 1}}
    assert data["original_tasks"] == {"a": [], "b": ["a"]}
    assert [(s["task_name"], s["status"]) for s in data["task_statistics"]] == [
        ("a", "completed"),
        ("b", "failed"),
    ]
    assert data["task_statistics"][1]["attempt_statistics"][0]["status"] == "failed"
    assert data["critical_path"] == ["a", "b"]
    assert str(data["exceptions"]["b"]) == "boom"
    assert "_lazy" not in data


async def test_replace_gives_a_new_report_with_the_same_parts_and_the_changed_fields():
    report, _, _ = await _diamond_report()

    copy = dataclasses.replace(report, execution_state="failed", failed_tasks=1)

    assert copy is not report
    assert (copy.execution_state, copy.failed_tasks) == ("failed", 1)
    assert (report.execution_state, report.failed_tasks) == ("completed", 0)
    assert copy.task_statistics == report.task_statistics
    assert copy.task_return_set == {"a": 1, "b": 2, "c": 3, "d": 4}
    assert copy.critical_path == report.critical_path == ["a", "b", "d"]


def test_a_report_made_by_hand_takes_every_field_as_a_keyword():
    stat = TaskExecutionStatistics("a", 0, 1.0, 2.0, 1.0, "completed")
    report = ExecutionReport(
        task_statistics=[stat],
        task_return_set={"a": 1},
        execution_state="completed",
        critical_path=["a"],
    )
    assert report.task_statistics == [stat]
    assert report.results == {"a": 1}
    assert report.critical_path == ["a"]
    assert report.stage_statistics == []
    assert report.original_tasks == {}


async def test_per_task_start_end_and_duration_are_accurate():
    report, _, _ = await _diamond_report()
    stats = by_name(report)
    expected = {"a": 0.05, "b": 0.1, "c": 0.02, "d": 0.01}
    for name, seconds in expected.items():
        stat = stats[name]
        assert stat.end_time - stat.start_time == pytest.approx(stat.duration, abs=1e-6)
        assert seconds - 0.005 <= stat.duration < seconds + 0.05, (name, stat.duration)
        assert report.total_start_time <= stat.start_time <= stat.end_time <= report.total_end_time + 1e-6
    assert stats["b"].start_time >= stats["a"].end_time
    assert stats["c"].start_time >= stats["a"].end_time
    assert stats["d"].start_time >= max(stats["b"].end_time, stats["c"].end_time)
    # c does not wait for its sibling b: it starts with it
    assert abs(stats["c"].start_time - stats["b"].start_time) < 0.02


async def test_stage_statistics_span_the_tasks_of_each_stage_view_level():
    report, _, _ = await _diamond_report()
    stats = by_name(report)
    stages = report.stage_statistics
    assert all(isinstance(s, TaskStageStatistics) for s in stages)
    assert [s.stage_id for s in stages] == [0, 1, 2]
    middle = stages[1]
    assert middle.wait_tasks == ["a"]
    assert middle.wait_task_count == 1
    assert middle.parallel_tasks == ["b", "c"]
    assert middle.parallel_task_count == 2
    assert middle.start_time == pytest.approx(min(stats["b"].start_time, stats["c"].start_time))
    assert middle.end_time == pytest.approx(max(stats["b"].end_time, stats["c"].end_time))
    assert middle.duration == pytest.approx(middle.end_time - middle.start_time, abs=1e-6)


async def test_statistics_helpers_by_stage_longest_and_average():
    report, _, _ = await _diamond_report()
    assert sorted(s.task_name for s in report.get_task_statistics_by_stage(1)) == ["b", "c"]
    assert [s.task_name for s in report.get_task_statistics_by_stage(2)] == ["d"]
    assert report.get_task_statistics_by_stage(7) == []
    assert report.get_longest_task().task_name == "b"
    durations = [s.duration for s in report.task_statistics]
    assert report.get_average_task_duration() == pytest.approx(sum(durations) / 4)


async def test_helpers_of_an_empty_report():
    report = await within(DynamicScheduler([], []).execute())
    assert report.get_longest_task() is None
    assert report.get_average_task_duration() == 0.0
    assert report.stage_statistics == []
    assert report.original_tasks == {}


async def test_critical_path_is_the_chain_that_determined_the_makespan():
    a, b = TaskOrder("A"), TaskOrder("B")
    orders = [a, b, TaskOrder("C", [a]), TaskOrder("D", [b])]
    tasks = [("A", sleeper(0.3)), ("B", sleeper(0.01)), ("C", sleeper(0.05)), ("D", sleeper(0.1))]
    report = await within(DynamicScheduler(tasks, orders).execute())
    assert report.critical_path == ["A", "C"]


async def test_critical_path_follows_the_dependency_that_finished_last():
    fast, slow = TaskOrder("fast"), TaskOrder("slow")
    orders = [TaskOrder("root"), fast, slow, TaskOrder("join", [fast, slow, "root"])]
    orders[1].dependencies = ["root"]
    orders[2].dependencies = ["root"]
    tasks = [
        ("root", sleeper(0.01)),
        ("fast", sleeper(0.01)),
        ("slow", sleeper(0.1)),
        ("join", sleeper(0.01)),
    ]
    report = await within(DynamicScheduler(tasks, orders).execute())
    assert report.critical_path == ["root", "slow", "join"]


async def test_results_hold_every_completed_tasks_return_value():
    sentinel = object()
    tasks = [("obj", returning(sentinel)), ("none", returning(None)), ("sync", lambda: [1, 2])]
    report = await within(DynamicScheduler(tasks, [TaskOrder(n) for n, _ in tasks]).execute())
    assert report.results["obj"] is sentinel
    assert report.results["none"] is None
    assert report.results["sync"] == [1, 2]


# -- JSON export ------------------------------------------------------------------------------------


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque thing>"


async def test_to_dict_and_to_json_are_json_safe_and_complete():
    tasks = [
        ("plain", returning({"k": [1, 2.5, "x", None, True]})),
        ("opaque", returning(Opaque())),
        ("odd_keys", returning({1: "one"})),
        ("nan", returning(math.nan)),
        ("set", returning({3})),
        ("boom", sleeper(0.05)),
    ]
    orders = [TaskOrder(n) for n, _ in tasks]
    orders.append(TaskOrder("fails", ["plain"]))

    async def fails() -> None:
        raise KeyError("missing")

    report = await within(DynamicScheduler([*tasks, ("fails", fails)], orders).execute())
    data = report.to_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert json.loads(report.to_json()) == data
    assert data["execution_state"] == "failed"
    assert data["results"]["plain"] == {"k": [1, 2.5, "x", None, True]}
    assert data["results"]["opaque"] == "<Opaque thing>"
    assert data["results"]["odd_keys"] == repr({1: "one"})
    assert data["results"]["nan"] == "nan"
    assert data["results"]["set"] == "{3}"
    for key in (
        "total_start_time",
        "total_end_time",
        "total_duration",
        "planning_duration",
        "execution_duration",
        "total_tasks",
        "total_stages",
        "max_parallelism",
        "successful_tasks",
        "failed_tasks",
        "error_summary",
        "critical_path",
        "original_tasks",
        "tail_tasks",
        "task_statistics",
        "stage_statistics",
    ):
        assert key in data
    stats = {s["task_name"]: s for s in data["task_statistics"]}
    assert stats["fails"]["exception"] == {"type": "builtins.KeyError", "message": "KeyError: 'missing'"}
    assert stats["fails"]["status"] == "failed"
    assert stats["boom"]["status"] == "cancelled"
    assert stats["boom"]["caused_by"] == "fails"
    assert stats["plain"]["attempt_statistics"][0]["status"] == "completed"
    assert data["original_tasks"]["fails"] == ["plain"]
    assert report.to_json(indent=2).startswith("{\n  ")


@dataclasses.dataclass
class WithLock:
    name: str
    lock: Any


async def test_to_dict_survives_a_dataclass_result_that_cannot_be_copied():
    value = WithLock("guarded", threading.Lock())
    report = await within(DynamicScheduler([("v", returning(value))], [TaskOrder("v")]).execute())
    data = report.to_dict()
    json.dumps(data)
    assert "guarded" in json.dumps(data["results"]["v"])


async def test_to_dict_survives_a_self_referential_result():
    loop: list[Any] = [1]
    loop.append(loop)
    report = await within(DynamicScheduler([("v", returning(loop))], [TaskOrder("v")]).execute())
    data = report.to_dict()
    assert isinstance(json.dumps(data), str)


async def test_a_planning_failure_exports_to_json():
    report = await within(DynamicScheduler([], [TaskOrder("a", ["b"]), TaskOrder("b", ["a"])]).execute())
    data = json.loads(report.to_json())
    assert data["execution_state"] == "failed"
    assert data["task_statistics"] == []
    assert data["error_summary"] == ["Cycle detected: a -> b -> a"]


# -- tail tasks --------------------------------------------------------------------------------------


def _tail_scheduler(tail_task) -> DynamicScheduler:
    main = TaskOrder("main")
    return DynamicScheduler(
        [("main", returning("main")), ("tail", tail_task)],
        [main, TaskOrder("tail", [main])],
        ignore_tail_task=["tail"],
    )


async def test_ignore_tail_task_returns_before_the_tail_finishes():
    finished = asyncio.Event()

    async def tail() -> str:
        await asyncio.sleep(0.3)
        finished.set()
        return "tail value"

    started = time.perf_counter()
    report = await within(_tail_scheduler(tail).execute())

    assert time.perf_counter() - started < 0.2
    assert not finished.is_set()
    assert report.execution_state == "completed"
    assert report.results["main"] == "main"
    assert [s.task_name for s in report.task_statistics] == ["main"]
    assert set(report.tail_tasks) == {"tail"}
    assert isinstance(report.tail_tasks["tail"], asyncio.Task)
    await within(report.tail_tasks["tail"])
    assert finished.is_set()
    assert report.results["tail"] == "tail value"


async def test_a_tail_task_finishing_before_the_results_are_read_is_in_them():
    async def tail() -> str:
        await asyncio.sleep(0.01)
        return "tail value"

    report = await within(_tail_scheduler(tail).execute())
    await within(report.tail_tasks["tail"])
    assert report.results == {"main": "main", "tail": "tail value"}


async def test_awaiting_a_tail_task_gives_its_return_value():
    async def tail() -> str:
        await asyncio.sleep(0.05)
        return "audited"

    report = await within(_tail_scheduler(tail).execute())
    assert await within(report.tail_tasks["tail"]) == "audited"


async def test_a_failing_tail_task_does_not_fail_the_run():
    async def tail() -> None:
        await asyncio.sleep(0.02)
        raise RuntimeError("tail broke")

    report = await within(_tail_scheduler(tail).execute())
    assert report.execution_state == "completed"
    # whoever awaits the tail task sees its error
    with pytest.raises(RuntimeError, match="tail broke"):
        await within(report.tail_tasks["tail"])
    assert report.execution_state == "completed"
    assert report.error_summary == []
    assert report.failed_tasks == 0


async def test_a_tail_task_awaited_as_a_dependency_is_reported():
    tail = TaskOrder("tail")
    scheduler = DynamicScheduler(
        [("tail", sleeper(0.02, "t")), ("after", sleeper(0, "a"))],
        [tail, TaskOrder("after", [tail])],
        ignore_tail_task=["tail"],
    )
    report = await within(scheduler.execute())
    assert report.execution_state == "completed"
    assert sorted(s.task_name for s in report.task_statistics) == ["after", "tail"]
    assert report.results == {"tail": "t", "after": "a"}


class UnretrievedErrors:
    """Collects what the loop's exception handler is told (``Task exception was never retrieved``)."""

    def __init__(self) -> None:
        self.contexts: list[dict[str, Any]] = []

    def __enter__(self) -> UnretrievedErrors:
        self.loop = asyncio.get_running_loop()
        self.previous = self.loop.get_exception_handler()
        self.loop.set_exception_handler(lambda _loop, context: self.contexts.append(context))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.loop.set_exception_handler(self.previous)


def assert_reported_once_each(report: ExecutionReport) -> None:
    """Every task is in task_statistics once, or (still running) only in tail_tasks; counts agree."""
    names = [s.task_name for s in report.task_statistics]
    running_tails = {name for name, t in report.tail_tasks.items() if not t.done() and name not in names}
    assert len(names) == len(set(names))
    assert len(names) + len(running_tails) == report.total_tasks
    statuses = [s.status for s in report.task_statistics]
    assert report.successful_tasks == statuses.count("completed")
    assert report.failed_tasks == statuses.count("failed") + statuses.count("timed_out")
    assert (report.execution_state == "failed") == bool(report.failed_tasks or "cancelled" in statuses)


async def test_a_tail_task_depending_on_a_failed_task_is_reported_skipped():
    async def boom() -> None:
        raise RuntimeError("boom")

    scheduler = DynamicScheduler(
        [("boom", boom), ("notify", returning("sent"))],
        [TaskOrder("boom"), TaskOrder("notify", ["boom"])],
        ignore_tail_task=["notify"],
    )
    report = await within(scheduler.execute())

    notify = by_name(report)["notify"]
    assert notify.status == "skipped"
    assert notify.caused_by == "boom"
    assert report.tail_tasks == {}
    assert report.execution_state == "failed"
    assert_reported_once_each(report)


async def test_a_tail_task_failing_before_the_run_returns_fails_the_report_and_the_run_goes_on():
    async def audit() -> None:
        raise RuntimeError("audit log unreachable")

    with UnretrievedErrors() as unretrieved:
        scheduler = DynamicScheduler(
            [("audit", audit), ("main", sleeper(0.05, "done"))],
            [TaskOrder("audit"), TaskOrder("main")],
            ignore_tail_task=["audit"],
        )
        report = await within(scheduler.execute())

        assert report.execution_state == "failed"
        assert (report.successful_tasks, report.failed_tasks) == (1, 1)
        assert by_name(report)["audit"].status == "failed"
        assert by_name(report)["main"].status == "completed"  # nothing waits for the tail: not stopped
        assert report.results == {"main": "done"}
        assert report.error_summary == [
            "Run finished with failures; first failed task 'audit': audit log unreachable",
            "Task 'audit' failed during execution: audit log unreachable",
        ]
        assert isinstance(report.exceptions["audit"], RuntimeError)
        assert_reported_once_each(report)
        with pytest.raises(RuntimeError, match="audit log unreachable"):
            await report.tail_tasks["audit"]  # whoever awaits the tail task still sees its error
        del report, scheduler
        gc.collect()
        await asyncio.sleep(0)

    assert unretrieved.contexts == []


async def test_a_tail_task_failing_after_the_run_returned_is_logged_never_an_unretrieved_exception(caplog):
    failed = asyncio.Event()

    async def audit() -> None:
        await asyncio.sleep(0.05)
        failed.set()
        raise RuntimeError("audit log unreachable")

    with UnretrievedErrors() as unretrieved, caplog.at_level(logging.WARNING, logger="astrum"):
        scheduler = DynamicScheduler(
            [("audit", audit), ("main", returning("done"))],
            [TaskOrder("audit"), TaskOrder("main")],
            ignore_tail_task=["audit"],
        )
        report = await within(scheduler.execute())
        assert report.execution_state == "completed"
        assert_reported_once_each(report)
        await within(failed.wait())
        await asyncio.wait([report.tail_tasks["audit"]])

        # the report was made before: it does not change
        assert report.execution_state == "completed"
        assert (report.successful_tasks, report.failed_tasks) == (1, 0)
        assert report.error_summary == []
        assert [s.task_name for s in report.task_statistics] == ["main"]
        del report, scheduler
        gc.collect()
        await asyncio.sleep(0)

    assert unretrieved.contexts == []
    [record] = [r for r in caplog.records if "tail task" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "tail task 'audit' failed after its run returned: audit log unreachable" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)


async def test_a_tail_task_held_back_by_the_concurrency_limit_starts_before_the_run_returns():
    registry = SchedulerRegistry("held_back_tail")
    started: list[str] = []

    def tail(name: str, seconds: float):
        async def body() -> str:
            started.append(name)
            await asyncio.sleep(seconds)
            return name

        return body

    registry.register(returning("m"), "main")
    registry.register(tail("first_tail", 0.05), "first_tail")
    registry.register(tail("second_tail", 5), "second_tail")
    config = AstrumConfig(concurrency_limit=1, ignore_tail_task=["first_tail", "second_tail"])
    report = await within(registry.run(config=config))
    at_return = list(started)

    assert at_return == ["first_tail", "second_tail"]  # both began: nothing begins after the return
    assert set(report.tail_tasks) == {"first_tail", "second_tail"}
    assert by_name(report)["first_tail"].status == "completed"
    assert "second_tail" not in by_name(report)  # still running: reported through tail_tasks only
    assert report.execution_state == "completed"
    assert_reported_once_each(report)
    report.tail_tasks["second_tail"].cancel()
    await asyncio.wait([report.tail_tasks["second_tail"]])


# -- planning errors come back as failed reports ---------------------------------------------------


@pytest.mark.parametrize(
    ("tasks", "orders", "expected"),
    [
        pytest.param(
            ["a", "b"],
            [TaskOrder("a", ["b"]), TaskOrder("b", ["a"])],
            "Cycle detected: a -> b -> a",
            id="cycle",
        ),
        pytest.param(
            ["a"],
            [TaskOrder("a", ["ghost"])],
            "Task dependencies are not present in task_order: ['a -> ghost']",
            id="unknown-dependency",
        ),
        pytest.param(
            ["a"],
            [TaskOrder("a"), TaskOrder("b", ["a"])],
            "Execution failed: Task 'b' not found in task list.",
            id="order-without-callable",
        ),
        pytest.param(
            ["a"],
            [TaskOrder("a"), TaskOrder("a")],
            "Duplicate task names in task_order: ['a']",
            id="duplicate-orders",
        ),
    ],
)
async def test_planning_errors_come_back_as_a_failed_report(tasks, orders, expected):
    ran: list[str] = []

    def make(name: str):
        async def task() -> None:
            ran.append(name)

        return task

    scheduler = DynamicScheduler([(n, make(n)) for n in tasks], orders)
    report = await within(scheduler.execute())

    assert report.execution_state == "failed"
    assert len(report.error_summary) == 1
    assert report.error_summary[0].startswith(expected)
    assert ran == []
    assert report.successful_tasks == report.failed_tasks == 0
    assert report.task_statistics == []
    assert report.original_tasks == {}
    assert report.total_tasks == len(orders)
    assert report.total_end_time >= report.total_start_time
    assert scheduler.execution_state.value == "failed"
