"""Mapped tasks (``@task(map=...)``): one instance per item, run concurrently, gathered in order."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import pytest

import astrum
from astrum import (
    AstrumConfig,
    ExecutionReport,
    F,
    MappedInputError,
    MappedTaskError,
    MemoryStore,
    Ref,
    SchedulerRegistry,
    TaskFailure,
    TaskRegistrationError,
    TaskTimeoutError,
    fn_hook,
)


def by_name(report: ExecutionReport) -> dict[str, Any]:
    return {stat.task_name: stat for stat in report.task_statistics}


class Peak:
    """Counts the bodies running at once (on the loop or in threads)."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self.lock = threading.Lock()

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


def words_registry(name: str, words: list[str]) -> SchedulerRegistry:
    registry = SchedulerRegistry(name)

    @registry.task
    def split() -> dict[str, list[str]]:
        return {"words": list(words)}

    @registry.task
    async def suffix() -> str:
        return "!"

    return registry


# -- fan-out, gather, zip ------------------------------------------------------------------------


async def test_a_consumer_receives_the_instance_results_in_item_order_whatever_order_they_end() -> None:
    registry = words_registry("map_order", ["ccc", "a", "bb"])
    ended: list[str] = []

    @registry.task(map="word")
    async def shout(word: Ref[str, F("split", "words")], mark: Ref[str, F("suffix")]) -> str:
        await asyncio.sleep(0.01 * len(word))  # the longest word ends last
        ended.append(word)
        return word.upper() + mark

    @registry.task
    async def joined(shouted: Ref[list[str], F("shout")]) -> str:
        return " ".join(shouted)

    report = await registry.run()

    assert report.execution_state == "completed", report.error_summary
    assert ended == ["a", "bb", "ccc"]
    assert report.results["shout"] == ["CCC!", "A!", "BB!"]
    assert report.results["joined"] == "CCC! A! BB!"
    assert [report.results[f"shout[{k}]"] for k in range(3)] == ["CCC!", "A!", "BB!"]


async def test_two_mapped_parameters_are_zipped_item_by_item() -> None:
    registry = SchedulerRegistry("map_zip")

    @registry.task
    def columns() -> dict[str, list[Any]]:
        return {"names": ["x", "y", "z"], "sizes": [1, 2, 3]}

    @registry.task(map=("name", "size"))
    def label(name: Ref[str, F("columns", "names")], size: Ref[int, F("columns", "sizes")]) -> str:
        return name * size

    report = await registry.run()

    assert report.results["label"] == ["x", "yy", "zzz"]


async def test_zipped_lists_of_unequal_length_fail_the_task_naming_both_parameters_and_lengths() -> None:
    registry = SchedulerRegistry("map_unequal")
    calls: list[str] = []

    @registry.task
    def columns() -> dict[str, list[Any]]:
        return {"names": ["x", "y", "z"], "sizes": [1, 2]}

    @registry.task(map=("name", "size"))
    def label(name: Ref[str, F("columns", "names")], size: Ref[int, F("columns", "sizes")]) -> str:
        calls.append(name)
        return name * size

    report = await registry.run()

    assert report.execution_state == "failed"
    error = report.exceptions["label"]
    assert isinstance(error, MappedInputError) and isinstance(error, ValueError)
    assert "'name' has 3" in str(error) and "'size' has 2" in str(error)
    assert calls == []


async def test_an_empty_list_gives_an_empty_gather_without_running_an_instance() -> None:
    registry = words_registry("map_empty", [])
    calls: list[str] = []

    @registry.task(map="word")
    async def shout(word: Ref[str, F("split", "words")]) -> str:
        calls.append(word)
        return word

    @registry.task
    async def count(shouted: Ref[list[str], F("shout")]) -> int:
        return len(shouted)

    report = await registry.run()

    assert report.execution_state == "completed"
    assert report.results["shout"] == [] and report.results["count"] == 0
    assert calls == []
    assert report.total_tasks == 4  # no instance


async def test_a_mapped_parameter_fed_something_else_than_a_list_fails_the_task_saying_so() -> None:
    registry = SchedulerRegistry("map_not_a_list")

    @registry.task
    def text() -> Any:
        return "abc"

    @registry.task(map="item")
    def echo(item: Ref[Any, F("text")]) -> Any:
        return item

    report = await registry.run()

    message = str(report.exceptions["echo"])
    assert "maps over parameter 'item', which received str, not a list" in message


# -- where instances run -------------------------------------------------------------------------


