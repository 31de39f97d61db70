"""Fast paths keep the behaviour of the general ones.

Sync chains run link after link in one worker thread, launches come in batches,
registration fills records in one step, and plain functions are parsed by a
short path: each must give exactly what the general path gives.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import threading
import time
import types
import typing
from typing import Annotated, Any

import pytest

from astrum import AstrumConfig, ExecutionState, F, Ref, RegisteredTask, RunContext, SchedulerRegistry, T
from astrum.authoring._transport import From, _parse_full, parse_callable, parse_plain
from astrum.core._engine import Run
from astrum.core._program import NO_RESULT
from astrum.core._run_data import _LAUNCH_BATCH


def sync_chain(
    registry: SchedulerRegistry, length: int, threads: list[int], fail_at: int | None = None
) -> None:
    """Tasks s0 .. s{length-1}; each adds one to its parent's value and notes its thread."""

    def make(k: int) -> Any:
        if k == 0:

            def first() -> int:
                threads.append(threading.get_ident())
                return 0

            return first

        def link(value: int) -> int:
            threads.append(threading.get_ident())
            if k == fail_at:
                raise ValueError(f"link {k} broke")
            return value + 1

        link.__annotations__ = {"value": Annotated[int, F(f"s{k - 1}")], "return": int}
        return link

    for k in range(length):
        registry.task(f"s{k}", depends_on=[f"s{k - 1}"] if k else None)(make(k))


async def test_a_sync_chain_passes_every_value_down_in_one_worker_thread(monkeypatch: pytest.MonkeyPatch):
    registry = SchedulerRegistry("sync-chain")
    threads: list[int] = []
    sync_chain(registry, 50, threads)
    followed: list[int] = []
    original = Run._follow_in_thread

    def spy(self: Run, parent: int, value: Any, child: int, now: float) -> Any:
        followed.append(child)
        return original(self, parent, value, child, now)

    monkeypatch.setattr(Run, "_follow_in_thread", spy)

    report = await registry.run()

    assert len(followed) == 49, "every link after the first should start in its parent's thread"

    assert report.execution_state == ExecutionState.COMPLETED
    assert report.task_return_set["s49"] == 49
    assert len(set(threads)) == 1, "each link should run where its parent ran"
    assert threading.get_ident() not in threads, "sync tasks never run on the event loop"
    stats = {s.task_name: s for s in report.task_statistics}
    for k in range(1, 50):
        assert stats[f"s{k}"].start_time >= stats[f"s{k - 1}"].end_time


async def test_a_failing_link_of_a_sync_chain_stops_the_links_after_it():
    registry = SchedulerRegistry("sync-chain-fail")
    threads: list[int] = []
    sync_chain(registry, 10, threads, fail_at=4)

    report = await registry.run()

    assert report.execution_state == ExecutionState.FAILED
    assert report.failed_tasks == 1
    assert report.successful_tasks == 4
    assert "link 4 broke" in report.error_summary[0]
    assert len(threads) == 5, "no link after the failed one may start"


async def test_a_sync_chain_with_hooks_reports_every_link_in_order():
    registry = SchedulerRegistry("sync-chain-hooks")
    sync_chain(registry, 5, [])
    events: list[tuple[str, str]] = []

    class Recorder:
        def on_task_start(self, event: Any) -> None:
            events.append(("start", event.task_id))

        def on_task_success(self, event: Any) -> None:
            events.append(("success", event.task_id))

    report = await registry.run(config=AstrumConfig(hooks=(Recorder(),)))

    assert report.successful_tasks == 5
    expected = [(kind, f"s{k}") for k in range(5) for kind in ("start", "success")]
    assert events == expected


async def test_a_sync_child_that_wants_the_run_context_still_gets_it():
    registry = SchedulerRegistry("sync-chain-context")

    @registry.task("a")
    def a() -> int:
        return 1

    @registry.task("b")
    def b(value: Ref[int, F("a")], ctx: RunContext[str]) -> str:
        return f"{ctx.deps}:{value}"

    report = await registry.run(context=RunContext(deps="deps"))

    assert report.task_return_set["b"] == "deps:1"


async def test_caller_cancellation_waits_for_the_running_sync_chain():
    registry = SchedulerRegistry("sync-chain-cancel")
    finished: list[int] = []

    def make(k: int) -> Any:
        def link() -> None:
            time.sleep(0.02)
            finished.append(k)

        return link

    for k in range(20):
        registry.task(f"c{k}", depends_on=[f"c{k - 1}"] if k else None)(make(k))

    run = asyncio.ensure_future(registry.run())
    await asyncio.sleep(0.1)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    settled = len(finished)
    await asyncio.sleep(0.1)
    assert len(finished) == settled, "no link may run after the run was cancelled and returned"
    assert 0 < settled < 20


