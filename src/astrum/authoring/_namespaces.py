"""Module-level registries by namespace, and the functions that use them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ..core._cache import Cache
from ..core._graph import TaskOrder
from ..core._policies import Retry
from ..lifecycle._context import RunContext
from ..lifecycle._events import RunEvent, TaskEvent
from ..report._report import ExecutionReport
from ._config import AstrumConfig, check_store
from ._registry import DEFAULT_NAMESPACE, SchedulerRegistry

if TYPE_CHECKING:
    from ..store._base import RunStore
    from ._taskdata import TaskData

__all__ = [
    "active_namespace",
    "build_scheduler",
    "build_task_orders",
    "clear_registry",
    "get_registry",
    "resume",
    "run",
    "stream",
    "task",
    "to_mermaid",
    "use_namespace",
]

_T = TypeVar("_T")
_Fn = TypeVar("_Fn", bound=Callable[..., Any])

_registries: dict[str, SchedulerRegistry] = {}
_registries_lock = threading.Lock()
# The stack of namespaces entered with use_namespace(); new threads start with the default.
_namespace_stack: ContextVar[tuple[str, ...]] = ContextVar("astrum_namespace_stack", default=())


def active_namespace() -> str:
    """The innermost namespace entered with `use_namespace`, else ``"default"``."""
    stack = _namespace_stack.get()
    return stack[-1] if stack else DEFAULT_NAMESPACE


def get_registry(namespace: str | None = None) -> SchedulerRegistry:
    """The registry of ``namespace`` (default: the active one), created on first use."""
    name = active_namespace() if namespace is None else namespace
    registry = _registries.get(name)
    if registry is None:
        with _registries_lock:
            registry = _registries.get(name)
            if registry is None:
                registry = SchedulerRegistry(name)
                _registries[name] = registry
    return registry


def clear_registry(namespace: str | None = None) -> None:
    """Forget the tasks of ``namespace``, or of every namespace when ``None``."""
    with _registries_lock:
        if namespace is None:
            for registry in _registries.values():
                registry.clear()
            _registries.clear()
        else:
            if namespace in _registries:
                _registries.pop(namespace).clear()


@contextmanager
def use_namespace(namespace: str) -> Iterator[SchedulerRegistry]:
    """Register tasks into ``namespace`` inside the ``with`` block (nestable; restored on exit)."""
    token = _namespace_stack.set((*_namespace_stack.get(), namespace))
    try:
        yield get_registry(namespace)
    finally:
        _namespace_stack.reset(token)


@overload
def task(
    task_id: str | None = None,
    *,
    depends_on: Sequence[str] | None = None,
    data: TaskData | None = None,
    namespace: str | None = None,
    retry: int | Retry = 0,
    timeout: float | None = None,
    isolation: str = "thread",
    pool: str | None = None,
    executor: str | None = None,
    map: str | Sequence[str] | None = None,
    max_parallel: int | None = None,
    cache: Cache | None = None,
) -> Callable[[_T], _T]: ...


@overload
def task(task_id: _Fn, /) -> _Fn: ...


def task(
    task_id: str | Callable[..., Any] | None = None,
    *,
    depends_on: Sequence[str] | None = None,
    data: TaskData | None = None,
    namespace: str | None = None,
    retry: int | Retry = 0,
    timeout: float | None = None,
    isolation: str = "thread",
    pool: str | None = None,
    executor: str | None = None,
    map: str | Sequence[str] | None = None,
    max_parallel: int | None = None,
    cache: Cache | None = None,
) -> Any:
    """Decorator registering a function as a task; returns the function unchanged.

    The namespace is fixed when the decorator is applied: ``namespace=`` if
    given, else the innermost `use_namespace`, else ``"default"``.

    Args:
        task_id: the task's id; defaults to the function's ``__name__``.
        depends_on: ids of tasks that must complete first (checked at build).
        data: explicit data-transport description.
        namespace: the registry to register into.
        retry: extra attempts after a failure: an int (immediate) or a `Retry` policy.
        timeout: seconds one attempt may take.
        isolation: ``"thread"`` or ``"process"`` (a killable worker process).
        pool: a named concurrency pool (``AstrumConfig(pools={...})``).
        executor: a named executor (``AstrumConfig(executors={...})``) for a sync task.
        map: the parameter(s) to map over: one task instance per item (see docs/mapping.md).
        max_parallel: the most instances of a mapped task running at once.
        cache: reuse the task's result across runs while its code and injected inputs match:
            ``Cache(ttl=None, key=None, version=None)``; entries live in the run's store
            (``run(store=...)`` or ``AstrumConfig(store=...)``). See docs/caching.md.

    Raises:
        TaskRegistrationError: duplicate id, or an invalid ``retry``, ``timeout``, ``isolation``,
            ``map``, ``max_parallel`` or ``cache``.
    """
    if callable(task_id) and not isinstance(task_id, str):
        return task(
            depends_on=depends_on,
            data=data,
            namespace=namespace,
            retry=retry,
            timeout=timeout,
            isolation=isolation,
            pool=pool,
            executor=executor,
            map=map,
            max_parallel=max_parallel,
            cache=cache,
        )(task_id)

    def decorator(fn: Any) -> Any:
        # The namespace is looked up now, when the decorator is applied, not when task() was called.
        get_registry(namespace).register(
            fn,
            task_id,
            depends_on=depends_on,
            data=data,
            retry=retry,
            timeout=timeout,
            isolation=isolation,
            pool=pool,
            executor=executor,
            map=map,
            max_parallel=max_parallel,
            cache=cache,
        )
        return fn

    return decorator


def build_task_orders(
    target_tasks: Sequence[str] | None = None,
    *,
    namespace: str | None = None,
    config: AstrumConfig | None = None,
    visualize: bool = False,
) -> list[TaskOrder]:
    """`SchedulerRegistry.build_task_orders` on the namespace's registry."""
    if config is None and visualize:
        config = AstrumConfig(visualize=True)
    return get_registry(namespace).build_task_orders(target_tasks, config=config)


