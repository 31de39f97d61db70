"""Run lifecycle (issue 6): RunContext, hooks and events, stream(), named pools, override(),
run_many(), validate() and list_tasks().

Most tests use their own ``SchedulerRegistry``; the few that go through the
module-level functions use a private namespace and clear it afterwards.
"""

import asyncio
import importlib.util
import logging
import pickle
import re
import subprocess
import sys
import threading
import time
from contextlib import aclosing
from dataclasses import FrozenInstanceError, dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import astrum
from astrum import (
    AstrumConfig,
    DynamicScheduler,
    ExecutionReport,
    F,
    Ref,
    Retry,
    RunContext,
    RunEvent,
    RunHook,
    SchedulerRegistry,
    TaskEvent,
    TaskOrder,
    TaskRegistrationError,
    fn_hook,
)

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "lifecycle_tests"


@pytest.fixture
def namespace():
    astrum.clear_registry(NAMESPACE)
    yield NAMESPACE
    astrum.clear_registry(NAMESPACE)


class Recorder(RunHook):
    """Records every event it is told about, in order."""

    def __init__(self) -> None:
        self.events: list[RunEvent | TaskEvent] = []

    def _record(self, event):
        self.events.append(event)

    on_run_start = on_run_end = on_task_start = on_task_success = _record
    on_task_failure = on_task_retry = on_task_skip = on_task_cancel = _record

    def kinds(self, task_id=None):
        return [e.kind for e in self.events if task_id is None or getattr(e, "task_id", None) == task_id]


@dataclass
class Deps:
    source_path: str
    greeting: str = "hello"


def stat(report: ExecutionReport, name: str):
    (found,) = [s for s in report.task_statistics if s.task_name == name]
    return found


# -- RunContext -------------------------------------------------------------------------------


async def test_a_parameter_annotated_run_context_receives_the_runs_deps_and_metadata():
    reg = SchedulerRegistry("ctx")

    @reg.task()
    def plain(ctx: RunContext) -> tuple:
        return ctx.deps.source_path, ctx.metadata["user"]

    @reg.task()
    async def generic(context: RunContext[Deps]) -> str:
        return context.deps.greeting

    @reg.task()
    def keyword_only(*, c: RunContext[Deps]) -> str:
        return c.metadata["user"]

    ctx = RunContext(Deps("/data"), metadata={"user": "ada"})
    report = await reg.run(context=ctx)

    assert report.execution_state == "completed", report.error_summary
    assert report.task_return_set == {"plain": ("/data", "ada"), "generic": "hello", "keyword_only": "ada"}


async def test_module_level_run_passes_the_context(namespace):
    @astrum.task(namespace=namespace)
    def who(ctx: RunContext[Deps]) -> str:
        return f"{ctx.greeting} {ctx.metadata['user']}"

    report = await astrum.run(namespace=namespace, context=RunContext(Deps("/x"), {"user": "bob"}))

    assert report.task_return_set == {"who": "hello bob"}


async def test_without_context_a_task_asking_for_one_gets_an_empty_one_with_the_runs_identity():
    reg = SchedulerRegistry("ctx")

    @reg.task()
    def bare() -> int:
        return 1

    @reg.task()
    def asks(ctx: RunContext) -> tuple:
        return ctx.deps, ctx.metadata, ctx.task_id, ctx.run_id is not None

    report = await reg.run()

    assert report.task_return_set == {"bare": 1, "asks": (None, {}, "asks", True)}


async def test_run_id_is_shared_by_the_tasks_of_a_run_and_differs_between_runs():
    reg = SchedulerRegistry("ctx")
    seen: list[tuple[str, str]] = []

    def make(name):
        def fn(ctx: RunContext) -> None:
            seen.append((ctx.run_id, ctx.task_id))

        return fn

    for name in ("a", "b", "c"):
        reg.register(make(name), name)
    recorder = Recorder()
    await reg.run(config=AstrumConfig(hooks=[recorder]))
    first_run = {run_id for run_id, _ in seen}
    assert sorted(task_id for _, task_id in seen) == ["a", "b", "c"]
    assert len(first_run) == 1
    assert first_run == {recorder.events[0].run_id}  # the events carry the same id

    seen.clear()
    await reg.run()
    second_run = {run_id for run_id, _ in seen}
    assert len(second_run) == 1
    assert second_run != first_run


async def test_the_context_passed_in_is_not_mutated_by_the_run():
    reg = SchedulerRegistry("ctx")

    @reg.task()
    def t(ctx: RunContext) -> str:
        return ctx.task_id

    ctx = RunContext(Deps("/p"))
    await reg.run(context=ctx)

    assert ctx.run_id is None
    assert ctx.task_id is None


async def test_attempt_counts_up_across_retries():
    reg = SchedulerRegistry("ctx")
    attempts: list[int] = []

    @reg.task(retry=Retry(3, delay=0.001))
    async def flaky(ctx: RunContext) -> int:
        attempts.append(ctx.attempt)
        if ctx.attempt < 3:
            raise ValueError(f"attempt {ctx.attempt}")
        return ctx.attempt

    @reg.task(retry=2)
    def sync_flaky(ctx: RunContext) -> int:
        if ctx.attempt < 2:
            raise ValueError("once")
        return ctx.attempt

    @reg.task()
    def steady(ctx: RunContext) -> int:
        return ctx.attempt

    report = await reg.run()

    assert attempts == [1, 2, 3]
    assert report.task_return_set == {"flaky": 3, "sync_flaky": 2, "steady": 1}


async def test_time_remaining_is_none_without_a_deadline():
    reg = SchedulerRegistry("ctx")

    @reg.task()
    async def t(ctx: RunContext) -> object:
        return ctx.time_remaining()

    report = await reg.run()

    assert report.task_return_set["t"] is None
    assert RunContext().time_remaining() is None


async def test_time_remaining_counts_down_to_the_run_deadline():
    reg = SchedulerRegistry("ctx")

    @reg.task()
    async def t(ctx: RunContext) -> tuple[float, float]:
        before = ctx.time_remaining()
        await asyncio.sleep(0.1)
        return before, ctx.time_remaining()

    report = await reg.run(config=AstrumConfig(deadline=5))

    before, after = report.task_return_set["t"]
    assert 4.5 < before <= 5
    assert 0.05 < before - after < 1.0


