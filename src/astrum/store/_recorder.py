"""Recording a run into a run store, as it happens, from the run's events.

A `Recorder` listens to one run's `EventBus`: it is
called inside ``emit()``, on the loop, and turns each event into store calls, which queue
and return (the store never waits on disk there):

* ``run_start``: the `RunRecord` (graph shape, config summary, context metadata);
* ``task_retry``: an `AttemptRecord` for the attempt that failed;
* ``task_success`` / ``task_failure``: the last attempt and the `TaskRecord`, with
  the result of a completed task (a cache hit ran no attempt: its record alone, marked ``hit``;
  a task that missed its cache is marked ``miss``);
* ``run_end``: the cancelled tasks (with their cancelled attempt) and the skipped ones, as
  the report tells them, then the run's final state.

What the store records about the graph comes from `astrum.store._facts`.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._errors import TaskTimeoutError
from ..report._report import to_json_safe
from ._base import AttemptRecord, RunRecord, RunStore, TaskRecord
from ._facts import graph_facts

if TYPE_CHECKING:
    from ..core._program import Program
    from ..lifecycle._context import RunContext
    from ..lifecycle._events import RunEvent, TaskEvent
    from ..report._report import ExecutionReport

__all__ = ["Recorder"]

logger = logging.getLogger("astrum")


# -- the listener --------------------------------------------------------------------------


def _error_fields(exc: BaseException | None) -> tuple[str | None, str | None, str | None]:
    """``(qualified type name, str(exc), traceback text)`` of a task's exception."""
    if exc is None:
        return None, None, None
    kind = type(exc)
    try:
        message = str(exc)
    except Exception:
        message = f"<{kind.__name__} whose str() failed>"
    try:
        text = "".join(traceback.format_exception(exc))
    except Exception:
        text = None
    return f"{kind.__module__}.{kind.__qualname__}", message, text


