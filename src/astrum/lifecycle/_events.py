"""Run and task events, the ``RunHook`` interface, and their delivery.

Events are delivered in the order they happen (a task's start before its end,
a dependency's end before its dependents' start) by one dispatcher task per
run, so a slow async hook never delays task starts. A hook that raises is
logged through the ``astrum`` logger and never changes the run's outcome.
Listeners (astrum's own run recording) are called inside ``emit()`` instead,
as the event happens.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationTypeError

if TYPE_CHECKING:
    from ..report._report import ExecutionReport

__all__ = ["EventBus", "RunEvent", "RunHook", "TaskEvent", "fn_hook", "task_event"]

logger = logging.getLogger("astrum")


@dataclass(frozen=True)
class RunEvent:
    """The start or the end of a run. ``report`` is set on the run-end event; ``namespace``
    names the registry's namespace when the run came from one."""

    kind: str  # "run_start" | "run_end"
    run_id: str
    time: float
    total_tasks: int = 0
    report: ExecutionReport | None = None
    namespace: str | None = None


@dataclass(frozen=True)
class TaskEvent:
    """Something that happened to one task.

    ``kind`` is one of ``task_start``, ``task_success``, ``task_failure``,
    ``task_retry``, ``task_skip``, ``task_cancel``, and for a task with ``cache=``
    ``task_cache_hit`` (its result came from the cache: no attempt runs, its
    ``task_success`` follows with ``attempt`` 0) or ``task_cache_miss`` (its
    attempts run next). ``time`` is when it
    happened (epoch seconds); ``start_time``/``end_time`` bound the failed
    attempt of a retry event, and the whole task (first attempt's start to the
    end) of success, failure and cancel events;
    ``error`` is the exception of a failure or retry; ``delay`` the wait
    before a retry; ``caused_by`` the failed task behind a skip; ``result``
    the value the task returned, on ``task_success`` and ``task_cache_hit`` (``None``
    on the others).
    """

    kind: str
    run_id: str
    task_id: str
    attempt: int
    time: float
    start_time: float | None = None
    end_time: float | None = None
    error: BaseException | None = None
    delay: float = 0.0
    caused_by: str | None = None
    result: Any = None


_new_event = object.__new__
_set_state = object.__setattr__


def task_event(
    kind: str,
    run_id: str,
    task_id: str,
    attempt: int,
    time: float,
    start_time: float | None,
    end_time: float | None,
    error: BaseException | None,
    delay: float,
    result: Any,
) -> TaskEvent:
    """The engine's ``TaskEvent(...)`` (``caused_by=None``), made at a third of the cost.

    A run with hooks, a stream or a store makes two events per task; a frozen dataclass sets
    its fields one ``object.__setattr__`` at a time, this sets the instance dict at once.
    """
    event: TaskEvent = _new_event(TaskEvent)
    _set_state(
        event,
        "__dict__",
        {
            "kind": kind,
            "run_id": run_id,
            "task_id": task_id,
            "attempt": attempt,
            "time": time,
            "start_time": start_time,
            "end_time": end_time,
            "error": error,
            "delay": delay,
            "caused_by": None,
            "result": result,
        },
    )
    return event


class RunHook:
    """Base class for run hooks: override the methods you need (sync or async); the rest do nothing."""

    def on_run_start(self, event: RunEvent) -> Any:
        """The run is about to start its first task."""

    def on_run_end(self, event: RunEvent) -> Any:
        """The run is over; ``event.report`` is its report."""

    def on_task_start(self, event: TaskEvent) -> Any:
        """An attempt of a task begins (a sync one: when a worker thread takes it)."""

    def on_task_success(self, event: TaskEvent) -> Any:
        """A task returned."""

    def on_task_failure(self, event: TaskEvent) -> Any:
        """A task failed for good (or timed out on its last attempt)."""

    def on_task_retry(self, event: TaskEvent) -> Any:
        """An attempt failed and the task will be tried again after ``event.delay``."""

    def on_task_skip(self, event: TaskEvent) -> Any:
        """A task never started because ``event.caused_by`` failed (or the run stopped)."""

    def on_task_cancel(self, event: TaskEvent) -> Any:
        """A running task was cancelled because the run stopped."""

    def on_task_cache_hit(self, event: TaskEvent) -> Any:
        """A cached task's result came from the run store's cache (``event.result``); no attempt runs."""

    def on_task_cache_miss(self, event: TaskEvent) -> Any:
        """A cached task found no entry for its inputs: its attempts run, then its result is cached."""

    # Advanced: a hook may also define ``task_context(event, pool)`` (a plain method, not async).
    # The engine then calls it synchronously, as things happen rather than through the
    # dispatcher: once with the ``run_start`` event before any task starts, then with a
    # ``task_start`` event (and the task's pool name or ``None``) as each attempt's body is
    # about to begin, inside the task's own context. Context variables it sets there are seen
    # by that attempt's body (a sync body too: its worker thread runs in a copy of that
    # context) and end with the task. Runs with such a hook give up two shortcuts: sync tasks
    # run from an asyncio task and async tasks never start inline. See ``astrum.otel``.