async def test_sync_instances_run_in_worker_threads() -> None:
    registry = words_registry("map_threads", ["a", "b", "c", "d"])
    loop_thread = threading.get_ident()

    @registry.task(map="word")
    def where(word: Ref[str, F("split", "words")]) -> int:
        time.sleep(0.02)
        return threading.get_ident()

    report = await registry.run()

    threads = report.results["where"]
    assert len(threads) == 4 and loop_thread not in threads


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver")) as executor:
        yield executor


async def test_sync_instances_on_a_named_executor_run_in_its_worker_processes(
    pool: ProcessPoolExecutor,
) -> None:
    registry = SchedulerRegistry("map_executor")

    @registry.task
    def numbers() -> list[int]:
        return [1, 2, 3]

    @registry.task(executor="cpu", map="n")
    def square(n: Ref[int, F("numbers")]) -> tuple[int, int]:
        return n * n, os.getpid()

    report = await registry.run(config=AstrumConfig(executors={"cpu": pool}))

    assert report.execution_state == "completed", report.error_summary
    assert [value for value, _ in report.results["square"]] == [1, 4, 9]
    assert all(pid != os.getpid() for _, pid in report.results["square"])


# -- limits ---------------------------------------------------------------------------------------


def peak_registry(name: str, peak: Peak, *, sync: bool = False, **options: Any) -> SchedulerRegistry:
    registry = SchedulerRegistry(name)

    @registry.task
    def items() -> list[int]:
        return list(range(12))

    if sync:

        @registry.task(map="n", **options)
        def work(n: Ref[int, F("items")]) -> int:
            peak.enter()
            time.sleep(0.01)
            peak.leave()
            return n

    else:

        @registry.task(map="n", **options)
        async def work(n: Ref[int, F("items")]) -> int:  # type: ignore[misc]
            peak.enter()
            await asyncio.sleep(0.005)
            peak.leave()
            return n

    return registry


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
async def test_max_parallel_bounds_the_instances_running_at_once(sync: bool) -> None:
    peak = Peak()
    report = await peak_registry("map_max_parallel", peak, sync=sync, max_parallel=3).run()

    assert report.results["work"] == list(range(12))
    assert peak.most == 3


async def test_a_pool_limit_holds_across_instances_and_plain_tasks_of_the_pool() -> None:
    peak = Peak()
    registry = peak_registry("map_pool", peak, pool="api")

    @registry.task(pool="api")
    async def other() -> None:
        peak.enter()
        await asyncio.sleep(0.02)
        peak.leave()

    report = await registry.run(config=AstrumConfig(pools={"api": 2}))

    assert report.execution_state == "completed", report.error_summary
    assert peak.most == 2
    stats = by_name(report)
    assert stats["work[0]"].pool == "api"
    assert any(stats[f"work[{k}]"].pool_queued_duration > 0 for k in range(12))


async def test_the_run_concurrency_limit_holds_for_instances_and_a_limit_of_one_does_not_deadlock() -> None:
    peak = Peak()
    report = await peak_registry("map_limit", peak).run(config=AstrumConfig(concurrency_limit=1))

    assert report.results["work"] == list(range(12))
    assert peak.most == 1


def test_max_parallel_must_be_a_positive_integer_and_needs_map() -> None:
    registry = SchedulerRegistry("map_bad_parallel")

    async def work(n: Ref[int, F("items")]) -> int:
        return n

    with pytest.raises(TaskRegistrationError, match=r"Task 'work' max_parallel must be a positive integer"):
        registry.task(map="n", max_parallel=0)(work)
    with pytest.raises(TaskRegistrationError, match=r"Task 'work' sets max_parallel=2 but is not mapped"):
        registry.task(max_parallel=2)(work)


# -- attempts -------------------------------------------------------------------------------------


async def test_each_instance_retries_on_its_own() -> None:
    registry = SchedulerRegistry("map_retry")
    attempts: dict[int, int] = {}

    @registry.task
    def items() -> list[int]:
        return [0, 1, 2]

    @registry.task(map="n", retry=2)
    async def flaky(n: Ref[int, F("items")]) -> int:
        attempts[n] = attempts.get(n, 0) + 1
        if n == 1 and attempts[n] < 3:
            raise ConnectionError("try again")
        return n

    report = await registry.run()

    assert report.execution_state == "completed", report.error_summary
    assert attempts == {0: 1, 1: 3, 2: 1}
    stats = by_name(report)
    assert stats["flaky[1]"].attempt_count == 3 and stats["flaky[1]"].retry == 2
    assert [a.status for a in stats["flaky[1]"].attempt_statistics] == ["failed", "failed", "completed"]
    assert stats["flaky[0]"].attempt_count == 1
    assert any("Task 'flaky[1]' attempt 1/3 failed; retrying" in line for line in report.error_summary)