async def test_more_ready_tasks_than_a_launch_batch_all_run_and_overlap():
    registry = SchedulerRegistry("wide-sleepers")
    count = 2 * _LAUNCH_BATCH + 100

    async def nap() -> None:
        await asyncio.sleep(0.2)

    for k in range(count):
        registry.task(f"n{k}")(nap)

    started = time.perf_counter()
    report = await registry.run()
    elapsed = time.perf_counter() - started

    assert report.successful_tasks == count
    # Batches only bound how many start per loop turn: every sleeper still sleeps at the same time.
    assert elapsed < 2.0, f"{elapsed:.2f} s: batches waited for each other"


async def test_no_op_tasks_never_pile_up_beyond_a_launch_batch():
    registry = SchedulerRegistry("wide-noop")
    alive: list[int] = []

    async def noop() -> None:
        alive.append(len(asyncio.all_tasks()))

    count = 4 * _LAUNCH_BATCH
    for k in range(count):
        registry.task(f"w{k}")(noop)

    report = await registry.run()

    assert report.successful_tasks == count
    assert max(alive) <= 2 * _LAUNCH_BATCH + 10


def test_a_registered_record_is_the_frozen_dataclass_with_what_was_passed():
    registry = SchedulerRegistry("records")

    def job() -> None:
        return None

    record = registry.register(job, "job", depends_on=["x"], timeout=2.0)

    expected = RegisteredTask(task_id="job", function=job, depends_on=("x",), retry=0, timeout=2.0)
    assert record == expected
    assert job._scheduler_task_id == "job"  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.task_id = "other"  # type: ignore[misc]


class Payload:
    pass


def _no_params() -> int:
    return 1


def _no_annotations(a, b=2, *, c=3):  # type: ignore[no-untyped-def]
    return a


def _refs(a: Ref[int, F("x")], b: Ref[dict, F("y", "key")], *, c: Ref[list, F("z", 0)] = []) -> Payload:
    return Payload()


def _mixed(a: int, b: Annotated[str, "not a relation"], ctx: RunContext[Any]) -> None:
    return None


def _string_ann(a: "Ref[int, F('x')]") -> int:  # noqa: UP037
    return a


def _push() -> Ref[int, T("t", None, "p")]:
    return 1


def _variadic(*args: int, **kwargs: int) -> None:
    return None


def _positional_only(a: int, /) -> None:
    return None


def _optional_return(a: Ref[int, F("x")]) -> int | None:
    return a


def _generic_return(a: Ref[int, F("x", "k")]) -> dict[str, list[int]]:
    return {"a": [a]}