async def test_raise_if_cancelled_stops_a_sync_loop_once_the_run_is_stopping():
    reg = SchedulerRegistry("ctx")
    outcome: dict[str, object] = {}

    @reg.task()
    def crunch(ctx: RunContext) -> int:
        started = time.perf_counter()
        try:
            while time.perf_counter() - started < 5:
                ctx.raise_if_cancelled()
                time.sleep(0.005)
        except asyncio.CancelledError as exc:
            outcome["raised_after"] = time.perf_counter() - started
            outcome["message"] = str(exc)
            raise
        return 0

    @reg.task()
    async def fail_soon() -> None:
        await asyncio.sleep(0.1)
        raise RuntimeError("boom")

    started = time.perf_counter()
    report = await reg.run()

    assert time.perf_counter() - started < 2  # not the 5 s of the loop
    assert report.execution_state == "failed"
    assert stat(report, "crunch").status == "cancelled"
    assert 0.05 < outcome["raised_after"] < 2
    assert "stopping" in outcome["message"]


def test_raise_if_cancelled_does_nothing_outside_a_stopping_run():
    ctx = RunContext(Deps("/p"))
    ctx.raise_if_cancelled()  # no run: never stopping

    view = ctx.for_task("run", "task", 1, None, lambda: False)
    view.raise_if_cancelled()

    stopping = ctx.for_task("run", "task", 1, None, lambda: True)
    with pytest.raises(asyncio.CancelledError, match="run run is stopping"):
        stopping.raise_if_cancelled()


def test_attribute_access_falls_through_to_deps():
    ctx = RunContext(Deps("/data/in.csv"), metadata={"k": 1})

    assert ctx.source_path == "/data/in.csv"
    assert ctx.greeting == "hello"
    assert ctx.metadata == {"k": 1}  # own attributes win


def test_an_unknown_attribute_raises_a_clear_attribute_error():
    ctx = RunContext(Deps("/p"))

    with pytest.raises(
        AttributeError, match=r"RunContext has no attribute 'missing', and neither do its deps \(Deps\)"
    ):
        ctx.missing
    assert not hasattr(ctx, "missing")
    assert not hasattr(RunContext(), "anything")  # deps=None


def test_a_task_view_pickles_without_the_runs_live_callbacks():
    view = RunContext(Deps("/p"), {"k": 1}).for_task("r1", "t1", 2, lambda: 3.0, lambda: True)

    copy = pickle.loads(pickle.dumps(view))

    assert (copy.deps, copy.metadata, copy.run_id, copy.task_id, copy.attempt) == (
        Deps("/p"),
        {"k": 1},
        "r1",
        "t1",
        2,
    )
    assert copy.time_remaining() is None
    copy.raise_if_cancelled()  # no callback: never stopping
    assert view.time_remaining() == 3.0


async def test_build_scheduler_context_is_the_default_and_an_execute_context_wins(namespace):
    reg = SchedulerRegistry("ctx")

    @reg.task()
    def t(ctx: RunContext) -> str:
        return ctx.metadata["who"]

    scheduler = reg.build_scheduler(context=RunContext(metadata={"who": "default"}))
    assert (await scheduler.execute()).task_return_set == {"t": "default"}
    report = await scheduler.execute(context=RunContext(metadata={"who": "explicit"}))
    assert report.task_return_set == {"t": "explicit"}

    astrum.task(namespace=namespace)(t)
    module_level = astrum.build_scheduler(namespace=namespace, context=RunContext(metadata={"who": "module"}))
    assert (await module_level.execute()).task_return_set == {"t": "module"}


FUTURE_MODULE = """
from __future__ import annotations

from dataclasses import dataclass

import astrum
from astrum import F, Ref, RunContext, SchedulerRegistry


@dataclass
class Deps:
    greeting: str


registry = SchedulerRegistry("future_annotations")


@registry.task()
def hello(ctx: RunContext[Deps]) -> str:
    return f"{ctx.greeting} {ctx.metadata['name']} from {ctx.task_id}"


@registry.task()
async def shout(text: Ref[str, F("hello")], c: astrum.RunContext) -> str:
    return f"{text.upper()} via {c.task_id}"


@registry.task()
def bare(ctx: RunContext) -> str:
    return ctx.run_id
"""


def test_run_context_works_with_future_annotations(tmp_path, monkeypatch):
    path = tmp_path / "future_ctx_module.py"
    path.write_text(FUTURE_MODULE)
    spec = importlib.util.spec_from_file_location("future_ctx_module", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "future_ctx_module", module)
    spec.loader.exec_module(module)
    assert module.hello.__annotations__["ctx"] == "RunContext[Deps]"  # really a string annotation

    module.registry.validate()
    report = asyncio.run(module.registry.run(context=RunContext(module.Deps("hi"), {"name": "ada"})))

    assert report.execution_state == "completed", report.error_summary
    values = report.task_return_set
    assert values["hello"] == "hi ada from hello"
    assert values["shout"] == "HI ADA FROM HELLO via shout"
    assert isinstance(values["bare"], str)
    assert len(values["bare"]) > 0


OPTIONAL_CONTEXT = """
from astrum import RunContext, SchedulerRegistry

registry = SchedulerRegistry("optional_ctx")


@registry.task()
def generic(ctx: RunContext[dict] | None = None) -> bool:
    return ctx is not None


@registry.task()
def bare(ctx: RunContext | None = None) -> bool:
    return ctx is not None
"""


def test_an_optional_run_context_parameter_is_treated_the_same_with_and_without_future_annotations(
    tmp_path, monkeypatch
):
    results = {}
    for style, header in (("eager", ""), ("future", "from __future__ import annotations\n")):
        name = f"optional_ctx_{style}"
        path = tmp_path / f"{name}.py"
        path.write_text(header + OPTIONAL_CONTEXT)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, module)
        spec.loader.exec_module(module)
        results[style] = asyncio.run(module.registry.run()).task_return_set

    assert results["future"] == results["eager"]


# -- hooks and events -------------------------------------------------------------------------