class Recorder:
    """Records one run into ``store`` from the run's events (a listener of its event bus).

    It never raises into the run: when the store refuses a record (it was closed), the
    problem is logged once and the rest of the run goes unrecorded.

    Args:
        store: where to record.
        program: the compiled program that runs.
        context: the run's context (its metadata is recorded).
        namespace: the registry the run's tasks come from.
        targets: the targets the run was asked for (``None``: every task).
        resumed_from: the run this one resumes.
        reused: the tasks whose results this run reuses from ``resumed_from``.
    """

    __slots__ = (
        "_attempt_start",
        "_broken",
        "_cache",
        "_delay",
        "_metadata",
        "namespace",
        "program",
        "resumed_from",
        "reused",
        "run",
        "run_id",
        "store",
        "targets",
    )

    def __init__(
        self,
        store: RunStore,
        program: Program,
        context: RunContext[Any] | None,
        *,
        namespace: str = "default",
        targets: Sequence[str] | None = None,
        resumed_from: str | None = None,
        reused: Sequence[str] = (),
    ) -> None:
        self.store = store
        self.program = program
        self.namespace = namespace
        self.targets = None if targets is None else tuple([targets] if isinstance(targets, str) else targets)
        self.resumed_from = resumed_from
        self.reused = tuple(reused)
        self.run_id: str | None = None
        #: The run being recorded (its clock readings give each task's waits), once it is made.
        self.run: Any = None
        self._metadata = to_json_safe(dict(context.metadata)) if context is not None else {}
        self._attempt_start: dict[str, float] = {}  # task -> start of its attempt 2, 3, ...
        self._delay: dict[str, float] = {}  # task -> the backoff before its next attempt
        self._cache: dict[str, str] = {}  # task -> "hit" or "miss", until its outcome is recorded
        self._broken = False

    def __call__(self, event: RunEvent | TaskEvent) -> None:
        if self._broken:
            return
        kind = event.kind
        try:
            if kind == "task_start":
                if event.attempt > 1:  # type: ignore[union-attr]
                    self._attempt_start[event.task_id] = event.time  # type: ignore[union-attr]
            elif kind == "task_success":
                self._success(event)  # type: ignore[arg-type]
            elif kind == "task_failure" or kind == "task_retry":
                self._failure(event)  # type: ignore[arg-type]
            elif kind == "run_start":
                self._start(event)  # type: ignore[arg-type]
            elif kind == "run_end":
                self._end(event)  # type: ignore[arg-type]
            elif kind == "task_cache_hit" or kind == "task_cache_miss":
                self._cache[event.task_id] = kind[11:]  # type: ignore[union-attr]
        except Warning:
            pass  # a warning the user turned into an error (an unstorable result): the record is queued
        except Exception as exc:
            self._broken = True
            logger.error(
                "recording run %s into %r failed (%s: %s); the run goes on without being recorded",
                self.run_id,
                self.store,
                type(exc).__name__,
                exc,
            )

    def annotate(self, report: ExecutionReport) -> None:
        """Tell ``report`` which run this one resumed and which tasks it reused."""
        if self.resumed_from is not None:
            report.resumed_from = self.resumed_from
            report.reused_tasks = self.reused

    def abandoned(self) -> None:
        """The run stopped on ``KeyboardInterrupt``/``SystemExit`` without its end events."""
        if self.run_id is not None and not self._broken:
            try:
                self.store.run_finished(self.run_id, "failed", time.time())
            except Exception:
                pass  # the process is going down; the run will show as interrupted

    # -- events -----------------------------------------------------------------------

    def _start(self, event: RunEvent) -> None:
        self.run_id = event.run_id
        facts = graph_facts(self.program)
        self.store.run_started(
            RunRecord(
                run_id=event.run_id,
                namespace=self.namespace,
                targets=self.targets,
                graph_fingerprint=facts.fingerprint,
                tasks=facts.shapes,
                config=facts.config,
                metadata=self._metadata,
                start_time=event.time,
                resumed_from=self.resumed_from,
                reused=self.reused,
            )
        )

    def _success(self, event: TaskEvent) -> None:
        task = event.task_id
        attempt = event.attempt
        end = event.end_time if event.end_time is not None else event.time
        start = event.start_time if event.start_time is not None else end
        attempt_start, delay = start, 0.0
        if attempt > 1:
            attempt_start = self._attempt_start.pop(task, start)
            delay = self._waited_before(task, attempt, self._delay.pop(task, 0.0))
        run_id = self.run_id
        assert run_id is not None
        store = self.store
        cache = self._cache.pop(task, None) if self._cache else None
        if attempt:  # a cache hit ran none
            store.attempt_finished(
                run_id, AttemptRecord(task, attempt, "completed", attempt_start, end, delay_before=delay)
            )
        queued, pool_wait = self._waits(task)
        store.task_finished(
            run_id,
            TaskRecord(
                task,
                "completed",
                start,
                end,
                result=event.result,
                queued_duration=queued,
                pool_queued_duration=pool_wait,
                cache=cache,
            ),
        )

    def _waited_before(self, task: str, attempt: int, backoff: float) -> float:
        """What the run measured as waited before ``attempt`` of ``task`` (its backoff, and the
        wait for a rate limit's token), else ``backoff``."""
        run = self.run
        if run is None or attempt < 2:
            return backoff
        i = self.program.graph.index.get(task)
        if i is not None:
            log = run.attempts.get(i)
        else:  # an instance of a mapped task
            records, k = self._instance(task)
            log = records.attempts.get(k) if records is not None else None
        return float(log[attempt - 1][4]) if log is not None and len(log) >= attempt else backoff

    def _waits(self, task: str) -> tuple[float, float]:
        """How long ``task`` waited from ready to its start, and the part of that spent on its pool."""
        run = self.run
        if run is None:
            return 0.0, 0.0
        i = self.program.graph.index.get(task)
        if i is not None:
            return max(0.0, run.start_at[i] - run.ready_at[i]), run.pool_wait.get(i, 0.0)
        records, k = self._instance(task)  # an instance of a mapped task
        if records is None:
            return 0.0, 0.0
        return max(0.0, records.start_at[k] - records.ready_at), records.pool_wait.get(k, 0.0)

    def _instance(self, name: str) -> tuple[Any, int]:
        """The records of the mapped task instance ``name`` (``"embed[3]"``) belongs to, and its index."""
        run = self.run
        base, _, rest = name.rpartition("[")
        i = self.program.graph.index.get(base)
        mapped = run.mapped if run is not None else None
        if i is None or mapped is None or i not in mapped or not rest.endswith("]"):
            return None, 0
        return mapped[i], int(rest[:-1])

    def _failure(self, event: TaskEvent) -> None:
        task = event.task_id
        attempt = event.attempt
        exc = event.error
        status = "timed_out" if isinstance(exc, TaskTimeoutError) else "failed"
        error_type, message, text = _error_fields(exc)
        end = event.end_time if event.end_time is not None else event.time
        start = event.start_time if event.start_time is not None else end
        run_id = self.run_id
        assert run_id is not None
        if event.kind == "task_retry":  # start and end are the failed attempt's
            self._attempt_start.pop(task, None)
            delay = self._waited_before(task, attempt, self._delay.get(task, 0.0))
            self._delay[task] = event.delay
            self.store.attempt_finished(
                run_id, AttemptRecord(task, attempt, status, start, end, error_type, message, text, delay)
            )
            return
        attempt_start = self._attempt_start.pop(task, start) if attempt > 1 else start
        delay = self._delay.pop(task, 0.0)
        if attempt > 1:
            delay = self._waited_before(task, attempt, delay)
        store = self.store
        store.attempt_finished(
            run_id, AttemptRecord(task, attempt, status, attempt_start, end, error_type, message, text, delay)
        )
        queued, pool_wait = self._waits(task)
        store.task_finished(
            run_id,
            TaskRecord(
                task,
                status,
                event.start_time,
                end,
                error_type=error_type,
                error_message=message,
                traceback=text,
                queued_duration=queued,
                pool_queued_duration=pool_wait,
                cache=self._cache.pop(task, None) if self._cache else None,
            ),
        )

    def _end(self, event: RunEvent) -> None:
        run_id = self.run_id
        report = event.report
        if run_id is None or report is None:
            return
        store = self.store
        # Only a run with a task neither completed nor failed has cancelled or skipped tasks.
        stats = (
            report.task_statistics
            if report.successful_tasks + report.failed_tasks < report.total_tasks
            else ()
        )
        for stat in stats:
            status = stat.status
            if status == "cancelled":
                attempts = stat.attempt_statistics
                if attempts and attempts[-1].status == "cancelled":
                    last = attempts[-1]
                    store.attempt_finished(
                        run_id,
                        AttemptRecord(
                            stat.task_name,
                            last.attempt_number,
                            "cancelled",
                            last.start_time,
                            last.end_time,
                            delay_before=last.delay_before,
                        ),
                    )
                store.task_finished(
                    run_id,
                    TaskRecord(
                        stat.task_name,
                        "cancelled",
                        stat.start_time,
                        stat.end_time,
                        error_message=stat.error_message,
                        caused_by=stat.caused_by,
                        queued_duration=stat.queued_duration,
                        pool_queued_duration=stat.pool_queued_duration,
                    ),
                )
            elif status == "skipped":
                store.task_finished(
                    run_id,
                    TaskRecord(
                        stat.task_name,
                        "skipped",
                        None,
                        None,
                        error_message=stat.error_message,
                        caused_by=stat.caused_by,
                    ),
                )
        self._attempt_start.clear()
        self._delay.clear()
        self._cache.clear()
        store.run_finished(run_id, report.execution_state, event.time)