def _evaluated(fn: Any) -> Any:
    """A copy of ``fn`` whose annotations are objects (this module's annotations are strings)."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    copy.__annotations__ = typing.get_type_hints(fn, include_extras=True)
    return copy


@pytest.mark.parametrize(
    ("fn", "short"),
    [
        (_evaluated(_no_params), True),
        (_no_annotations, True),
        (_evaluated(_refs), True),
        (_evaluated(_mixed), False),  # a RunContext parameter
        (_string_ann, False),
        (_evaluated(_push), False),
        (_evaluated(_variadic), False),
        (_evaluated(_positional_only), False),
        (_evaluated(_optional_return), True),
        (_evaluated(_generic_return), True),
    ],
)
def test_the_short_parser_agrees_with_the_full_one(fn: Any, short: bool):
    assert (parse_plain(fn) is not None) == short
    assert parse_callable("t", fn, {"F": From, "Ref": Ref}) == _parse_full(
        "t", fn, {"F": From, "Ref": Ref}, skip_first=False
    )


# -- async tasks whose first step runs inline -------------------------------------------------------


async def test_asyncio_timeout_inside_a_task_cancels_that_task_only():
    registry = SchedulerRegistry("inline-timeout")

    @registry.task("slow")
    async def slow() -> str:
        async with asyncio.timeout(0.05):
            await asyncio.sleep(5)
        return "never"

    @registry.task("fine")
    async def fine() -> str:
        await asyncio.sleep(0.1)
        return "ok"

    started = time.perf_counter()
    report = await registry.run(config=AstrumConfig(failure_policy="continue"))

    assert time.perf_counter() - started < 2
    stats = {s.task_name: s for s in report.task_statistics}
    assert stats["slow"].status == "failed"
    assert isinstance(report.exceptions["slow"], TimeoutError)
    assert report.task_return_set["fine"] == "ok"


async def test_a_task_group_inside_a_task_runs_its_children():
    registry = SchedulerRegistry("inline-taskgroup")

    @registry.task("fan")
    async def fan() -> list[int]:
        async def child(k: int) -> int:
            await asyncio.sleep(0.01)
            return k

        async with asyncio.TaskGroup() as group:
            children = [group.create_task(child(k)) for k in range(3)]
        return [c.result() for c in children]

    report = await registry.run()

    assert report.task_return_set["fan"] == [0, 1, 2]


async def test_a_task_sees_one_current_task_across_its_awaits_and_it_is_not_the_callers():
    registry = SchedulerRegistry("inline-current")
    seen: list[asyncio.Task[Any] | None] = []

    @registry.task("t")
    async def t() -> None:
        seen.append(asyncio.current_task())
        await asyncio.sleep(0.01)
        seen.append(asyncio.current_task())

    report = await registry.run()

    assert report.successful_tasks == 1
    assert seen[0] is not None
    assert seen[0] is seen[1]
    assert seen[0] is not asyncio.current_task()


async def test_context_variables_set_by_a_task_stay_in_that_task():
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("caller")
    registry = SchedulerRegistry("inline-context")
    seen: dict[str, str] = {}

    @registry.task("writer")
    async def writer() -> None:
        var.set("writer")
        await asyncio.sleep(0.01)
        seen["writer"] = var.get()

    @registry.task("reader", depends_on=["writer"])
    async def reader() -> None:
        seen["reader"] = var.get()

    @registry.task("quick")
    async def quick() -> None:
        var.set("quick")

    await registry.run()

    assert seen == {"writer": "writer", "reader": "caller"}
    assert var.get() == "caller"


async def test_no_task_is_left_behind_after_a_run():
    registry = SchedulerRegistry("inline-cleanup")

    @registry.task("a")
    async def a() -> int:
        return 1

    @registry.task("b")
    async def b() -> int:
        await asyncio.sleep(0)
        return 2

    report = await registry.run()

    assert report.successful_tasks == 2
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_a_task_started_and_waiting_is_reported_cancelled_when_a_sibling_fails():
    registry = SchedulerRegistry("inline-cancel")
    cleaned: list[str] = []

    @registry.task("waits")
    async def waits() -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cleaned.append("waits")
            raise

    @registry.task("fails")
    async def fails() -> None:
        raise RuntimeError("boom")

    report = await registry.run()

    stats = {s.task_name: s for s in report.task_statistics}
    assert stats["fails"].status == "failed"
    assert stats["waits"].status == "cancelled"
    assert cleaned == ["waits"]
    assert asyncio.all_tasks() == {asyncio.current_task()}


@pytest.mark.parametrize("timeout", [None, 5.0], ids=["plain", "with-policy"])
async def test_a_task_cancelled_by_its_own_code_fails_and_the_run_goes_on(timeout: float | None):
    registry = SchedulerRegistry("inline-self-cancel")
    reached: list[str] = []

    @registry.task("quitter", timeout=timeout)
    async def quitter() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(1)
        reached.append("after the wait")

    @registry.task("other")
    async def other() -> int:
        await asyncio.sleep(0.01)
        return 7

    started = time.perf_counter()
    report = await registry.run(config=AstrumConfig(failure_policy="continue"))

    assert time.perf_counter() - started < 0.9
    stats = {s.task_name: s for s in report.task_statistics}
    assert stats["quitter"].status == "failed"
    assert isinstance(report.exceptions["quitter"], asyncio.CancelledError)
    assert reached == []
    assert report.task_return_set["other"] == 7


async def test_tasks_whose_code_suspended_once_start_as_plain_tasks_and_still_work():
    registry = SchedulerRegistry("inline-adaptive")

    def sleeper(k: int) -> Any:
        async def nap() -> int:
            async with asyncio.timeout(1):
                await asyncio.sleep(0.01)
            return k

        return nap

    for k in range(5):
        registry.task(f"nap{k}", depends_on=[f"nap{k - 1}"] if k else None)(sleeper(k))

    first = await registry.run()
    second = await registry.run()

    for report in (first, second):
        assert report.successful_tasks == 5
        assert report.task_return_set["nap4"] == 4
    if sys.version_info < (3, 12):  # 3.12+ starts tasks eagerly instead of inline
        assert sleeper(0).__code__ in registry.build_scheduler()._program.suspending


@pytest.mark.parametrize("kind", ["whole", "general"])
def test_a_whole_result_input_binds_by_keyword_and_a_missing_one_names_the_source(kind: str):
    from astrum.authoring._inject import ArgBinder, Input, TaskInputError, WholeBinder, make_binder

    index = {"other": 0, "producer": 1}
    inputs = [Input("value", "producer")]
    if kind == "whole":
        binder = make_binder("consumer", inputs, index=index)
    else:
        binder = ArgBinder("consumer", inputs, index=index)

    assert isinstance(binder, WholeBinder) == (kind == "whole")
    assert binder.bind([0, 41, NO_RESULT]) == ([], {"value": 41})
    with pytest.raises(TaskInputError, match="parameter 'value': no result of task 'producer'"):
        binder.bind([0, NO_RESULT, NO_RESULT])


@pytest.mark.parametrize("kind", ["whole", "general"])
def test_an_input_from_a_task_outside_the_program_reads_no_result(kind: str):
    from astrum.authoring._inject import ArgBinder, Input, TaskInputError, make_binder

    inputs = [Input("value", "elsewhere")]
    if kind == "whole":
        binder = make_binder("consumer", inputs, index={"producer": 0})
    else:
        binder = ArgBinder("consumer", inputs, index={"producer": 0})

    with pytest.raises(TaskInputError, match="no result of task 'elsewhere'"):
        binder.bind([41, NO_RESULT])