async def test_hooks_hear_every_kind_of_event_with_its_fields():
    reg = SchedulerRegistry("hooks")
    calls = {"flaky": 0}

    @reg.task()
    async def ok() -> int:
        return 1

    @reg.task(depends_on=["ok"], retry=Retry(1, delay=0.01, jitter=0))
    async def flaky() -> int:
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise ValueError("first try")
        return 2

    @reg.task(depends_on=["flaky"])
    async def broken() -> None:
        raise RuntimeError("boom")

    @reg.task(depends_on=["broken"])
    def never() -> None:
        pass

    @reg.task()
    async def slow() -> None:
        await asyncio.sleep(5)

    recorder = Recorder()
    report = await reg.run(config=AstrumConfig(hooks=[recorder]))

    events = recorder.events
    assert events[0].kind == "run_start"
    assert events[0].total_tasks == 5
    assert events[-1].kind == "run_end"
    assert events[-1].report is report
    assert {e.run_id for e in events} == {events[0].run_id}
    by_kind = {}
    for event in events:
        by_kind.setdefault(event.kind, []).append(event)

    success = next(e for e in by_kind["task_success"] if e.task_id == "ok")
    assert success.attempt == 1
    assert success.start_time <= success.end_time <= success.time
    (retry,) = by_kind["task_retry"]
    assert (retry.task_id, retry.attempt) == ("flaky", 1)
    assert isinstance(retry.error, ValueError)
    assert retry.delay == 0.01
    assert [e.attempt for e in by_kind["task_start"] if e.task_id == "flaky"] == [1, 2]
    flaky_success = next(e for e in by_kind["task_success"] if e.task_id == "flaky")
    assert flaky_success.attempt == 2
    (failure,) = by_kind["task_failure"]
    assert failure.task_id == "broken"
    assert str(failure.error) == "boom"
    (skip,) = by_kind["task_skip"]
    assert (skip.task_id, skip.caused_by, skip.start_time) == ("never", "broken", None)
    (cancel,) = by_kind["task_cancel"]
    assert cancel.task_id == "slow"
    assert cancel.start_time is not None
    assert cancel.caused_by == "broken"
    assert report.execution_state == "failed"


async def test_events_are_frozen_dataclasses():
    recorder = Recorder()
    reg = SchedulerRegistry("hooks")
    reg.register(lambda: 1, "one")
    await reg.run(config=AstrumConfig(hooks=[recorder]))

    for event in recorder.events:
        with pytest.raises(FrozenInstanceError):
            event.kind = "changed"


async def test_skip_events_name_the_failed_task_with_failure_policy_continue():
    reg = SchedulerRegistry("hooks")

    @reg.task()
    def bad() -> int:
        raise ValueError("no")

    @reg.task(depends_on=["bad"])
    def child() -> None:
        pass

    @reg.task(depends_on=["child"])
    def grandchild() -> None:
        pass

    @reg.task()
    def independent() -> int:
        return 3

    recorder = Recorder()
    report = await reg.run(config=AstrumConfig(hooks=[recorder], failure_policy="continue"))

    skips = {e.task_id: e.caused_by for e in recorder.events if e.kind == "task_skip"}
    assert skips == {"child": "bad", "grandchild": "bad"}
    assert recorder.kinds("independent") == ["task_start", "task_success"]
    assert report.task_return_set == {"independent": 3}


async def test_a_raising_hook_is_logged_on_the_astrum_logger_and_the_run_still_completes(caplog):
    reg = SchedulerRegistry("hooks")

    @reg.task()
    async def a() -> int:
        return 1

    @reg.task(depends_on=["a"])
    def b() -> int:
        return 2

    class Broken(RunHook):
        def on_task_start(self, event):
            raise ZeroDivisionError("hook bug")

        async def on_run_end(self, event):
            raise RuntimeError("async hook bug")

    with caplog.at_level(logging.ERROR, logger="astrum"):
        report = await reg.run(config=AstrumConfig(hooks=[Broken()]))

    assert report.execution_state == "completed"
    assert report.task_return_set == {"a": 1, "b": 2}
    records = [r for r in caplog.records if r.name == "astrum" and r.levelno == logging.ERROR]
    assert len(records) == 3  # two task starts, one run end
    assert "Broken.on_task_start" in records[0].getMessage()
    assert records[0].exc_info[0] is ZeroDivisionError
    assert "Broken.on_run_end" in records[-1].getMessage()
    assert records[-1].exc_info[0] is RuntimeError


async def test_a_raising_hook_does_not_keep_the_next_hook_from_the_event(caplog):
    reg = SchedulerRegistry("hooks")
    reg.register(lambda: 1, "one")
    recorder = Recorder()
    broken = fn_hook(on_task_start=lambda e: 1 / 0, on_run_start=lambda e: 1 / 0)

    with caplog.at_level(logging.ERROR, logger="astrum"):
        await reg.run(config=AstrumConfig(hooks=[broken, recorder]))

    assert recorder.kinds() == ["run_start", "task_start", "task_success", "run_end"]
    assert len([r for r in caplog.records if r.name == "astrum"]) == 2


async def test_a_slow_async_hook_does_not_delay_task_starts():
    reg = SchedulerRegistry("hooks")
    started: dict[str, float] = {}

    def make(name):
        async def fn() -> None:
            started[name] = time.perf_counter()

        return fn

    previous = None
    for name in ("a", "b", "c", "d"):
        reg.register(make(name), name, depends_on=[previous] if previous else None)
        previous = name

    heard: list[str] = []

    class Slow(RunHook):
        async def on_task_start(self, event):
            await asyncio.sleep(0.1)
            heard.append(event.task_id)

    begin = time.perf_counter()
    report = await reg.run(config=AstrumConfig(hooks=[Slow()]))
    total = time.perf_counter() - begin

    assert report.execution_state == "completed"
    # With the hook in the way each start would wait 0.1 s: 0.3 s from a to d.
    assert started["d"] - started["a"] < 0.1
    # The run still returns only once every hook has seen every event.
    assert heard == ["a", "b", "c", "d"]
    assert total >= 0.35


async def test_sync_and_async_hook_methods_both_work_and_fn_hook_builds_one_from_callables():
    reg = SchedulerRegistry("hooks")
    reg.register(lambda: 1, "one")
    seen: list[str] = []

    async def on_run_end(event):
        await asyncio.sleep(0)
        seen.append(f"end:{event.report.execution_state}")

    hook = fn_hook(on_task_success=lambda e: seen.append(f"ok:{e.task_id}"), on_run_end=on_run_end)
    assert isinstance(hook, RunHook)

    await reg.run(config=AstrumConfig(hooks=[hook]))

    assert seen == ["ok:one", "end:completed"]


def test_fn_hook_rejects_unknown_names_and_non_callables():
    with pytest.raises(TypeError, match=r"unknown hook names \['on_task_done'\]"):
        fn_hook(on_task_done=print)
    with pytest.raises(TypeError, match=r"on_run_end.*must be callable"):
        fn_hook(on_run_end="print")


