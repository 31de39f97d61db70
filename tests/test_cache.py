"""Result caching across runs: ``@task(cache=Cache(...))`` with entries in the run store."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from astrum import (
    AstrumConfig,
    Cache,
    CacheKeyError,
    ConfigurationError,
    ConfigurationTypeError,
    F,
    MemoryStore,
    Ref,
    RunContext,
    SchedulerRegistry,
    SQLiteStore,
    TaskRegistrationError,
    UnstorableResultWarning,
    fn_hook,
)


@dataclass(frozen=True)
class Order:
    id: int
    items: tuple[str, ...]


class ApiClient:
    """Holds a connection in real life: no stable form, so cached tasks key it by its region."""

    region = "eu-west"


def _cache_of(report: Any) -> dict[str, str | None]:
    return {s.task_name: s.cache for s in report.task_statistics}


def _attempts_of(report: Any) -> dict[str, int]:
    return {s.task_name: s.attempt_count for s in report.task_statistics}


# -- reuse ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["async", "sync", "executor"])
async def test_second_run_reuses_the_result_without_running_the_body(kind: str) -> None:
    bodies: list[str] = []
    registry = SchedulerRegistry(f"reuse-{kind}")
    config = AstrumConfig()
    if kind == "async":

        @registry.task("price", cache=Cache())
        async def price() -> dict[str, int]:
            bodies.append("price")
            return {"eur": 12}

    else:

        @registry.task("price", cache=Cache(), executor="pool" if kind == "executor" else None)
        def price_sync() -> dict[str, int]:
            bodies.append("price")
            return {"eur": 12}

        if kind == "executor":
            config = AstrumConfig(executors={"pool": ThreadPoolExecutor(2)})

    store = MemoryStore()
    first = await registry.run(config=config, store=store)
    second = await registry.run(config=config, store=store)

    assert bodies == ["price"]
    assert first.results == second.results == {"price": {"eur": 12}}
    assert _cache_of(first) == {"price": "miss"} and _attempts_of(first) == {"price": 1}
    assert _cache_of(second) == {"price": "hit"} and _attempts_of(second) == {"price": 0}
    assert second.task_statistics[0].status == "completed"


async def test_a_task_without_cache_reports_cache_none_and_runs_every_time() -> None:
    bodies: list[str] = []
    registry = SchedulerRegistry("uncached")

    @registry.task("plain")
    async def plain() -> int:
        bodies.append("plain")
        return 1

    store = MemoryStore()
    await registry.run(store=store)
    report = await registry.run(store=store)

    assert bodies == ["plain", "plain"]
    assert _cache_of(report) == {"plain": None}


async def test_equal_inputs_hit_and_different_inputs_miss() -> None:
    bodies: list[int] = []
    registry = SchedulerRegistry("inputs")
    seed = {"value": 1}

    @registry.task("order")
    async def order() -> Order:
        return Order(seed["value"], ("a", "b"))

    @registry.task("invoice", cache=Cache())
    async def invoice(order: Ref[Order, F("order")]) -> str:
        bodies.append(order.id)
        return f"invoice {order.id}"

    store = MemoryStore()
    await registry.run(store=store)
    hit = await registry.run(store=store)
    seed["value"] = 2
    miss = await registry.run(store=store)

    assert bodies == [1, 2]
    assert _cache_of(hit)["invoice"] == "hit"
    assert _cache_of(miss)["invoice"] == "miss" and miss.results["invoice"] == "invoice 2"


async def test_the_run_context_never_enters_the_key() -> None:
    bodies: list[str] = []
    registry = SchedulerRegistry("context")

    @registry.task("greet", cache=Cache())
    async def greet(ctx: RunContext[Any]) -> str:
        bodies.append(ctx.run_id)
        return "hello"

    store = MemoryStore()
    await registry.run(store=store, context=RunContext(metadata={"user": "ann"}))
    report = await registry.run(store=store, context=RunContext(metadata={"user": "bob"}))

    assert len(bodies) == 1
    assert _cache_of(report) == {"greet": "hit"}


async def test_a_changed_version_misses_and_the_old_entry_stays() -> None:
    bodies: list[int] = []
    store = MemoryStore()
    for version in (1, 1, 2):
        registry = SchedulerRegistry(f"version-{version}")

        @registry.task("model", cache=Cache(version=version))
        async def model() -> int:
            bodies.append(version)
            return version

        await registry.run(store=store)

    assert bodies == [1, 2]
    assert len(store.cache_entries("model")) == 2


async def test_a_key_function_replaces_the_inputs_in_the_key() -> None:
    bodies: list[list[int]] = []
    registry = SchedulerRegistry("custom-key")
    rows = {"value": [1, 2, 3]}

    @registry.task("rows")
    async def source() -> list[int]:
        return rows["value"]

    @registry.task("count", cache=Cache(key=lambda rows, **_: len(rows)))
    async def count(rows: Ref[list[int], F("rows")]) -> int:
        bodies.append(rows)
        return len(rows)

    store = MemoryStore()
    await registry.run(store=store)
    rows["value"] = [7, 8, 9]  # same length: same key
    report = await registry.run(store=store)

    assert bodies == [[1, 2, 3]]
    assert _cache_of(report)["count"] == "hit"


async def test_a_failed_attempt_then_a_retry_caches_the_value_that_completed() -> None:
    bodies: list[int] = []
    registry = SchedulerRegistry("retry")

    @registry.task("flaky", cache=Cache(), retry=1)
    async def flaky() -> str:
        bodies.append(len(bodies))
        if len(bodies) == 1:
            raise ConnectionError("first call drops")
        return "ok"

    store = MemoryStore()
    first = await registry.run(store=store)
    second = await registry.run(store=store)

    assert bodies == [0, 1]
    assert _attempts_of(first) == {"flaky": 2} and _cache_of(first) == {"flaky": "miss"}
    assert second.results == {"flaky": "ok"} and _cache_of(second) == {"flaky": "hit"}


async def test_a_failed_task_caches_nothing() -> None:
    bodies: list[int] = []
    registry = SchedulerRegistry("fails")

    @registry.task("broken", cache=Cache())
    async def broken() -> int:
        bodies.append(1)
        raise ValueError("no")

    store = MemoryStore()
    first = await registry.run(store=store)
    await registry.run(store=store)

    assert len(bodies) == 2
    assert first.execution_state == "failed" and _cache_of(first) == {"broken": "miss"}
    assert store.cache_entries() == []


# -- invalidation and expiry ----------------------------------------------------------------


def _source_v1() -> int:
    return 10


def _source_v2() -> int:
    return 10 + 10  # another body: another fingerprint, another value


def _source_v3() -> int:
    return 20  # another body, the same value as v2


async def test_a_changed_task_body_invalidates_its_entries_and_its_descendants_inputs(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    bodies: list[str] = []

    def build(source: Any) -> SchedulerRegistry:
        registry = SchedulerRegistry("invalidation")
        registry.register(source, "source", cache=Cache())

        @registry.task("double", cache=Cache())
        def double(n: Ref[int, F("source")]) -> int:
            bodies.append(f"double({n})")
            return n * 2

        return registry

    async def run_with(source: Any) -> dict[str, str | None]:
        store = SQLiteStore(db)  # a new process would open the file again: so does each run here
        try:
            report = await build(source).run(store=store)
            assert report.execution_state == "completed"
            return _cache_of(report)
        finally:
            store.close()

    assert await run_with(_source_v1) == {"source": "miss", "double": "miss"}
    assert await run_with(_source_v1) == {"source": "hit", "double": "hit"}
    # The body changed: the source runs again, and its new result is a new input downstream.
    assert await run_with(_source_v2) == {"source": "miss", "double": "miss"}
    assert await run_with(_source_v2) == {"source": "hit", "double": "hit"}
    # Another body with the same result: only the source runs again.
    assert await run_with(_source_v3) == {"source": "miss", "double": "hit"}
    assert bodies == ["double(10)", "double(20)"]


async def test_an_expired_entry_is_a_miss_and_is_replaced() -> None:
    bodies: list[int] = []
    registry = SchedulerRegistry("ttl")

    @registry.task("quote", cache=Cache(ttl=timedelta(milliseconds=50)))
    async def quote() -> int:
        bodies.append(1)
        return len(bodies)

    store = MemoryStore()
    await registry.run(store=store)
    created = store.cache_entries("quote")[0].created
    hit = await registry.run(store=store)
    time.sleep(0.12)  # past the ttl
    expired = await registry.run(store=store)

    assert _cache_of(hit) == {"quote": "hit"} or len(bodies) == 2  # a slow machine may pass the ttl already
    assert _cache_of(expired) == {"quote": "miss"} and expired.results == {"quote": len(bodies)}
    entries = store.cache_entries("quote")
    assert len(entries) == 1 and entries[0].created > created


# -- single flight --------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["async", "sync"])
async def test_two_concurrent_runs_compute_a_key_once(body: str) -> None:
    started = threading.Event()
    bodies: list[str] = []
    registry = SchedulerRegistry(f"flight-{body}")
    if body == "async":

        @registry.task("slow", cache=Cache())
        async def slow() -> str:
            bodies.append("slow")
            await asyncio.sleep(0.05)
            return "value"

    else:

        @registry.task("slow", cache=Cache())
        def slow_sync() -> str:
            bodies.append("slow")
            started.set()
            time.sleep(0.05)
            return "value"

    store = MemoryStore()
    first, second = await asyncio.gather(registry.run(store=store), registry.run(store=store))

    assert bodies == ["slow"]
    assert first.results == second.results == {"slow": "value"}
    assert sorted([_cache_of(first)["slow"], _cache_of(second)["slow"]]) == ["hit", "miss"]


async def test_two_stores_on_one_file_compute_a_key_once(tmp_path: Path) -> None:
    bodies: list[str] = []
    registry = SchedulerRegistry("flight-file")

    @registry.task("slow", cache=Cache())
    async def slow() -> str:
        bodies.append("slow")
        await asyncio.sleep(0.1)
        return "value"

    one, two = SQLiteStore(tmp_path / "runs.db"), SQLiteStore(tmp_path / "runs.db")
    try:
        first, second = await asyncio.gather(registry.run(store=one), registry.run(store=two))
    finally:
        one.close()
        two.close()

    assert bodies == ["slow"]  # the second store's run waited on the lease in the file
    assert first.results == second.results == {"slow": "value"}
    assert sorted([_cache_of(first)["slow"], _cache_of(second)["slow"]]) == ["hit", "miss"]


async def test_a_waiter_computes_when_the_first_run_fails() -> None:
    bodies: list[int] = []
    registry = SchedulerRegistry("flight-failure")

    @registry.task("shaky", cache=Cache())
    async def shaky() -> str:
        bodies.append(len(bodies))
        await asyncio.sleep(0.03)
        if len(bodies) == 1:
            raise RuntimeError("first computation fails")
        return "second time lucky"

    store = MemoryStore()
    first, second = await asyncio.gather(registry.run(store=store), registry.run(store=store))

    assert bodies == [0, 1]
    assert sorted([first.execution_state, second.execution_state]) == ["completed", "failed"]
    completed = first if first.execution_state == "completed" else second
    assert completed.results == {"shaky": "second time lucky"} and _cache_of(completed) == {"shaky": "miss"}


async def test_a_waiter_is_not_stuck_when_the_first_run_is_cancelled() -> None:
    registry = SchedulerRegistry("flight-cancel")
    entered = asyncio.Event()

    @registry.task("long", cache=Cache())
    async def long() -> str:
        if not entered.is_set():
            entered.set()
            await asyncio.sleep(30)
        return "done"

    store = MemoryStore()
    owner = asyncio.ensure_future(registry.run(store=store))
    await entered.wait()
    waiter = asyncio.ensure_future(registry.run(store=store))
    await asyncio.sleep(0.01)
    owner.cancel()
    report = await asyncio.wait_for(waiter, 5)

    assert report.results == {"long": "done"} and _cache_of(report) == {"long": "miss"}


# -- what is refused ------------------------------------------------------------------------


async def test_an_input_without_a_stable_form_fails_the_task_naming_the_parameter() -> None:
    registry = SchedulerRegistry("unkeyable")

    @registry.task("conn")
    async def conn() -> object:
        return threading.Lock()

    @registry.task("query", cache=Cache())
    async def query(conn: Ref[Any, F("conn")], limit: Ref[int, F("limit")]) -> int:
        return 1

    @registry.task("limit")
    async def limit() -> int:
        return 5

    with pytest.warns(UnstorableResultWarning):
        report = await registry.run(store=MemoryStore())

    error = report.exceptions["query"]
    assert isinstance(error, CacheKeyError) and isinstance(error, TypeError)
    assert (error.task_name, error.parameter) == ("query", "conn")
    assert "Task 'query'" in str(error) and "'conn'" in str(error) and "Cache(key=" in str(error)


async def test_a_key_function_makes_an_unkeyable_input_cacheable() -> None:
    bodies: list[str] = []
    registry = SchedulerRegistry("keyed-client")

    @registry.task("client")
    async def client() -> ApiClient:
        return ApiClient()

    @registry.task("fetch", cache=Cache(key=lambda client: client.region))
    async def fetch(client: Ref[ApiClient, F("client")]) -> str:
        bodies.append("fetch")
        return "rows"

    store = MemoryStore()
    with pytest.warns(UnstorableResultWarning):  # the client itself is not stored with the run
        await registry.run(store=store)
        report = await registry.run(store=store)

    assert bodies == ["fetch"] and _cache_of(report)["fetch"] == "hit"


async def test_a_key_function_that_raises_fails_the_task_with_a_cache_key_error() -> None:
    registry = SchedulerRegistry("bad-key")

    @registry.task("n")
    async def n() -> int:
        return 1

    @registry.task("use", cache=Cache(key=lambda n: n["missing"]))
    async def use(n: Ref[int, F("n")]) -> int:
        return n

    report = await registry.run(store=MemoryStore())

    error = report.exceptions["use"]
    assert isinstance(error, CacheKeyError) and error.parameter is None
    assert "key function" in str(error) and "Task 'use'" in str(error)


@pytest.mark.parametrize(
    ("annotation", "kind"),
    [
        (io.TextIOWrapper, "an open file"),
        (threading.Lock, "a lock"),
        (asyncio.Queue, "an asyncio object"),
        ("Iterator[int]", "an iterator"),
        ("io.BytesIO | None", "an open file"),
    ],
)
def test_inputs_typed_as_unkeyable_values_are_refused_at_build(annotation: Any, kind: str) -> None:
    from collections.abc import Iterator  # noqa: F401 - named by the string annotations

    if isinstance(annotation, str):
        annotation = eval(annotation)
    registry = SchedulerRegistry("refused")

    @registry.task("source")
    def source() -> Any:
        return None

    def reader(handle: Any) -> int:
        return 1

    reader.__annotations__ = {"handle": Ref[annotation, F("source")], "return": int}
    registry.register(reader, "reader", cache=Cache())

    with pytest.raises(TaskRegistrationError) as caught:
        registry.validate()

    message = str(caught.value.problems)
    assert (
        "Task 'reader'" in message and "'handle'" in message and kind in message and "Cache(key=" in message
    )


def test_an_unkeyable_input_type_is_accepted_with_a_key_function() -> None:
    registry = SchedulerRegistry("refused-keyed")

    @registry.task("source")
    def source() -> Any:
        return None

    @registry.task("reader", cache=Cache(key=lambda handle: "same"))
    def reader(handle: Ref[io.TextIOWrapper, F("source")]) -> int:
        return 1

    registry.validate()


async def test_a_cached_task_without_a_store_is_refused_at_run_start() -> None:
    registry = SchedulerRegistry("no-store")

    @registry.task("cached", cache=Cache())
    async def cached() -> int:
        return 1

    with pytest.raises(ConfigurationError, match=r"Task 'cached' has cache=Cache.*MemoryStore"):
        await registry.run()


def test_cache_arguments_are_checked_with_fix_it_messages() -> None:
    async def key(**_: Any) -> str:
        return ""

    with pytest.raises(ConfigurationError, match="ttl must be > 0"):
        Cache(ttl=-1)
    with pytest.raises(ConfigurationTypeError, match="seconds"):
        Cache(ttl="1h")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationTypeError, match="is async"):
        Cache(key=key)
    with pytest.raises(ConfigurationTypeError, match="str or an int"):
        Cache(version=True)
    with pytest.raises(TaskRegistrationError, match="Task 'x' cache must be a Cache"):
        SchedulerRegistry("bad-cache").register(lambda: 1, "x", cache=3600)  # type: ignore[arg-type]
    assert Cache(ttl=timedelta(hours=1)).ttl == 3600.0 and Cache().ttl is None


async def test_a_result_that_cannot_be_stored_is_not_cached_and_runs_again() -> None:
    bodies: list[int] = []
    registry = SchedulerRegistry("unstorable")

    @registry.task("lock", cache=Cache())
    async def lock() -> object:
        bodies.append(1)
        return threading.Lock()

    store = MemoryStore()
    with pytest.warns(UnstorableResultWarning) as warned:
        await registry.run(store=store)
        await registry.run(store=store)

    assert len(bodies) == 2
    assert any("The result of task 'lock' is not cached" in str(w.message) for w in warned)


# -- events, stored reports, resume ---------------------------------------------------------


async def test_hooks_see_a_miss_then_a_hit_and_a_hit_succeeds_with_attempt_zero() -> None:
    seen: list[tuple[str, str, int]] = []
    hook = fn_hook(
        on_task_start=lambda e: seen.append(("start", e.task_id, e.attempt)),
        on_task_cache_hit=lambda e: seen.append(("hit", e.task_id, e.attempt)),
        on_task_cache_miss=lambda e: seen.append(("miss", e.task_id, e.attempt)),
        on_task_success=lambda e: seen.append(("success", e.task_id, e.attempt)),
    )
    registry = SchedulerRegistry("events")

    @registry.task("cached", cache=Cache())
    async def cached() -> int:
        return 1

    store = MemoryStore()
    config = AstrumConfig(hooks=[hook])
    await registry.run(config=config, store=store)
    await registry.run(config=config, store=store)

    assert seen == [
        ("miss", "cached", 1),
        ("start", "cached", 1),
        ("success", "cached", 1),
        ("hit", "cached", 0),
        ("success", "cached", 0),
    ]


async def test_stream_yields_the_cache_events() -> None:
    registry = SchedulerRegistry("stream-cache")

    @registry.task("cached", cache=Cache())
    async def cached() -> int:
        return 1

    store = MemoryStore()
    await registry.run(store=store)
    kinds = [event.kind async for event in registry.stream(config=AstrumConfig(store=store))]

    assert kinds == ["run_start", "task_cache_hit", "task_success", "run_end"]


async def test_the_stored_report_keeps_hits_and_misses_and_the_hit_results(tmp_path: Path) -> None:
    registry = SchedulerRegistry("stored")

    @registry.task("a", cache=Cache())
    async def a() -> Order:
        return Order(1, ("x",))

    @registry.task("b")
    async def b(order: Ref[Order, F("a")]) -> int:
        return order.id

    with SQLiteStore(tmp_path / "runs.db") as store:
        first = await registry.run(store=store)
        second = await registry.run(store=store)
        stored_first, stored_second = store.report(first.run_id), store.report(second.run_id)
        results = store.results(second.run_id)

    assert _cache_of(stored_first) == {"a": "miss", "b": None}
    assert _cache_of(stored_second) == {"a": "hit", "b": None}
    assert _attempts_of(stored_second) == {"a": 0, "b": 1}
    assert results == {"a": Order(1, ("x",)), "b": 1}
    assert stored_second.to_dict()["task_statistics"][0]["cache"] == "hit"


async def test_a_run_with_cache_hits_can_be_resumed(tmp_path: Path) -> None:
    bodies: list[str] = []
    registry = SchedulerRegistry("resume-hits")
    fixed = {"value": False}

    @registry.task("a", cache=Cache())
    async def a() -> int:
        bodies.append("a")
        return 3

    @registry.task("b")
    async def b(n: Ref[int, F("a")]) -> int:
        bodies.append("b")
        if not fixed["value"]:
            raise ValueError("not yet")
        return n + 1

    with SQLiteStore(tmp_path / "runs.db") as store:
        await registry.run(store=store)
        failed = await registry.run(store=store)  # 'a' is a hit here
        fixed["value"] = True
        resumed = await registry.resume(failed.run_id, store=store)

    assert resumed.results == {"a": 3, "b": 4} and resumed.reused_tasks == ("a",)
    assert bodies == ["a", "b", "b", "b"]


async def test_the_printed_report_says_a_hit_was_served_from_the_cache() -> None:
    registry = SchedulerRegistry("cache_printed")

    @registry.task(cache=Cache())
    async def answer() -> int:
        return 42

    store = MemoryStore()
    first = await registry.run(store=store)
    second = await registry.run(store=store)

    assert "served from the cache" not in str(first)
    row = next(line for line in str(second).splitlines() if line.strip().startswith("answer"))
    assert "served from the cache" in row