async def test_each_instance_has_its_own_timeout() -> None:
    registry = SchedulerRegistry("map_timeout")

    @registry.task
    def items() -> list[float]:
        return [0.0, 5.0, 0.0]

    @registry.task(map="delay", timeout=0.2)
    async def nap(delay: Ref[float, F("items")]) -> float:
        await asyncio.sleep(delay)
        return delay

    report = await registry.run(config=AstrumConfig(failure_policy="continue"))

    stats = by_name(report)
    assert stats["nap[1]"].status == "timed_out"
    assert isinstance(report.exceptions["nap[1]"], TaskTimeoutError)
    assert "nap[1]" in str(report.exceptions["nap[1]"])
    assert stats["nap[0]"].status == stats["nap[2]"].status == "completed"
    assert stats["nap"].status == "failed"


# -- reports, events, stores ----------------------------------------------------------------------


async def test_instances_appear_by_name_in_the_report_the_events_the_stream_and_the_store() -> None:
    registry = words_registry("map_names", ["a", "b"])

    @registry.task(map="word")
    async def shout(word: Ref[str, F("split", "words")]) -> str:
        return word.upper()

    seen: list[tuple[str, str]] = []
    hook = fn_hook(
        on_task_start=lambda e: seen.append(("start", e.task_id)),
        on_task_success=lambda e: seen.append(("success", e.task_id)),
    )
    store = MemoryStore()
    report = await registry.run(config=AstrumConfig(hooks=[hook]), store=store)

    assert report.total_tasks == 5 and report.successful_tasks == 5
    assert [s.task_name for s in report.task_statistics][-3:] == ["shout[0]", "shout[1]", "shout"] or {
        "shout[0]",
        "shout[1]",
    } <= set(by_name(report))
    for name in ("shout[0]", "shout[1]"):
        assert ("start", name) in seen and ("success", name) in seen
        assert seen.index(("start", "shout")) < seen.index(("start", name))
        assert seen.index(("success", name)) < seen.index(("success", "shout"))
    stored = store.report(report.run_id)
    assert stored.results["shout[1]"] == "B" and stored.results["shout"] == ["A", "B"]
    assert by_name(stored)["shout[0]"].status == "completed"

    streamed = [e.task_id async for e in registry.stream() if getattr(e, "kind", "") == "task_success"]
    assert {"shout[0]", "shout[1]", "shout"} <= set(streamed)


async def test_an_instance_statistic_comes_just_before_its_mapped_task() -> None:
    registry = words_registry("map_stat_order", ["a", "b", "c"])

    @registry.task(map="word")
    async def shout(word: Ref[str, F("split", "words")]) -> str:
        return word

    report = await registry.run()

    names = [s.task_name for s in report.task_statistics]
    position = names.index("shout")
    assert sorted(names[position - 3 : position]) == ["shout[0]", "shout[1]", "shout[2]"]


# -- failures and partial results -----------------------------------------------------------------


def failing_registry(name: str, *, partial: bool, bad: set[int]) -> tuple[SchedulerRegistry, list[int]]:
    registry = SchedulerRegistry(name)
    ran: list[int] = []

    @registry.task
    def items() -> list[int]:
        return list(range(6))

    @registry.task(map="n")
    async def check(n: Ref[int, F("items")]) -> int:
        await asyncio.sleep(0.001 * n)
        ran.append(n)
        if n in bad:
            raise ValueError(f"bad item {n}")
        return n * 10

    if partial:

        @registry.task
        async def summary(values: Ref[list[int | TaskFailure], F("check")]) -> list[Any]:
            return [v.task_name if isinstance(v, TaskFailure) else v for v in values]

    else:

        @registry.task
        async def summary(values: Ref[list[int], F("check")]) -> int:  # type: ignore[misc]
            return sum(values)

    @registry.task
    async def unrelated() -> str:
        return "ran"

    return registry, ran