def build_scheduler(
    target_tasks: Sequence[str] | None = None,
    *,
    namespace: str | None = None,
    config: AstrumConfig | None = None,
    ignore_tail_task: Sequence[str] | None = None,
    concurrency_context: asyncio.Semaphore | None = None,
    silence: bool = True,
    visualize: bool = False,
    context: RunContext[Any] | None = None,
) -> Any:
    """`SchedulerRegistry.build_scheduler` on the namespace's registry."""
    return get_registry(namespace).build_scheduler(
        target_tasks,
        config=config,
        ignore_tail_task=ignore_tail_task,
        concurrency_context=concurrency_context,
        silence=silence,
        visualize=visualize,
        context=context,
    )


async def run(
    target_tasks: Sequence[str] | None = None,
    *,
    namespace: str | None = None,
    config: AstrumConfig | None = None,
    visualize: bool = False,
    context: RunContext[Any] | None = None,
    store: RunStore | None = None,
) -> ExecutionReport:
    """Build and execute the namespace's tasks (or ``target_tasks`` and what they need).

    ``context`` is the `RunContext` given to tasks that ask for one.
    ``store`` (else ``config.store``) records the run as it happens, under ``report.run_id``.
    """
    if config is None and visualize:
        config = AstrumConfig(visualize=True)
    scheduler = get_registry(namespace).build_scheduler(target_tasks, config=config)
    if store is not None:
        scheduler.store = check_store(store, "run(store=...)")
    report: ExecutionReport = await scheduler.execute(context=context)
    return report


async def resume(
    run_id: str,
    *,
    from_tasks: Sequence[str] | None = None,
    store: RunStore | None = None,
    namespace: str | None = None,
    config: AstrumConfig | None = None,
    context: RunContext[Any] | None = None,
    allow_changed: bool = False,
) -> ExecutionReport:
    """Resume a recorded run with the tasks of its namespace: see `SchedulerRegistry.resume`.

    ``namespace`` defaults to the namespace the run was recorded under.

    Raises:
        UnknownRunError: the store has no run ``run_id``.
        ResumeError: the run cannot be resumed as asked (the message says why and what to do).
    """
    from ._resume import pick_store

    if namespace is None:
        namespace = pick_store(run_id, store, config).run(run_id).namespace
    return await get_registry(namespace).resume(
        run_id,
        from_tasks=from_tasks,
        store=store,
        config=config,
        context=context,
        allow_changed=allow_changed,
    )


def stream(
    target_tasks: Sequence[str] | None = None,
    *,
    namespace: str | None = None,
    config: AstrumConfig | None = None,
    context: RunContext[Any] | None = None,
) -> AsyncIterator[RunEvent | TaskEvent]:
    """Run the namespace's tasks and yield their events as they happen (see `SchedulerRegistry.stream`)."""
    return get_registry(namespace).stream(target_tasks, config=config, context=context)


def to_mermaid(
    namespace: str | None = None,
    target_tasks: Sequence[str] | None = None,
    *,
    config: AstrumConfig | None = None,
) -> str:
    """`SchedulerRegistry.to_mermaid` on the namespace's registry (default: the active one)."""
    return get_registry(namespace).to_mermaid(target_tasks, config=config)