def test_a_hook_method_left_alone_does_nothing():
    hook = RunHook()
    event = TaskEvent("task_start", "r", "t", 1, 0.0)
    for method in ("on_task_start", "on_task_success", "on_task_failure", "on_task_retry"):
        assert getattr(hook, method)(event) is None
    assert hook.on_run_start(RunEvent("run_start", "r", 0.0)) is None


# -- causal order (hypothesis) ----------------------------------------------------------------


@st.composite
def random_dags(draw):
    n = draw(st.integers(1, 8))
    parents = [sorted(draw(st.sets(st.integers(0, i - 1), max_size=3))) if i else [] for i in range(n)]
    kinds = draw(
        st.lists(st.sampled_from(["async", "sleepy", "flaky", "sync", "blocking"]), min_size=n, max_size=n)
    )
    failing = draw(st.sets(st.integers(0, n - 1), max_size=1))
    policy = draw(st.sampled_from(["cancel", "continue"]))
    return parents, kinds, failing, policy


def make_task(kind, fails):
    """A task of the given kind; ``flaky`` fails its first attempt (and is registered with a retry)."""
    attempts = {"n": 0}

    if kind in ("sync", "blocking"):

        def fn() -> None:
            if kind == "blocking":
                time.sleep(0.002)
            if fails:
                raise ValueError("planned")

        return fn

    async def afn() -> None:
        attempts["n"] += 1
        if kind == "sleepy":
            await asyncio.sleep(0.002)
        if fails or (kind == "flaky" and attempts["n"] == 1):
            raise ValueError("planned")

    return afn


TERMINAL = {
    "task_success": "completed",
    "task_failure": "failed",
    "task_skip": "skipped",
    "task_cancel": "cancelled",
}


async def collect(reg, policy):
    recorder = Recorder()
    streamed = [e async for e in reg.stream(config=AstrumConfig(hooks=[recorder], failure_policy=policy))]
    return recorder.events, streamed