async def test_a_consumer_asking_for_partial_results_gets_a_task_failure_for_each_failed_instance() -> None:
    registry, ran = failing_registry("map_partial", partial=True, bad={1, 4})

    report = await registry.run()

    assert sorted(ran) == list(range(6))  # every instance ran
    assert report.results["summary"] == [0, "check[1]", 20, 30, "check[4]", 50]
    stats = by_name(report)
    assert stats["check"].status == "failed"
    assert stats["check[1]"].status == stats["check[4]"].status == "failed"
    assert stats["summary"].status == "completed"
    assert report.execution_state == "failed"  # instances failed; the consumer still ran
    error = report.exceptions["check"]
    assert isinstance(error, MappedTaskError)
    assert [f.task_name for f in error.failures] == ["check[1]", "check[4]"]
    assert "2 of 6 instances of mapped task 'check' failed" in str(error)
    failure = error.failures[0]
    assert (failure.index, failure.status, str(failure.error)) == (1, "failed", "bad item 1")
    assert report.failed_tasks == 3  # check[1], check[4] and check
    with pytest.raises(FrozenInstanceError):
        failure.index = 2  # type: ignore[misc]


async def test_partial_results_are_consistent_in_the_events_and_the_store() -> None:
    registry, _ = failing_registry("map_partial_store", partial=True, bad={2})
    outcomes: dict[str, str] = {}
    hook = fn_hook(
        on_task_success=lambda e: outcomes.__setitem__(e.task_id, "completed"),
        on_task_failure=lambda e: outcomes.__setitem__(e.task_id, "failed"),
    )
    store = MemoryStore()

    report = await registry.run(config=AstrumConfig(hooks=[hook]), store=store)

    stored = {s.task_name: s.status for s in store.report(report.run_id).task_statistics}
    reported = {s.task_name: s.status for s in report.task_statistics}
    assert outcomes["check"] == stored["check"] == reported["check"] == "failed"
    assert outcomes["check[2]"] == stored["check[2]"] == "failed"
    assert outcomes["summary"] == stored["summary"] == reported["summary"] == "completed"
    assert store.run(report.run_id) is not None
    assert store.report(report.run_id).execution_state == "failed"


async def test_a_failed_instance_skips_a_consumer_without_partial_results_under_continue() -> None:
    registry, ran = failing_registry("map_continue", partial=False, bad={3})

    report = await registry.run(config=AstrumConfig(failure_policy="continue"))

    stats = by_name(report)
    assert sorted(ran) == list(range(6))  # the other instances still ran
    assert stats["check"].status == "failed" and stats["summary"].status == "skipped"
    assert stats["summary"].caused_by == "check"
    assert report.results["unrelated"] == "ran"
    assert report.results["check[5]"] == 50


async def test_a_failed_instance_stops_the_run_under_cancel_and_cancels_the_other_instances() -> None:
    registry = SchedulerRegistry("map_cancel")
    started: list[int] = []

    @registry.task
    def items() -> list[int]:
        return list(range(5))

    @registry.task(map="n")
    async def work(n: Ref[int, F("items")]) -> int:
        started.append(n)
        if n == 0:
            raise RuntimeError("first one breaks")
        await asyncio.sleep(5)
        return n

    @registry.task
    async def after(values: Ref[list[int], F("work")]) -> int:
        return len(values)

    began = time.monotonic()
    report = await registry.run()

    assert time.monotonic() - began < 4  # the sleeping instances were cancelled
    stats = by_name(report)
    assert report.execution_state == "failed"
    assert stats["work[0]"].status == "failed"
    assert {stats[f"work[{k}]"].status for k in range(1, 5)} == {"cancelled"}
    assert stats["work"].status == "failed" and stats["after"].status == "skipped"
    assert "Execution interrupted; task 'work' failed" in report.error_summary[0]


async def test_a_partial_consumer_under_cancel_lets_the_run_go_on_when_it_is_the_only_consumer() -> None:
    registry, ran = failing_registry("map_partial_cancel", partial=True, bad={0})

    report = await registry.run(config=AstrumConfig(failure_policy="cancel"))

    assert sorted(ran) == list(range(6))
    assert report.results["summary"][0] == "check[0]"
    assert report.error_summary[0].startswith("Run finished with failures; first failed task 'check'")


# -- resume per item ------------------------------------------------------------------------------


