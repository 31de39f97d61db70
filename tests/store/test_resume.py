"""Resuming recorded runs: completed tasks are reused, the rest runs, changed graphs are refused."""

from __future__ import annotations

import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from _store_records import Invoice, Point

import astrum
from astrum import (
    AstrumConfig,
    F,
    MemoryStore,
    Ref,
    ResumeError,
    RunContext,
    SchedulerError,
    SchedulerRegistry,
    SQLiteStore,
    UnknownRunError,
    UnstorableResultWarning,
)


class Pipeline:
    """A registry whose task bodies count their calls; ``broken`` tasks raise.

    extract -> invoice (a pydantic model), extract -> shape (a tuple of a dataclass and a set),
    (invoice, shape) -> total -> publish; ``audit`` is independent.
    """

    def __init__(self, name: str = "pipeline", *, broken: tuple[str, ...] = ()) -> None:
        self.calls: Counter[str] = Counter()
        self.broken = set(broken)
        self.received: dict[str, Any] = {}
        self.registry = registry = SchedulerRegistry(name)

        @registry.task()
        async def extract() -> dict[str, Any]:
            self.called("extract")
            return {"customer": "ACME", "rows": [(1, 2), (3, 4)]}

        @registry.task()
        async def invoice(customer: Ref[str, F("extract", "customer")]) -> Invoice:
            self.called("invoice")
            return Invoice(number=7, customer=customer, issued="2024-03-01", lines=[("bolt", "0.25")])

        @registry.task()
        def shape(rows: Ref[list[tuple[int, int]], F("extract", "rows")]) -> tuple[Point, frozenset[int]]:
            self.called("shape")
            return Point(len(rows), 0.5, ("a",)), frozenset(x for row in rows for x in row)

        @registry.task()
        async def total(
            inv: Ref[Invoice, F("invoice")], pair: Ref[tuple[Point, frozenset[int]], F("shape")]
        ) -> int:
            self.called("total")
            self.received["total"] = (inv, pair)
            return inv.number + pair[0].x + sum(pair[1])

        @registry.task()
        async def publish(amount: Ref[int, F("total")]) -> str:
            self.called("publish")
            return f"published {amount}"

        @registry.task()
        async def audit() -> str:
            self.called("audit")
            return "audited"

    def called(self, name: str) -> None:
        self.calls[name] += 1
        if name in self.broken:
            raise RuntimeError(f"{name} is broken")


async def failed_run(store: Any, *, broken: tuple[str, ...] = ("total",)) -> tuple[Pipeline, str]:
    pipeline = Pipeline(broken=broken)
    report = await pipeline.registry.run(store=store)
    assert report.execution_state == "failed"
    return pipeline, report.run_id  # type: ignore[return-value]


async def test_resume_reuses_completed_tasks_and_runs_the_failed_one_and_its_descendants(store: Any) -> None:
    pipeline, run_id = await failed_run(store)
    assert pipeline.calls == {"extract": 1, "invoice": 1, "shape": 1, "total": 1, "audit": 1}

    pipeline.broken.clear()
    pipeline.calls.clear()
    report = await pipeline.registry.resume(run_id, store=store)

    assert report.execution_state == "completed"
    assert pipeline.calls == {"total": 1, "publish": 1}  # nothing that completed ran again
    assert report.run_id != run_id and report.resumed_from == run_id
    assert report.reused_tasks == ("extract", "invoice", "shape", "audit")
    statuses = {stat.task_name: stat.status for stat in report.task_statistics}
    assert len(report.task_statistics) == 6 and set(statuses.values()) == {"completed"}
    inv, (point, numbers) = pipeline.received["total"]  # stored results arrive as the first run sent them
    assert isinstance(inv, Invoice) and inv.customer == "ACME"
    assert isinstance(point, Point) and point == Point(2, 0.5, ("a",))
    assert isinstance(numbers, frozenset) and numbers == {1, 2, 3, 4}
    assert report.results["publish"] == "published 19"
    assert report.results["extract"] == {"customer": "ACME", "rows": [(1, 2), (3, 4)]}

    await store.flush()
    [newest, first] = store.runs()
    assert (newest.run_id, newest.resumed_from, newest.state) == (report.run_id, run_id, "completed")
    assert first.run_id == run_id
    stored = store.report(report.run_id)
    assert stored.resumed_from == run_id and stored.reused_tasks == report.reused_tasks
    assert stored.results == report.results