@settings(max_examples=100, deadline=None)
@given(random_dags())
def test_the_events_of_a_random_dag_are_causally_ordered(dag):
    parents, kinds, failing, policy = dag
    reg = SchedulerRegistry("dag")
    for i, (kind, deps) in enumerate(zip(kinds, parents)):
        reg.register(
            make_task(kind, i in failing),
            f"t{i}",
            depends_on=[f"t{p}" for p in deps],
            retry=1 if kind == "flaky" else 0,
        )

    heard, streamed = asyncio.run(collect(reg, policy))

    assert streamed == heard  # hooks and the stream see the same sequence
    events = streamed
    assert events[0].kind == "run_start"
    assert events[-1].kind == "run_end"
    assert [e.kind for e in events].count("run_start") == 1
    assert [e.kind for e in events].count("run_end") == 1
    report = events[-1].report
    assert isinstance(report, ExecutionReport)
    assert {e.run_id for e in events} == {events[0].run_id}

    per_task: dict[str, list[str]] = {}
    first_start: dict[str, int] = {}
    end_at: dict[str, int] = {}
    for position, event in enumerate(events[1:-1], start=1):
        assert isinstance(event, TaskEvent)
        assert event.task_id not in end_at, f"an event for {event.task_id} after its end"
        per_task.setdefault(event.task_id, []).append(event.kind)
        if event.kind == "task_start":
            first_start.setdefault(event.task_id, position)
        elif event.kind != "task_retry":
            end_at[event.task_id] = position

    statuses = {s.task_name: s.status for s in report.task_statistics}
    assert set(end_at) == set(statuses) == {f"t{i}" for i in range(len(kinds))}
    for task_id, sequence in per_task.items():
        # skip | cancel | start (retry start)* end: every start is followed by its own end or retry;
        # a task cancelled while it was ready but not yet started has no start.
        assert TERMINAL[sequence[-1]] == statuses[task_id]
        if sequence in (["task_skip"], ["task_cancel"]):
            continue
        assert sequence[0] == "task_start", sequence
        assert sequence[-1] in ("task_success", "task_failure", "task_cancel"), sequence
        middle = sequence[1:-1]
        assert middle == ["task_retry", "task_start"] * (len(middle) // 2), sequence
    for i, deps in enumerate(parents):
        child = f"t{i}"
        if child not in first_start:
            continue
        for p in deps:
            parent = f"t{p}"
            assert per_task[parent][-1] == "task_success"
            assert end_at[parent] < first_start[child]


# -- stream -----------------------------------------------------------------------------------


async def test_stream_yields_run_start_first_and_run_end_last_with_the_report():
    reg = SchedulerRegistry("stream")

    @reg.task()
    async def fetch() -> int:
        return 20

    @reg.task()
    def double(x: Ref[int, F("fetch")]) -> int:
        return x * 2

    events = [e async for e in reg.stream()]

    assert [(e.kind, getattr(e, "task_id", None)) for e in events] == [
        ("run_start", None),
        ("task_start", "fetch"),
        ("task_success", "fetch"),
        ("task_start", "double"),
        ("task_success", "double"),
        ("run_end", None),
    ]
    report = events[-1].report
    assert report.execution_state == "completed"
    assert report.task_return_set == {"fetch": 20, "double": 40}


async def test_module_level_stream_runs_the_namespace_with_targets_and_context(namespace):
    @astrum.task(namespace=namespace)
    def greet(ctx: RunContext[Deps]) -> str:
        return ctx.greeting

    @astrum.task(namespace=namespace)
    def unrelated() -> None:
        raise AssertionError("not a target")

    events = [
        e async for e in astrum.stream(["greet"], namespace=namespace, context=RunContext(Deps("/p", "hey")))
    ]

    assert events[-1].kind == "run_end"
    assert events[-1].report.task_return_set == {"greet": "hey"}
    assert {e.task_id for e in events if isinstance(e, TaskEvent)} == {"greet"}


async def test_the_stream_of_a_failing_run_ends_with_the_failed_report():
    reg = SchedulerRegistry("stream")

    @reg.task()
    def bad() -> None:
        raise ValueError("nope")

    @reg.task(depends_on=["bad"])
    def after() -> None:
        pass

    events = [e async for e in reg.stream()]

    assert [e.kind for e in events] == ["run_start", "task_start", "task_failure", "task_skip", "run_end"]
    assert events[-1].report.execution_state == "failed"
    assert isinstance(events[2].error, ValueError)


async def test_the_stream_never_makes_the_run_wait_for_a_slow_consumer():
    reg = SchedulerRegistry("stream")
    for i in range(20):
        reg.register(lambda: None, f"t{i}", depends_on=[f"t{i - 1}"] if i else None)

    events = []
    resumed = None
    async for event in reg.stream():
        events.append(event)
        if event.kind == "run_start":
            await asyncio.sleep(0.2)
            resumed = time.time()

    report = events[-1].report
    assert report.total_end_time <= resumed  # the run ended while the consumer slept
    assert len(events) == 2 + 2 * 20
    assert len(events) <= 2 + 3 * 20 + 20  # the documented bound


async def test_breaking_out_of_the_stream_cancels_the_run_cleanly():
    reg = SchedulerRegistry("stream")
    cancelled = []

    @reg.task()
    async def quick() -> int:
        return 1

    @reg.task()
    async def long() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append("long")
            raise

    begin = time.perf_counter()
    async for event in reg.stream():
        if event.kind == "task_success":
            break

    # The abandoned generator is closed by the loop's async-generator finaliser, shortly after.
    me = asyncio.current_task()
    while asyncio.all_tasks() != {me} and time.perf_counter() - begin < 3:
        await asyncio.sleep(0.001)
    assert asyncio.all_tasks() == {me}
    assert cancelled == ["long"]
    assert time.perf_counter() - begin < 3


async def test_closing_the_stream_with_aclosing_has_cancelled_the_run_when_the_block_ends():
    reg = SchedulerRegistry("stream")
    cancelled = []

    @reg.task()
    async def quick() -> int:
        return 1

    @reg.task()
    async def long() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append("long")
            raise

    async with aclosing(reg.stream()) as events:
        async for event in events:
            if event.kind == "task_success":
                break

    assert cancelled == ["long"]
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_a_stream_also_feeds_the_configured_hooks():
    reg = SchedulerRegistry("stream")
    reg.register(lambda: 1, "one")
    recorder = Recorder()

    streamed = [e async for e in reg.stream(config=AstrumConfig(hooks=[recorder]))]

    assert streamed == recorder.events
    assert len(streamed) == 4


# -- pools ------------------------------------------------------------------------------------


async def test_an_llm_pool_of_two_bounds_its_tasks_while_unpooled_tasks_run_freely():
    reg = SchedulerRegistry("pools")
    running = {"llm": 0, "free": 0}
    peak = {"llm": 0, "free": 0}
    starts: dict[str, float] = {}

    def make(group, name):
        async def fn() -> None:
            starts[name] = time.perf_counter()
            running[group] += 1
            peak[group] = max(peak[group], running[group])
            await asyncio.sleep(0.1)
            running[group] -= 1

        return fn

    for i in range(10):
        reg.register(make("llm", f"llm_{i}"), f"llm_{i}", pool="llm")
        reg.register(make("free", f"free_{i}"), f"free_{i}")

    begin = time.perf_counter()
    report = await reg.run(config=AstrumConfig(pools={"llm": 2}))
    elapsed = time.perf_counter() - begin

    assert report.execution_state == "completed"
    assert peak == {"llm": 2, "free": 10}
    free_starts = [starts[f"free_{i}"] for i in range(10)]
    assert max(free_starts) - min(free_starts) < 0.05  # all ten unpooled tasks start at once
    assert 0.45 <= elapsed < 1.0  # five waves of two 0.1 s llm tasks
    llm = sorted((stat(report, f"llm_{i}") for i in range(10)), key=lambda s: s.start_time)
    assert all(s.pool == "llm" for s in llm)
    assert [s.pool_queued_duration for s in llm[:2]] == [0.0, 0.0]
    assert all(s.pool_queued_duration > 0.05 for s in llm[2:])
    assert llm[-1].pool_queued_duration > 0.3
    assert all(s.queued_duration >= s.pool_queued_duration - 1e-6 for s in llm)
    for i in range(10):
        free = stat(report, f"free_{i}")
        assert free.pool is None
        assert free.pool_queued_duration == 0.0


async def test_a_pool_bounds_sync_tasks_too():
    reg = SchedulerRegistry("pools")
    guard = threading.Lock()
    state = {"running": 0, "peak": 0}

    def make():
        def work() -> None:
            with guard:
                state["running"] += 1
                state["peak"] = max(state["peak"], state["running"])
            time.sleep(0.03)
            with guard:
                state["running"] -= 1

        return work

    for i in range(9):
        reg.register(make(), f"db_{i}", pool="db")
    report = await reg.run(config=AstrumConfig(pools={"db": 3}))

    assert report.execution_state == "completed"
    assert state["peak"] == 3
    assert sum(1 for s in report.task_statistics if s.pool_queued_duration > 0) == 6


async def test_pools_stack_with_the_concurrency_limit():
    reg = SchedulerRegistry("pools")
    state = {"running": 0, "peak": 0}

    async def work() -> None:
        state["running"] += 1
        state["peak"] = max(state["peak"], state["running"])
        await asyncio.sleep(0.01)
        state["running"] -= 1

    for i in range(6):
        reg.register(work, f"w{i}", pool="wide")
    report = await reg.run(config=AstrumConfig(pools={"wide": 5}, concurrency_limit=2))

    assert report.execution_state == "completed"
    assert state["peak"] == 2


@pytest.mark.parametrize("entry", ["run", "build_scheduler", "stream", "validate"])
async def test_an_unknown_pool_name_fails_the_build(entry):
    reg = SchedulerRegistry("pools")
    reg.register(lambda: 1, "t", pool="gpu")
    config = AstrumConfig(pools={"llm": 2})

    with pytest.raises(TaskRegistrationError, match=r"Task 't' uses pool 'gpu'.*pools: \['llm'\]"):
        if entry == "run":
            await reg.run(config=config)
        elif entry == "build_scheduler":
            reg.build_scheduler(config=config)
        elif entry == "stream":
            reg.stream(config=config)
        else:
            reg.validate(config=config)


def test_pool_sizes_and_names_are_checked():
    with pytest.raises(ValueError, match="pools must map names to positive ints"):
        AstrumConfig(pools={"llm": 0})
    with pytest.raises(ValueError, match="pools must map names to positive ints"):
        AstrumConfig(pools={"llm": True})
    reg = SchedulerRegistry("pools")
    with pytest.raises(TaskRegistrationError, match="pool must be a non-empty string"):
        reg.register(lambda: 1, "t", pool="")


async def test_pools_cannot_deadlock_a_chain_with_a_pool_of_one_and_a_concurrency_limit_of_one():
    reg = SchedulerRegistry("pools")
    order: list[str] = []

    def make(name):
        async def fn() -> None:
            order.append(name)
            await asyncio.sleep(0)

        return fn

    # a -> b -> c in the pool, with unpooled and pooled side tasks competing for the single slot.
    reg.register(make("a"), "a", pool="one")
    reg.register(make("b"), "b", depends_on=["a"], pool="one")
    reg.register(make("c"), "c", depends_on=["b"], pool="one")
    for i in range(3):
        reg.register(make(f"side{i}"), f"side{i}", pool="one" if i % 2 else None)
    reg.register(make("join"), "join", depends_on=["c", "side0", "side1", "side2"], pool="one")

    report = await asyncio.wait_for(
        reg.run(config=AstrumConfig(pools={"one": 1}, concurrency_limit=1)), timeout=5
    )

    assert report.execution_state == "completed"
    assert sorted(order) == sorted(["a", "b", "c", "side0", "side1", "side2", "join"])
    assert order.index("a") < order.index("b") < order.index("c") < order.index("join")


async def test_a_pooled_task_that_retries_after_a_pause_does_not_deadlock():
    reg = SchedulerRegistry("pools")
    tries = {"n": 0}

    @reg.task(pool="one", retry=Retry(2, delay=0.01))
    async def flaky() -> int:
        tries["n"] += 1
        if tries["n"] < 3:
            raise ValueError("again")
        return tries["n"]

    @reg.task(pool="one")
    async def other() -> int:
        return 0

    report = await asyncio.wait_for(
        reg.run(config=AstrumConfig(pools={"one": 1}, concurrency_limit=1)), timeout=5
    )

    assert report.execution_state == "completed"
    assert report.task_return_set == {"flaky": 3, "other": 0}


# -- override ---------------------------------------------------------------------------------


def ten_task_pipeline():
    """load -> clean -> s1..s6 (parallel) -> merge -> publish; counts calls per task."""
    reg = SchedulerRegistry("pipeline")
    calls: dict[str, int] = {}

    def count(name):
        calls[name] = calls.get(name, 0) + 1

    @reg.task()
    def load(ctx: RunContext) -> list[int]:
        count("load")
        return list(range(ctx.metadata.get("n", 5)))

    @reg.task()
    def clean(rows: Ref[list[int], F("load")]) -> list[int]:
        count("clean")
        return [r for r in rows if r % 2 == 0]

    def shard(k):
        def fn(rows: Ref[list[int], F("clean")]) -> int:
            count(f"s{k}")
            return sum(rows) * k

        return fn

    for k in range(1, 7):
        reg.register(shard(k), f"s{k}")

    @reg.task()
    def merge(
        s1: Ref[int, F("s1")],
        s2: Ref[int, F("s2")],
        s3: Ref[int, F("s3")],
        s4: Ref[int, F("s4")],
        s5: Ref[int, F("s5")],
        s6: Ref[int, F("s6")],
        ctx: RunContext,
    ) -> dict:
        count("merge")
        return {"total": s1 + s2 + s3 + s4 + s5 + s6, "run": ctx.task_id}

    @reg.task()
    def publish(result: Ref[dict, F("merge")]) -> str:
        count("publish")
        return f"total={result['total']}"

    return reg, calls


async def test_override_runs_a_ten_task_pipeline_with_two_tasks_replaced_and_the_originals_never_called():
    reg, calls = ten_task_pipeline()
    assert len(reg) == 10
    received = []

    def fake_merge(s1, s2, s3, s4, s5, s6, ctx):
        received.append(((s1, s2, s3, s4, s5, s6), ctx.task_id, ctx.metadata))
        return {"total": -1, "run": "fake"}

    test_registry = reg.override({"load": [0, 2, 4, 5], "merge": fake_merge})
    report = await test_registry.run(context=RunContext(metadata={"n": 3}))

    assert report.execution_state == "completed", report.error_summary
    assert "load" not in calls
    assert "merge" not in calls
    assert calls == {"clean": 1, "s1": 1, "s2": 1, "s3": 1, "s4": 1, "s5": 1, "s6": 1, "publish": 1}
    # clean received the constant; merge's stand-in received merge's injected arguments.
    assert report.task_return_set["load"] == [0, 2, 4, 5]
    assert received == [((6, 12, 18, 24, 30, 36), "merge", {"n": 3})]
    assert report.task_return_set["publish"] == "total=-1"
    assert test_registry.list_tasks() == reg.list_tasks()


async def test_override_leaves_the_original_registry_running_the_originals():
    reg, calls = ten_task_pipeline()
    reg.override({"load": [2], "merge": lambda **kw: {"total": 0}})

    report = await reg.run(context=RunContext(metadata={"n": 5}))

    assert calls["load"] == 1
    assert calls["merge"] == 1
    assert report.task_return_set["publish"] == f"total={(0 + 2 + 4) * 21}"


async def test_override_accepts_an_async_stand_in():
    reg, calls = ten_task_pipeline()

    async def slow_load(ctx):
        await asyncio.sleep(0)
        return [10]

    report = await reg.override({"load": slow_load}).run()

    assert report.task_return_set["publish"] == f"total={10 * 21}"
    assert "load" not in calls


def test_override_rejects_unknown_task_ids():
    reg, _ = ten_task_pipeline()

    with pytest.raises(TaskRegistrationError, match=r"Cannot override tasks \['ghost'\]"):
        reg.override({"ghost": 1, "load": [1]})


async def test_override_with_a_falsy_callable_still_replaces_the_task():
    reg, calls = ten_task_pipeline()

    class EmptyRows:
        def __call__(self, ctx):
            return []

        def __len__(self):
            return 0

    report = await reg.override({"load": EmptyRows()}).run()

    assert "load" not in calls
    assert report.task_return_set["load"] == []


# -- run_many ---------------------------------------------------------------------------------


def batch_registry(state):
    reg = SchedulerRegistry("batch")

    @reg.task()
    async def answer(ctx: RunContext) -> str:
        state["running"] += 1
        state["peak"] = max(state["peak"], state["running"])
        await asyncio.sleep(0.03)
        state["running"] -= 1
        return f"{ctx.metadata['question']}!"

    @reg.task()
    def tag(text: Ref[str, F("answer")], ctx: RunContext) -> tuple:
        return ctx.metadata["id"], text, ctx.run_id

    return reg


async def test_run_many_over_an_async_generator_returns_the_reports_in_order_with_their_metadata():
    state = {"running": 0, "peak": 0}
    reg = batch_registry(state)

    async def contexts():
        for i in range(5):
            await asyncio.sleep(0)
            yield RunContext(metadata={"id": i, "question": f"q{i}"})

    reports = await reg.run_many(contexts())

    assert len(reports) == 5
    assert all(r.execution_state == "completed" for r in reports)
    tags = [r.task_return_set["tag"] for r in reports]
    assert [(i, text) for i, text, _ in tags] == [(i, f"q{i}!") for i in range(5)]
    assert len({run_id for _, _, run_id in tags}) == 5
    assert state["peak"] == 1  # concurrency=1 by default


async def test_run_many_over_a_list_with_concurrency_two_overlaps_at_most_two_runs():
    state = {"running": 0, "peak": 0}
    reg = batch_registry(state)
    contexts = [RunContext(metadata={"id": i, "question": f"q{i}"}) for i in range(6)]

    begin = time.perf_counter()
    reports = await reg.run_many(contexts, concurrency=2)
    elapsed = time.perf_counter() - begin

    assert [r.task_return_set["tag"][:2] for r in reports] == [(i, f"q{i}!") for i in range(6)]
    assert state["peak"] == 2
    assert elapsed < 6 * 0.03 + 0.5  # overlapped: about three rounds, not six


async def test_run_many_with_nothing_returns_an_empty_list_and_rejects_bad_concurrency():
    reg = batch_registry({"running": 0, "peak": 0})

    assert await reg.run_many([]) == []
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="concurrency must be a positive int"):
            await reg.run_many([RunContext()], concurrency=bad)