async def test_resume_reruns_only_the_failed_instances_and_the_descendants() -> None:
    registry = SchedulerRegistry("map_resume")
    calls = {"items": 0, "body": 0, "total": 0}
    broken = {7, 42, 99}

    @registry.task
    def items() -> list[int]:
        calls["items"] += 1
        return list(range(100))

    @registry.task(map="n")
    async def square(n: Ref[int, F("items")]) -> int:
        calls["body"] += 1
        if n in broken:
            raise ValueError(f"item {n} is broken")
        return n * n

    @registry.task
    async def total(values: Ref[list[int], F("square")]) -> int:
        calls["total"] += 1
        return sum(values)

    store = MemoryStore()
    first = await registry.run(config=AstrumConfig(failure_policy="continue"), store=store)
    assert first.execution_state == "failed"
    assert calls == {"items": 1, "body": 100, "total": 0}

    broken.clear()
    resumed = await registry.resume(first.run_id, store=store)

    assert resumed.execution_state == "completed", resumed.error_summary
    assert calls == {"items": 1, "body": 103, "total": 1}  # 3 instances ran again, 97 were reused
    assert resumed.results["total"] == sum(n * n for n in range(100))
    assert resumed.results["square"][42] == 42 * 42
    assert "square[5]" in resumed.reused_tasks and "square[42]" not in resumed.reused_tasks
    assert by_name(resumed)["square[5]"].status == "completed"


# -- build rules ----------------------------------------------------------------------------------


def test_map_on_a_name_that_is_no_parameter_is_refused_at_registration() -> None:
    registry = SchedulerRegistry("map_unknown")

    async def embed(chunk: Ref[str, F("split")]) -> int:
        return 1

    with pytest.raises(
        TaskRegistrationError, match=r"Task 'embed' maps over \['chunks'\], which is not a parameter"
    ):
        registry.task(map="chunks")(embed)
    with pytest.raises(TaskRegistrationError, match=r"Task 'embed' map must name the parameter"):
        registry.task(map=3)(embed)  # type: ignore[arg-type]


def test_map_on_a_parameter_that_is_no_ref_input_is_refused_at_build() -> None:
    registry = words_registry("map_not_ref", ["a"])

    @registry.task(map="word")
    async def shout(word: str = "x") -> str:
        return word

    with pytest.raises(
        TaskRegistrationError, match=r"Task 'shout' maps over parameter 'word', which receives no upstream"
    ):
        registry.validate()


def test_a_producer_field_that_is_not_a_list_of_the_item_type_is_a_type_mismatch() -> None:
    registry = SchedulerRegistry("map_types")

    @registry.task
    def split() -> dict[str, Any]:
        return {}

    @registry.task
    def sizes() -> list[int]:
        return [1]

    @registry.task
    def one() -> str:
        return "a"

    @registry.task(map="word")
    async def from_ints(word: Ref[str, F("sizes")]) -> str:
        return word

    @registry.task(map="word")
    async def from_str(word: Ref[str, F("one")]) -> str:
        return word

    @registry.task
    async def wants_ints(values: Ref[list[int], F("from_ints")]) -> int:
        return 0

    with pytest.raises(TaskRegistrationError) as caught:
        registry.validate()

    problems = caught.value.problems
    assert any(
        "Type mismatch on edge sizes -> from_ints.word: 'sizes' provides list[int]" in p
        and "list of str" in p
        for p in problems
    ), problems
    assert any("edge one -> from_str.word" in p for p in problems), problems
    assert any(
        "edge from_ints -> wants_ints.values: 'from_ints' provides list[str] but 'wants_ints' expects list[int]"
        in p
        for p in problems
    ), problems


async def test_a_producer_of_tuples_or_sequences_of_the_item_type_fits() -> None:
    registry = SchedulerRegistry("map_tuple")

    @registry.task
    def items() -> tuple[int, ...]:
        return (1, 2)

    @registry.task(map="n")
    def double(n: Ref[int, F("items")]) -> int:
        return 2 * n

    report = await registry.run()

    assert report.results["double"] == [2, 4]


async def test_the_module_level_task_decorator_takes_map_and_max_parallel() -> None:
    with astrum.use_namespace("map_module_level"):

        @astrum.task
        def items() -> list[int]:
            return [1, 2, 3]

        @astrum.task(map="n", max_parallel=2)
        async def inc(n: Ref[int, F("items")]) -> int:
            return n + 1

    try:
        report = await astrum.run(namespace="map_module_level")
        assert report.results["inc"] == [2, 3, 4]
    finally:
        astrum.clear_registry("map_module_level")