async def test_a_resumed_run_can_itself_be_resumed(store: Any) -> None:
    config = AstrumConfig(failure_policy="continue")
    pipeline = Pipeline(broken=("total", "audit"))
    first = await pipeline.registry.run(config=config, store=store)
    pipeline.broken = {"audit"}
    second = await pipeline.registry.resume(first.run_id, store=store, config=config)  # type: ignore[arg-type]
    assert second.execution_state == "failed"
    assert pipeline.calls == {"extract": 1, "invoice": 1, "shape": 1, "total": 2, "publish": 1, "audit": 2}
    pipeline.broken.clear()
    pipeline.calls.clear()

    third = await pipeline.registry.resume(second.run_id, store=store, config=config)  # type: ignore[arg-type]

    assert third.execution_state == "completed"
    assert pipeline.calls == {"audit": 1}
    assert third.resumed_from == second.run_id
    assert third.reused_tasks == ("extract", "invoice", "shape", "total", "publish")


async def test_from_tasks_reruns_those_tasks_and_their_descendants(store: Any) -> None:
    pipeline = Pipeline()
    first = await pipeline.registry.run(store=store)
    assert first.execution_state == "completed"
    pipeline.calls.clear()

    report = await pipeline.registry.resume(first.run_id, from_tasks=["invoice"], store=store)  # type: ignore[arg-type]

    assert pipeline.calls == {"invoice": 1, "total": 1, "publish": 1}
    assert report.reused_tasks == ("extract", "shape", "audit")


async def test_resuming_a_completed_run_reuses_every_task(store: Any) -> None:
    pipeline = Pipeline()
    first = await pipeline.registry.run(store=store)
    pipeline.calls.clear()

    report = await pipeline.registry.resume(first.run_id, store=store)  # type: ignore[arg-type]

    assert pipeline.calls == {}
    assert report.execution_state == "completed" and report.results == first.results


async def test_a_task_whose_result_was_not_stored_runs_again(store: Any) -> None:
    registry = SchedulerRegistry("unstorable")
    calls: Counter[str] = Counter()
    fail = [True]

    @registry.task()
    async def connect() -> threading.Lock:
        calls["connect"] += 1
        return threading.Lock()  # not storable

    @registry.task()
    async def use(lock: Ref[threading.Lock, F("connect")]) -> bool:
        calls["use"] += 1
        if fail[0]:
            raise RuntimeError("not yet")
        return isinstance(lock, type(threading.Lock()))

    with pytest.warns(UnstorableResultWarning, match="task 'connect'"):
        first = await registry.run(store=store)
    assert store.unstorable(first.run_id) and calls == {"connect": 1, "use": 1}
    fail[0] = False

    with pytest.warns(UnstorableResultWarning) as warned:
        report = await registry.resume(first.run_id, store=store)  # type: ignore[arg-type]
    messages = [str(w.message) for w in warned]
    assert any(
        re.search(r"Resuming run \w+: the result of task 'connect' was not stored.*runs again", m)
        for m in messages
    )

    assert calls == {"connect": 2, "use": 2}
    assert report.execution_state == "completed" and report.results["use"] is True
    assert report.reused_tasks == ()


async def test_a_changed_task_body_is_refused_naming_the_task(store: Any) -> None:
    _, run_id = await failed_run(store)
    changed = rebuilt(Pipeline().registry, replace={"shape": reshaped})
    changed.task("added_since")(lambda: None)  # a new task is no change: it simply runs

    with pytest.raises(ResumeError) as caught:
        await changed.resume(run_id, store=store)

    message = str(caught.value)
    assert "task 'shape': its code changed" in message
    assert "allow_changed=True" in message
    assert "invoice" not in message and "added_since" not in message
    assert isinstance(caught.value, SchedulerError) and isinstance(caught.value, ValueError)


async def test_a_missing_task_and_a_changed_edge_are_refused_naming_what_changed(store: Any) -> None:
    _, run_id = await failed_run(store)
    changed = rebuilt(Pipeline().registry, replace={"invoice": invoice_by_rows}, drop=("audit",))

    with pytest.raises(ResumeError) as caught:
        await changed.resume(run_id, store=store)

    message = str(caught.value)
    assert "task 'audit' is no longer registered in 'pipeline'" in message
    assert "task 'invoice': its code changed" in message
    assert "its parameter 'rows' now receives F('extract', 'rows')" in message
    assert "its parameter 'customer' no longer receives F('extract', 'customer')" in message


async def test_a_changed_locator_alone_is_refused(store: Any) -> None:
    registry = SchedulerRegistry("locators")

    @registry.task()
    def source() -> dict[str, int]:
        return {"a": 1, "b": 2}

    @registry.task()
    def sink(value: Ref[int, F("source", "a")]) -> int:
        raise RuntimeError("fails the first run")

    first = await registry.run(store=store)
    again = SchedulerRegistry("locators")
    again.task("source")(source)
    sink_code = registry.get_task("sink").function
    sink_code.__annotations__ = {"value": Ref[int, F("source", "b")], "return": int}  # same code, new locator
    again.task("sink")(sink_code)

    with pytest.raises(ResumeError) as caught:
        await again.resume(first.run_id, store=store)  # type: ignore[arg-type]

    message = str(caught.value)
    assert (
        "task 'sink': its parameter 'value' receives F('source', 'b'), it received F('source', 'a')"
        in message
    )
    assert "code changed" not in message and "task 'source'" not in message