async def test_run_many_reports_a_failing_run_in_its_place():
    reg = SchedulerRegistry("batch")

    @reg.task()
    def check(ctx: RunContext) -> int:
        if ctx.metadata["n"] < 0:
            raise ValueError("negative")
        return ctx.metadata["n"]

    reports = await reg.run_many([RunContext(metadata={"n": n}) for n in (1, -1, 2)], concurrency=3)

    assert [r.execution_state for r in reports] == ["completed", "failed", "completed"]
    assert [r.task_return_set.get("check") for r in reports] == [1, None, 2]


async def test_run_many_cancels_the_started_runs_when_the_context_source_fails():
    reg = SchedulerRegistry("batch")
    cancelled = []

    @reg.task()
    async def wait(ctx: RunContext) -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(ctx.metadata["i"])
            raise

    async def contexts():
        yield RunContext(metadata={"i": 0})
        yield RunContext(metadata={"i": 1})
        await asyncio.sleep(0.05)
        raise OSError("source broke")

    with pytest.raises(OSError, match="source broke"):
        await asyncio.wait_for(reg.run_many(contexts(), concurrency=2), timeout=5)
    assert sorted(cancelled) == [0, 1]
    assert asyncio.all_tasks() == {asyncio.current_task()}


# -- validate and list_tasks ------------------------------------------------------------------


