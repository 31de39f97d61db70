"""The OpenTelemetry hook: a span per run, per task and per attempt.

Spans are opened as things happen, through the hook's ``task_context`` (see
`RunHook`): the run span when the run starts, a task span and its first
attempt span when the task's body is about to begin, each later attempt's span when it
begins. The attempt span is made current in the task's own context, so spans the task's
code opens nest under it. Spans are ended, with the times the events carry, when the hook
hears of the outcome (through the run's event dispatcher, a little later).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer, TracerProvider

from ..lifecycle._events import RunEvent, RunHook, TaskEvent

__all__ = ["OpenTelemetryHook"]

RUN_SPAN = "astrum run"


def _ns(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1e9)


def _error(span: Span, error: BaseException | None, description: str) -> None:
    if error is not None:
        span.record_exception(error)
        description = f"{type(error).__name__}: {error}"
    span.set_status(Status(StatusCode.ERROR, description))


@dataclass
class _RunSpans:
    """The open spans of one run."""

    run: Span
    namespace: str | None
    tasks: dict[str, Span] = field(default_factory=dict)
    attempts: dict[tuple[str, int], Span] = field(default_factory=dict)
    ended: bool = False


class OpenTelemetryHook(RunHook):
    """Emits an OpenTelemetry span per run, per task and per attempt.

    ``astrum run`` spans the run; under it a span named after each task spans its first
    attempt's start to its end; under that, ``"<task> attempt <n>"`` spans each attempt. Spans
    carry ``astrum.run_id``, ``astrum.namespace``, ``astrum.task_id``, ``astrum.attempt``,
    ``astrum.pool`` and, once ended, ``astrum.status`` (``completed``, ``failed``, ``retried``
    (a failed attempt that is tried again), ``cancelled``, ``skipped``). Failures set the ERROR
    status and record the exception; successes set OK; cancelled and skipped tasks leave the
    status unset. A skipped task gets a zero-length task span (no attempt span).

    Spans opened by a task's code nest under its current attempt span, async and sync bodies
    alike (a sync body's worker thread runs in a copy of the task's context).

    Args:
        tracer_provider: where spans go (default: the global provider).
    """

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        self._tracer: Tracer = trace.get_tracer("astrum", tracer_provider=tracer_provider)
        self._runs: dict[str, _RunSpans] = {}

    # -- opened as things happen -------------------------------------------------------------

    def task_context(self, event: RunEvent | TaskEvent, pool: str | None) -> None:
        """Open the run span at its start; open an attempt's spans as its body is about to
        begin and make the attempt span current in the task's context."""
        if isinstance(event, RunEvent):
            self._open_run(event.run_id, event.time, event.namespace)
            return
        span = self._open_attempt(event, pool)
        otel_context.attach(trace.set_span_in_context(span))  # ends with the task's context

    def _open_run(self, run_id: str, time: float, namespace: str | None) -> _RunSpans:
        attributes = {"astrum.run_id": run_id}
        if namespace is not None:
            attributes["astrum.namespace"] = namespace
        span = self._tracer.start_span(
            RUN_SPAN, context=otel_context.Context(), attributes=attributes, start_time=_ns(time)
        )
        spans = self._runs[run_id] = _RunSpans(span, namespace)
        return spans

    def _spans(self, run_id: str, time: float) -> _RunSpans:
        spans = self._runs.get(run_id)
        if spans is None:  # not started through task_context: open it now
            spans = self._open_run(run_id, time, None)
        return spans

    def _attributes(self, spans: _RunSpans, event: TaskEvent) -> dict[str, str | int]:
        attributes: dict[str, str | int] = {"astrum.run_id": event.run_id, "astrum.task_id": event.task_id}
        if spans.namespace is not None:
            attributes["astrum.namespace"] = spans.namespace
        return attributes

    def _open_task(self, spans: _RunSpans, event: TaskEvent, pool: str | None) -> Span:
        task = spans.tasks.get(event.task_id)
        if task is None:
            attributes = self._attributes(spans, event)
            if pool is not None:
                attributes["astrum.pool"] = pool
            task = spans.tasks[event.task_id] = self._tracer.start_span(
                event.task_id,
                context=trace.set_span_in_context(spans.run),
                attributes=attributes,
                start_time=_ns(event.time if event.start_time is None else event.start_time),
            )
        return task

    def _open_attempt(self, event: TaskEvent, pool: str | None) -> Span:
        spans = self._spans(event.run_id, event.time)
        key = (event.task_id, event.attempt)
        span = spans.attempts.get(key)
        if span is None:
            task = self._open_task(spans, event, pool)
            attributes = self._attributes(spans, event)
            attributes["astrum.attempt"] = event.attempt
            if pool is not None:
                attributes["astrum.pool"] = pool
            span = spans.attempts[key] = self._tracer.start_span(
                f"{event.task_id} attempt {event.attempt}",
                context=trace.set_span_in_context(task),
                attributes=attributes,
                start_time=_ns(event.time),
            )
        return span

    # -- ended as the hook hears of the outcome ----------------------------------------------

    def on_task_start(self, event: TaskEvent) -> None:
        if (
            event.run_id not in self._runs
            or (event.task_id, event.attempt) not in self._runs[event.run_id].attempts
        ):
            self._open_attempt(event, None)  # only when task_context was not called for it

    def on_task_retry(self, event: TaskEvent) -> None:
        span = self._take_attempt(event)
        _error(span, event.error, "attempt failed")
        span.set_attribute("astrum.status", "retried")
        span.end(end_time=_ns(event.end_time or event.time))

    def on_task_success(self, event: TaskEvent) -> None:
        self._end(event, "completed", Status(StatusCode.OK))

    def on_task_failure(self, event: TaskEvent) -> None:
        self._end(event, "failed", None)

    def on_task_cancel(self, event: TaskEvent) -> None:
        self._end(event, "cancelled", Status(StatusCode.UNSET))

    def on_task_skip(self, event: TaskEvent) -> None:
        spans = self._spans(event.run_id, event.time)
        task = self._open_task(spans, event, None)
        del spans.tasks[event.task_id]
        task.set_attribute("astrum.status", "skipped")
        if event.caused_by is not None:
            task.set_attribute("astrum.caused_by", event.caused_by)
        task.end(end_time=_ns(event.time))
        self._forget_if_done(event.run_id)

    def on_run_end(self, event: RunEvent) -> None:
        spans = self._spans(event.run_id, event.time)
        report = event.report
        run = spans.run
        if report is not None:
            run.set_attribute("astrum.status", report.execution_state)
            if report.error_summary:
                run.set_status(Status(StatusCode.ERROR, report.error_summary[0]))
            else:
                run.set_status(Status(StatusCode.OK))
        run.end(end_time=_ns(event.time))
        spans.ended = True
        self._forget_if_done(event.run_id)

    def _take_attempt(self, event: TaskEvent) -> Span:
        spans = self._spans(event.run_id, event.time)
        span = spans.attempts.pop((event.task_id, event.attempt), None)
        if span is None:  # an end without a start (a task cancelled before its body began)
            span = self._open_attempt(event, None)
            spans.attempts.pop((event.task_id, event.attempt))
        return span

    def _end(self, event: TaskEvent, status: str, ok: Status | None) -> None:
        end = _ns(event.end_time or event.time)
        spans = self._spans(event.run_id, event.time)
        if event.attempt == 0 or (
            (event.task_id, event.attempt) not in spans.attempts and event.task_id in spans.tasks
        ):
            attempt = None  # no attempt of its own (cancelled before a worker took it)
        else:
            attempt = self._take_attempt(event)
        task = self._open_task(spans, event, None)
        del spans.tasks[event.task_id]
        for span in (attempt, task):
            if span is None:
                continue
            if ok is None:
                _error(span, event.error, "task failed")
            else:
                span.set_status(ok)
            span.set_attribute("astrum.status", status)
            span.end(end_time=end)
        self._forget_if_done(event.run_id)

    def _forget_if_done(self, run_id: str) -> None:
        spans = self._runs.get(run_id)
        if spans is not None and spans.ended and not spans.tasks and not spans.attempts:
            del self._runs[run_id]