async def test_allow_changed_reruns_the_changed_tasks_and_their_descendants(store: Any) -> None:
    pipeline, run_id = await failed_run(store)
    pipeline.broken.clear()
    pipeline.registry = rebuilt(pipeline.registry, replace={"shape": reshaped})
    pipeline.calls.clear()

    report = await pipeline.registry.resume(run_id, store=store, allow_changed=True)

    assert pipeline.calls == {"total": 1, "publish": 1}  # shape's new body does not count calls
    assert "shape" not in report.reused_tasks
    assert report.reused_tasks == ("extract", "invoice", "audit")
    assert report.results["shape"] == (Point(99, 0.0), frozenset())
    assert report.execution_state == "completed"


async def test_unknown_run_ids_and_unknown_from_tasks_are_clear_errors(store: Any) -> None:
    pipeline, run_id = await failed_run(store)

    with pytest.raises(UnknownRunError, match=r"No run with id 'nope'.*astrum runs"):
        await pipeline.registry.resume("nope", store=store)
    with pytest.raises(ResumeError) as caught:
        await pipeline.registry.resume(run_id, from_tasks=["invoice", "invoic", "ghost"], store=store)
    message = str(caught.value)
    assert "['invoic', 'ghost']" in message
    assert "Its tasks: ['extract', 'invoice', 'shape', 'total', 'publish', 'audit']" in message


async def test_resume_without_a_store_says_where_to_give_one() -> None:
    with pytest.raises(ResumeError, match=r"needs the run store.*store=SQLiteStore\(path\)"):
        await astrum.resume("some-run")


async def test_module_level_resume_uses_the_namespace_the_run_was_recorded_under(tmp_path: Path) -> None:
    namespace = "resume_tests"
    astrum.clear_registry(namespace)
    calls: Counter[str] = Counter()
    fail = [True]
    try:

        @astrum.task(namespace=namespace)
        def first() -> int:
            calls["first"] += 1
            return 1

        @astrum.task(namespace=namespace)
        def second(ctx: RunContext, value: Ref[int, F("first")]) -> int:
            calls["second"] += 1
            if fail[0]:
                raise RuntimeError("later")
            return value + len(ctx.metadata)

        with SQLiteStore(tmp_path / "runs.db") as store:
            config = AstrumConfig(store=store)
            failed = await astrum.run(namespace=namespace, config=config)
            fail[0] = False
            report = await astrum.resume(failed.run_id, config=config, context=RunContext(metadata={"k": 1}))  # type: ignore[arg-type]
            assert store.run(report.run_id).metadata == {"k": 1}  # type: ignore[arg-type]
    finally:
        astrum.clear_registry(namespace)
    assert calls == {"first": 1, "second": 2}
    assert report.results == {"first": 1, "second": 2}


async def test_a_run_that_is_still_running_is_not_resumed() -> None:
    store = MemoryStore()
    registry = SchedulerRegistry("busy")
    errors: list[BaseException] = []

    @registry.task()
    async def itself(ctx: RunContext) -> None:
        try:
            await registry.resume(ctx.run_id, store=store)  # type: ignore[arg-type]
        except ResumeError as exc:
            errors.append(exc)

    await registry.run(store=store)
    assert len(errors) == 1 and "is still running" in str(errors[0])


# -- helpers ----------------------------------------------------------------------------------


def reshaped(rows: Ref[list[tuple[int, int]], F("extract", "rows")]) -> tuple[Point, frozenset[int]]:
    return Point(99, 0.0), frozenset()


async def invoice_by_rows(rows: Ref[list[Any], F("extract", "rows")]) -> Invoice:
    return Invoice(number=len(rows), customer="?", issued="2024-03-01", lines=[])


def rebuilt(
    registry: SchedulerRegistry, *, replace: dict[str, Any] | None = None, drop: tuple[str, ...] = ()
) -> SchedulerRegistry:
    """A registry like ``registry`` (same name, ids, dependencies) with some functions replaced or dropped."""
    replace = replace or {}
    copy = SchedulerRegistry(registry.name)
    for tid, record in registry.get_all_tasks().items():
        if tid not in drop:
            copy.register(replace.get(tid, record.function), tid, depends_on=record.depends_on)
    return copy