def test_validate_returns_none_for_a_valid_registry():
    reg, _ = ten_task_pipeline()

    assert reg.validate() is None
    assert reg.validate(["clean"]) is None


def test_validate_without_config_does_not_check_pool_names():
    reg = SchedulerRegistry("pooled")

    @reg.task("a", pool="llm")
    async def a() -> int:
        return 1

    @reg.task(pool="db")
    def b(x: Ref[int, F("a")]) -> int:
        return x

    assert reg.validate() is None
    assert reg.validate(["b"]) is None
    with pytest.raises(TaskRegistrationError, match=r"Task 'a' uses pool 'llm'.*pools: \['db'\]"):
        reg.validate(config=AstrumConfig(pools={"db": 1}))
    assert reg.validate(config=AstrumConfig(pools={"llm": 1, "db": 1})) is None


def test_validate_lists_unknown_dependencies_unknown_sources_and_type_mismatches_in_one_error():
    reg = SchedulerRegistry("invalid")

    @reg.task(depends_on=["ghost"])
    def orphan() -> int:
        return 1

    @reg.task()
    def reader(x: Ref[int, F("nowhere")]) -> int:
        return x

    @reg.task()
    def text() -> str:
        return "s"

    @reg.task()
    def number(x: Ref[int, F("text")]) -> int:
        return x

    with pytest.raises(TaskRegistrationError) as info:
        reg.validate()

    problems = info.value.problems
    assert len(problems) == 3
    message = str(info.value)
    assert "orphan -> ghost" in message
    assert "'nowhere'" in message
    assert "text -> number.x" in message


def test_validate_reports_a_cycle():
    reg = SchedulerRegistry("cycle")
    reg.register(lambda: 1, "e", depends_on=["f"])
    reg.register(lambda: 1, "f", depends_on=["e"])
    reg.register(lambda: 1, "fine")

    with pytest.raises(TaskRegistrationError, match=r"Cycle detected: (e -> f -> e|f -> e -> f)"):
        reg.validate()


def test_validate_lists_every_problem_at_once_including_a_cycle():
    reg = SchedulerRegistry("invalid")
    reg.register(lambda: 1, "orphan", depends_on=["ghost"])

    @reg.task()
    def reader(x: Ref[int, F("nowhere")]) -> int:
        return x

    @reg.task()
    def text() -> str:
        return "s"

    @reg.task()
    def number(x: Ref[int, F("text")]) -> int:
        return x

    reg.register(lambda: 1, "e", depends_on=["f"])
    reg.register(lambda: 1, "f", depends_on=["e"])

    with pytest.raises(TaskRegistrationError) as info:
        reg.validate()

    message = str(info.value)
    for fragment in ("orphan -> ghost", "'nowhere'", "text -> number.x", "Cycle detected"):
        assert fragment in message


def test_list_tasks_is_in_registration_order():
    reg = SchedulerRegistry("order")
    for name in ("zeta", "alpha", "mid", "beta"):
        reg.register(lambda: None, name)

    assert reg.list_tasks() == ["zeta", "alpha", "mid", "beta"]
    assert SchedulerRegistry("empty").list_tasks() == []
    reg.list_tasks().append("mutated")
    assert reg.list_tasks() == ["zeta", "alpha", "mid", "beta"]  # a copy


# -- no cost when unused ----------------------------------------------------------------------


