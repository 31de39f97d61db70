"""OpenTelemetry spans (issue 16, point 6): a span per run, per task and per attempt, parented
run > task > attempt, and spans opened by a task's code nested under its attempt."""

import asyncio
import subprocess
import sys

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import astrum
from astrum import AstrumConfig, F, Ref, Retry, SchedulerRegistry
from astrum.otel import OpenTelemetryHook


@pytest.fixture
def traced():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    spans = exporter.get_finished_spans()
    named = {span.name: span for span in spans}
    assert len(named) == len(spans), [span.name for span in spans]
    return named


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def test_importing_astrum_does_not_load_opentelemetry() -> None:
    code = "import sys, astrum\nprint(any(m.startswith('opentelemetry') for m in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"]


async def test_run_task_and_attempt_spans_nest_with_attributes_and_ok_status(traced) -> None:
    provider, exporter = traced
    reg = SchedulerRegistry("traced")

    @reg.task(pool="io")
    async def load() -> int:
        return 1

    @reg.task(depends_on=["load"])
    def total(load: Ref[int, F("load")]) -> int:
        return load + 1

    report = await reg.run(config=AstrumConfig(hooks=[OpenTelemetryHook(provider)], pools={"io": 1}))

    assert report.execution_state == "completed"
    spans = by_name(exporter)
    assert set(spans) == {"astrum run", "load", "load attempt 1", "total", "total attempt 1"}
    run = spans["astrum run"]
    assert run.parent is None
    assert run.status.status_code is StatusCode.OK
    assert run.attributes["astrum.run_id"] == report.run_id
    assert run.attributes["astrum.namespace"] == "traced"
    assert run.attributes["astrum.status"] == "completed"
    trace_ids = {span.context.trace_id for span in spans.values()}
    assert trace_ids == {run.context.trace_id}
    for name in ("load", "total"):
        task, attempt = spans[name], spans[f"{name} attempt 1"]
        assert parent_of(task) == run.context.span_id
        assert parent_of(attempt) == task.context.span_id
        for span in (task, attempt):
            assert span.status.status_code is StatusCode.OK
            assert span.attributes["astrum.task_id"] == name
            assert span.attributes["astrum.run_id"] == report.run_id
            assert span.attributes["astrum.namespace"] == "traced"
            assert span.attributes["astrum.status"] == "completed"
        assert attempt.attributes["astrum.attempt"] == 1
        assert run.start_time <= task.start_time <= attempt.start_time <= attempt.end_time <= task.end_time
        assert task.end_time <= run.end_time
    assert spans["load"].attributes["astrum.pool"] == "io"
    assert spans["load attempt 1"].attributes["astrum.pool"] == "io"
    assert "astrum.pool" not in spans["total"].attributes
    assert spans["load"].end_time <= spans["total"].start_time


async def test_a_failed_attempt_then_a_retry_success_gives_two_attempt_spans(traced) -> None:
    provider, exporter = traced
    reg = SchedulerRegistry("retries")
    calls = []

    @reg.task(retry=Retry(1, delay=0.001, jitter=0))
    async def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first try fails")
        return "ok"

    report = await reg.run(config=AstrumConfig(hooks=[OpenTelemetryHook(provider)]))

    assert report.execution_state == "completed"
    spans = by_name(exporter)
    task, first, second = spans["flaky"], spans["flaky attempt 1"], spans["flaky attempt 2"]
    assert parent_of(first) == parent_of(second) == task.context.span_id
    assert first.status.status_code is StatusCode.ERROR
    assert first.status.description == "ValueError: first try fails"
    assert first.attributes["astrum.status"] == "retried"
    assert [e.name for e in first.events] == ["exception"]
    assert first.events[0].attributes["exception.type"] == "ValueError"
    assert second.status.status_code is StatusCode.OK
    assert second.attributes["astrum.attempt"] == 2
    assert first.end_time <= second.start_time
    assert task.status.status_code is StatusCode.OK
    assert task.start_time == first.start_time and task.end_time == second.end_time