async def test_sync_instances_announce_their_start_and_end_to_hooks_and_see_their_own_run_context() -> None:
    registry = words_registry("map_sync_events", ["a", "b", "c"])

    @registry.task(map="word")
    def tag(word: Ref[str, F("split", "words")], context: astrum.RunContext) -> str:
        return f"{context.task_id}:{word}"

    seen: list[tuple[str, str]] = []
    hook = fn_hook(
        on_task_start=lambda e: seen.append(("start", e.task_id)),
        on_task_success=lambda e: seen.append(("success", e.task_id)),
    )
    report = await registry.run(config=AstrumConfig(hooks=[hook]))

    assert report.results["tag"] == ["tag[0]:a", "tag[1]:b", "tag[2]:c"]
    for k in range(3):
        assert seen.index(("start", f"tag[{k}]")) < seen.index(("success", f"tag[{k}]"))
    assert seen.count(("start", "tag[1]")) == 1


async def test_the_run_deadline_cancels_the_running_instances() -> None:
    registry = SchedulerRegistry("map_deadline")

    @registry.task
    def items() -> list[int]:
        return [0, 1, 2]

    @registry.task(map="n")
    async def slow(n: Ref[int, F("items")]) -> int:
        await asyncio.sleep(0 if n == 0 else 5)
        return n

    began = time.monotonic()
    report = await registry.run(config=AstrumConfig(deadline=0.2))

    assert time.monotonic() - began < 4
    stats = by_name(report)
    assert stats["slow[0]"].status == "completed"
    assert stats["slow[1]"].status == stats["slow[2]"].status == "cancelled"
    assert stats["slow[1]"].error_message == "Task cancelled: the run deadline passed"
    assert stats["slow"].status == "cancelled"


async def test_the_store_records_a_mapped_task_s_instance_policy_in_the_config_summary() -> None:
    peak = Peak()
    store = MemoryStore()
    report = await peak_registry("map_summary", peak, retry=2, max_parallel=4).run(store=store)

    policies = store.run(report.run_id).config["policies"]
    assert policies["work"] == {
        "retries": 2,
        "timeout": None,
        "isolation": "thread",
        "map": ["n"],
        "max_parallel": 4,
    }


# -- docs/mapping.md ------------------------------------------------------------------------------

MAPPING_DOC = Path(__file__).resolve().parents[1] / "docs" / "mapping.md"


def mapping_examples() -> list[str]:
    """The example files docs/mapping.md includes (each run by tests/test_docs_site.py)."""
    root = MAPPING_DOC.parents[1]
    names = re.findall(r'^--8<-- "([^"]+)"$', MAPPING_DOC.read_text(encoding="utf-8"), flags=re.M)
    return [(root / name).read_text(encoding="utf-8") for name in names]


def test_the_mapping_page_shows_fan_out_zip_limits_attempts_partial_results_and_resume() -> None:
    examples = mapping_examples()
    assert len(examples) == 6
    joined = "\n".join(examples)
    for feature in ('map="chunk"', "map=(", "max_parallel=", "retry=", "TaskFailure", ".resume("):
        assert feature in joined, feature


async def test_instances_cancelled_before_they_began_are_reported_cancelled_without_an_attempt() -> None:
    registry = SchedulerRegistry("map_cancelled_early")

    @registry.task
    def items() -> list[int]:
        return list(range(5))

    @registry.task(map="n")
    async def wait(n: Ref[int, F("items")]) -> int:
        await asyncio.sleep(0.05)
        return n

    @registry.task(depends_on=["items"])
    async def boom() -> None:  # starts once the mapped task gives its slot up, and fails at once
        raise RuntimeError("boom")

    report = await registry.run(config=AstrumConfig(concurrency_limit=1))

    stats = by_name(report)
    instances = [stats[f"wait[{k}]"] for k in range(5)]
    assert {s.status for s in instances} <= {"completed", "cancelled"}
    unstarted = [s for s in instances if s.status == "cancelled" and s.attempt_count == 0]
    assert len(unstarted) >= 4  # on 3.12+ the first instance starts eagerly and may end first
    assert report.total_tasks == 3 + 5
    assert stats["wait"].status == "cancelled" and stats["boom"].status == "failed"


def test_a_mapped_task_that_also_asks_for_a_cache_is_refused_at_registration() -> None:
    registry = SchedulerRegistry("map_and_cache")

    with pytest.raises(TaskRegistrationError) as info:

        @registry.task(map="n", cache=astrum.Cache())
        async def square(n: Ref[int, F("items")]) -> int:
            return n * n

    message = str(info.value)
    assert "Task 'square' sets both map= and cache=" in message
    assert "Cache the task that produces its list" in message