_METHODS = {
    "run_start": "on_run_start",
    "run_end": "on_run_end",
    "task_start": "on_task_start",
    "task_success": "on_task_success",
    "task_failure": "on_task_failure",
    "task_retry": "on_task_retry",
    "task_skip": "on_task_skip",
    "task_cancel": "on_task_cancel",
    "task_cache_hit": "on_task_cache_hit",
    "task_cache_miss": "on_task_cache_miss",
}


def fn_hook(**callbacks: Callable[[Any], Any]) -> RunHook:
    """A `RunHook` from callables: ``fn_hook(on_task_failure=alert, on_run_end=log)``.

    Raises:
        ConfigurationTypeError: a keyword that is not a hook method, or a value that is not
            callable (also a ``TypeError``).
    """
    unknown = sorted(set(callbacks) - set(_METHODS.values()))
    if unknown:
        raise ConfigurationTypeError(
            f"fn_hook() got unknown hook names {unknown}; valid names: {sorted(_METHODS.values())}"
        )
    for name, fn in callbacks.items():
        if not callable(fn):
            raise ConfigurationTypeError(f"fn_hook({name}=...) must be callable, got {type(fn).__name__}")
    hook = RunHook()
    for name, fn in callbacks.items():
        setattr(hook, name, fn)
    return hook


Event = RunEvent | TaskEvent


class EventBus:
    """Delivers one run's events, in order, to hooks (via a dispatcher task), to stream queues
    and to listeners.

    A listener is called with each event inside `emit`, on the loop, before ``emit``
    returns: it must be quick and must not raise.
    """

    def __init__(
        self,
        hooks: list[RunHook],
        queues: list[asyncio.Queue[Event]],
        listeners: Sequence[Callable[[Event], None]] = (),
        *,
        namespace: str | None = None,
    ) -> None:
        self.hooks = [h for h in hooks if h is not None]
        self.queues = queues
        self.listeners = tuple(listeners)
        self.namespace = namespace
        #: The hooks' ``task_context`` methods as one callable (``None``: no hook has one).
        self.task_context = _task_context(self.hooks)
        self._pending: asyncio.Queue[Event | None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.hooks:
            self._pending = asyncio.Queue()
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch())

    def emit(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)
        for queue in self.queues:
            queue.put_nowait(event)
        if self._pending is not None:
            self._pending.put_nowait(event)

    async def close(self) -> None:
        """Wait until every hook has seen every event.

        Raises:
            asyncio.CancelledError: the caller cancelled; the dispatcher was cancelled and awaited first.
        """
        if self._pending is not None and self._dispatcher is not None:
            self._pending.put_nowait(None)
            try:
                await asyncio.wait([self._dispatcher])
            except asyncio.CancelledError:
                await self.abort()
                raise

    async def abort(self) -> None:
        """Cancel the dispatcher and wait until it has ended.

        A cancellation of the caller meanwhile cancels the dispatcher again and goes on
        waiting: nothing is left pending. Callers re-raise their own cancellation.
        """
        dispatcher = self._dispatcher
        if dispatcher is None or dispatcher.done():
            return
        if self._pending is not None:
            self._pending.put_nowait(None)  # ends it even if a hook swallows the cancellation
        while not dispatcher.done():
            dispatcher.cancel()
            try:
                await asyncio.wait([dispatcher])
            except asyncio.CancelledError:
                continue

    async def _dispatch(self) -> None:
        assert self._pending is not None
        while True:
            event = await self._pending.get()
            if event is None:
                return
            method = _METHODS[event.kind]
            for hook in self.hooks:
                callback = getattr(hook, method, None)
                if callback is None:
                    continue
                try:
                    result = callback(event)
                    if inspect.isawaitable(result):
                        await result
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("hook %s.%s raised; the run goes on", type(hook).__name__, method)


TaskContext = Callable[[Event, "str | None"], None]


def _task_context(hooks: list[RunHook]) -> TaskContext | None:
    """The ``task_context`` methods of ``hooks`` (see `RunHook`) called as one; one that
    raises is logged and never changes the run's outcome."""
    methods = [(h, m) for h in hooks if (m := getattr(h, "task_context", None)) is not None]
    if not methods:
        return None

    def each(event: Event, pool: str | None) -> None:
        for hook, method in methods:
            try:
                method(event, pool)
            except Exception:
                logger.exception("hook %s.task_context raised; the run goes on", type(hook).__name__)

    return each