async def test_a_failure_marks_task_attempt_and_run_error_and_a_skipped_task_gets_a_zero_length_span(
    traced,
) -> None:
    provider, exporter = traced
    reg = SchedulerRegistry("failing")

    @reg.task()
    def bad() -> None:
        raise KeyError("missing")

    @reg.task(depends_on=["bad"])
    def child() -> None:
        pass

    report = await reg.run(
        config=AstrumConfig(hooks=[OpenTelemetryHook(provider)], failure_policy="continue")
    )

    assert report.execution_state == "failed"
    spans = by_name(exporter)
    assert set(spans) == {"astrum run", "bad", "bad attempt 1", "child"}
    for name in ("bad", "bad attempt 1"):
        assert spans[name].status.status_code is StatusCode.ERROR
        assert spans[name].attributes["astrum.status"] == "failed"
        assert spans[name].events[0].attributes["exception.type"] == "KeyError"
    run = spans["astrum run"]
    assert run.status.status_code is StatusCode.ERROR
    assert run.attributes["astrum.status"] == "failed"
    skipped = spans["child"]
    assert parent_of(skipped) == run.context.span_id
    assert skipped.start_time == skipped.end_time
    assert skipped.status.status_code is StatusCode.UNSET
    assert skipped.attributes["astrum.status"] == "skipped"
    assert skipped.attributes["astrum.caused_by"] == "bad"


async def test_spans_opened_in_an_async_task_body_nest_under_its_attempt_span(traced) -> None:
    provider, exporter = traced
    tracer = provider.get_tracer("user code")
    reg = SchedulerRegistry("user_async")
    calls = []

    async def step(name: str) -> None:
        with tracer.start_as_current_span(f"{name} work"):
            await asyncio.sleep(0)
            with tracer.start_as_current_span(f"{name} inner"):
                pass

    @reg.task(retry=Retry(1, delay=0, jitter=0))
    async def fetch() -> None:
        calls.append(1)
        await step(f"fetch {len(calls)}")
        if len(calls) == 1:
            raise OSError("flaky network")

    @reg.task()
    async def other() -> None:
        await step("other")

    report = await reg.run(config=AstrumConfig(hooks=[OpenTelemetryHook(provider)]))

    assert report.execution_state == "completed"
    spans = by_name(exporter)
    assert parent_of(spans["fetch 1 work"]) == spans["fetch attempt 1"].context.span_id
    assert parent_of(spans["fetch 2 work"]) == spans["fetch attempt 2"].context.span_id
    assert parent_of(spans["fetch 2 inner"]) == spans["fetch 2 work"].context.span_id
    assert parent_of(spans["other work"]) == spans["other attempt 1"].context.span_id
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing leaked into the caller


async def test_spans_opened_in_a_sync_task_body_nest_under_its_attempt_span(traced) -> None:
    provider, exporter = traced
    tracer = provider.get_tracer("user code")
    reg = SchedulerRegistry("user_sync")

    @reg.task()
    def crunch() -> int:
        with tracer.start_as_current_span("crunch work"):
            return 1

    @reg.task(depends_on=["crunch"], timeout=5)
    def timed(crunch: Ref[int, F("crunch")]) -> int:
        with tracer.start_as_current_span("timed work"):
            return crunch + 1

    report = await reg.run(config=AstrumConfig(hooks=[OpenTelemetryHook(provider)]))

    assert report.results == {"crunch": 1, "timed": 2}
    spans = by_name(exporter)
    assert parent_of(spans["crunch work"]) == spans["crunch attempt 1"].context.span_id
    assert parent_of(spans["timed work"]) == spans["timed attempt 1"].context.span_id


async def test_a_hook_whose_task_context_raises_does_not_change_the_run(caplog) -> None:
    class Broken(astrum.RunHook):
        def task_context(self, event, pool) -> None:
            raise RuntimeError("broken")

    reg = SchedulerRegistry("broken_context")

    @reg.task()
    async def a() -> int:
        return 1

    report = await reg.run(config=AstrumConfig(hooks=[Broken()]))

    assert report.results == {"a": 1}
    assert "Broken.task_context raised" in caplog.text


async def test_each_instance_of_a_mapped_task_gets_its_task_and_attempt_spans(traced) -> None:
    provider, exporter = traced
    reg = SchedulerRegistry("traced_map")

    @reg.task
    def items() -> list[int]:
        return [1, 2]

    @reg.task(map="n", pool="io")
    async def double(n: Ref[int, F("items")]) -> int:
        return 2 * n

    report = await reg.run(config=AstrumConfig(hooks=[OpenTelemetryHook(provider)], pools={"io": 1}))

    assert report.results["double"] == [2, 4]
    spans = by_name(exporter)
    assert {"double", "double[0]", "double[0] attempt 1", "double[1]", "double[1] attempt 1"} <= set(spans)
    attempt = spans["double[1] attempt 1"]
    assert parent_of(attempt) == spans["double[1]"].context.span_id
    assert attempt.attributes["astrum.pool"] == "io"