async def test_a_run_without_hooks_or_stream_starts_no_dispatcher_task():
    reg = SchedulerRegistry("cost")
    counts: list[int] = []

    @reg.task()
    async def only() -> None:
        counts.append(len(asyncio.all_tasks()))

    baseline = len(asyncio.all_tasks())
    scheduler = reg.build_scheduler()
    assert scheduler.hooks == []
    assert scheduler.context is None

    report = await scheduler.execute()
    await reg.run(config=AstrumConfig(hooks=[RunHook()]))

    assert report.execution_state == "completed"
    assert counts == [baseline + 1, baseline + 2]  # the task itself; with a hook, plus its dispatcher


# -- the example and the docs -----------------------------------------------------------------


def test_the_lifecycle_example_runs():
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "lifecycle.py")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )

    assert result.returncode == 0, result.stderr
    assert "self-check: ok" in result.stdout
    assert "batch: 'how do I fix a flat tyre' -> puncture" in result.stdout


def doc_snippets() -> list[str]:
    """The example files that docs/lifecycle.md includes (each run by tests/test_docs_site.py)."""
    text = (ROOT / "docs" / "lifecycle.md").read_text()
    return [(ROOT / name).read_text() for name in re.findall(r'^--8<-- "([^"]+)"$', text, flags=re.M)]


def test_the_lifecycle_doc_has_a_snippet_per_feature():
    snippets = doc_snippets()
    joined = "\n".join(snippets)
    for feature in (
        "RunContext",
        "RunHook",
        "fn_hook",
        "stream(",
        "pool=",
        "rates=",
        "override(",
        "run_many(",
        "validate(",
        "OpenTelemetryHook(",
    ):
        assert feature in joined, feature
    assert len(snippets) == 11
    assert all("asyncio.run(" in s for s in snippets)


async def test_hooks_hear_how_a_cancelled_run_ended():
    seen: list[tuple[str, str | None]] = []

    class Recorder(RunHook):
        def on_task_cancel(self, event: TaskEvent) -> None:
            seen.append(("cancel", event.task_id))

        def on_task_skip(self, event: TaskEvent) -> None:
            seen.append(("skip", event.task_id))

        def on_run_end(self, event: RunEvent) -> None:
            assert event.report is not None
            seen.append(("end", event.report.execution_state))

    registry = SchedulerRegistry("cancelled_hooks")

    @registry.task()
    async def slow() -> None:
        await asyncio.sleep(5)

    @registry.task(depends_on=["slow"])
    async def after() -> None:
        return None

    run_task = asyncio.ensure_future(registry.run(config=AstrumConfig(hooks=[Recorder()])))
    await asyncio.sleep(0.05)
    run_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run_task

    assert seen == [("cancel", "slow"), ("skip", "after"), ("end", "cancelled")]


class _SlowHook(RunHook):
    """Its ``method`` sleeps for a long time; records that it began and that it was cancelled."""

    def __init__(self, method: str) -> None:
        self.began = asyncio.Event()
        self.cancelled = 0

        async def slow(event: RunEvent | TaskEvent) -> None:
            self.began.set()
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                self.cancelled += 1
                raise

        setattr(self, method, slow)


async def _pending_when_cancelled(run: Any, pending: list[asyncio.Task[Any]]) -> None:
    """Await ``run``; when its CancelledError arrives, note every other task still pending."""
    try:
        await run
    except asyncio.CancelledError:
        me = asyncio.current_task()
        pending.extend(t for t in asyncio.all_tasks() if t is not me and not t.done())
        raise


async def test_cancelling_run_while_hooks_handle_run_end_cancels_and_awaits_the_dispatcher():
    registry = SchedulerRegistry("cancel_in_run_end")
    registry.register(lambda: 1, "only")
    hook = _SlowHook("on_run_end")
    scheduler = registry.build_scheduler(config=AstrumConfig(hooks=[hook]))
    pending: list[asyncio.Task[Any]] = []

    run_task = asyncio.ensure_future(_pending_when_cancelled(scheduler.execute(), pending))
    await asyncio.wait_for(hook.began.wait(), 5)
    run_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run_task

    assert pending == [asyncio.current_task()]  # the test itself; no dispatcher left pending
    assert hook.cancelled == 1
    assert scheduler.execution_state == "cancelled"


async def test_cancelling_a_run_twice_while_hooks_hear_its_end_leaves_nothing_pending():
    registry = SchedulerRegistry("cancel_twice")

    @registry.task()
    async def slow() -> None:
        await asyncio.sleep(30)

    hook = _SlowHook("on_task_cancel")
    pending: list[asyncio.Task[Any]] = []
    run = registry.run(config=AstrumConfig(hooks=[hook]))
    run_task = asyncio.ensure_future(_pending_when_cancelled(run, pending))
    await asyncio.sleep(0.05)
    run_task.cancel()  # the hooks now hear how the run ended, within a grace period ...
    await asyncio.wait_for(hook.began.wait(), 5)
    run_task.cancel()  # ... which a second cancellation cuts short
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(run_task, 5)

    assert pending == [asyncio.current_task()]
    assert hook.cancelled == 1


async def test_a_manual_scheduler_injects_the_run_context_too():
    seen: list[tuple[str | None, str | None, int]] = []

    async def load(ctx: RunContext) -> int:
        seen.append((ctx.task_id, ctx.metadata["tenant"], ctx.attempt))
        return 1

    def report(ctx: RunContext[dict]) -> str:
        seen.append((ctx.task_id, ctx.metadata["tenant"], ctx.attempt))
        return ctx.deps["label"]

    first = TaskOrder("load")
    scheduler = DynamicScheduler([("load", load), ("report", report)], [first, TaskOrder("report", [first])])
    result = await scheduler.execute(context=RunContext({"label": "ok"}, metadata={"tenant": "acme"}))

    assert result.execution_state == "completed"
    assert result.results == {"load": 1, "report": "ok"}
    assert sorted(seen) == [("load", "acme", 1), ("report", "acme", 1)]


def test_the_engine_s_fast_task_events_equal_the_dataclass_s():
    from dataclasses import fields

    from astrum.lifecycle._events import task_event

    error = ValueError("x")
    fast = task_event("task_retry", "run", "t", 2, 5.0, 1.0, 2.0, error, 0.5, None)
    slow = TaskEvent("task_retry", "run", "t", 2, 5.0, start_time=1.0, end_time=2.0, error=error, delay=0.5)

    assert fast == slow and repr(fast) == repr(slow) and hash(fast) == hash(slow)
    assert list(vars(fast)) == [f.name for f in fields(TaskEvent)]  # a new field must be added to task_event
    with pytest.raises(FrozenInstanceError):
        fast.kind = "task_start"  # type: ignore[misc]
