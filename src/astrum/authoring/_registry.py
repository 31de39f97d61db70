"""``SchedulerRegistry`` and ``RegisteredTask``: tasks registered by decorators, built into schedulers."""

from __future__ import annotations

import asyncio
import dataclasses
import operator
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import FunctionType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .._errors import ConfigurationError, TaskRegistrationError
from ..core._graph import TaskOrder
from ..core._policies import Retry, TaskPolicy, as_retry, check_isolation, check_timeout
from ..lifecycle._context import RunContext
from ..lifecycle._events import RunEvent, TaskEvent
from ..report._report import ExecutionReport
from ._config import AstrumConfig, check_store
from ._plain import PlainEntry, SpecEntry, analysable, plain_entry
from ._transport import parse_plain, underlying_function

if TYPE_CHECKING:
    from ..store._base import RunStore
    from ._taskdata import TaskData

__all__ = ["DEFAULT_NAMESPACE", "RegisteredTask", "SchedulerRegistry"]

DEFAULT_NAMESPACE = "default"
_MAX_CACHED_BUILDS = 8

F_ = TypeVar("F_")
Fn = TypeVar("Fn", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class RegisteredTask:
    """A task as registered: its id, the object registered, its dependencies and retry count."""

    task_id: str
    function: Any
    depends_on: tuple[str, ...]
    retry: int
    data: TaskData | None = None
    timeout: float | None = None
    isolation: str = "thread"
    retry_policy: Retry | None = None
    pool: str | None = None
    #: Set by :meth:`SchedulerRegistry.override`: what runs instead of ``function``.
    implementation: Any = None

    @property
    def policy(self) -> TaskPolicy | None:
        """The task's run policy, or ``None`` for a plain call."""
        if self.retry_policy is None and self.timeout is None and self.isolation == "thread":
            return None
        return TaskPolicy(retry=self.retry_policy, timeout=self.timeout, isolation=self.isolation)


def default_task_id(obj: Any) -> str:
    """The id a task gets when none is given: the function's ``__name__``."""
    name = getattr(underlying_function(obj), "__name__", None)
    if not isinstance(name, str) or not name:
        raise TaskRegistrationError(
            f"Cannot derive a task id from {obj!r}: it has no __name__. Pass one explicitly: task('my_task')."
        )
    return name


def _set_attribute(obj: Any, name: str, value: Any) -> None:
    try:
        setattr(obj, name, value)
    except (AttributeError, TypeError):
        pass  # bound methods and some builtins take no attributes


class SchedulerRegistry:
    """A named set of tasks that can be built into a scheduler and run, any number of times.

    Registration is thread-safe. Builds never modify registered tasks or
    user-supplied :class:`TaskData`, so builds and runs can be repeated and
    can run concurrently.
    """

    def __init__(self, name: str = DEFAULT_NAMESPACE) -> None:
        self.name = name
        self._tasks: dict[str, RegisteredTask] = {}
        self._lock = threading.RLock()
        # Parsed annotations per registered task; an entry is used while its record is registered.
        self._spec_cache: dict[str, SpecEntry | PlainEntry] = {}
        # Recent builds, reused while the registry is unchanged: a registry run per request
        # pays for its build once. Keyed by (version, targets, semaphore identity, config); the
        # config's instances, hooks and clock count by identity (see _config_identity).
        self._version = 0
        self._builds: dict[tuple[Any, ...], Any] = {}

    def __repr__(self) -> str:
        return f"SchedulerRegistry(name={self.name!r}, tasks={len(self._tasks)})"

    # -- registration --------------------------------------------------------------------

    @overload
    def task(
        self,
        task_id: str | None = None,
        *,
        depends_on: Sequence[str] | None = None,
        data: TaskData | None = None,
        retry: int | Retry = 0,
        timeout: float | None = None,
        isolation: str = "thread",
        pool: str | None = None,
    ) -> Callable[[F_], F_]: ...

    @overload
    def task(self, task_id: Fn, /) -> Fn: ...

    def task(
        self,
        task_id: str | Callable[..., Any] | None = None,
        *,
        depends_on: Sequence[str] | None = None,
        data: TaskData | None = None,
        retry: int | Retry = 0,
        timeout: float | None = None,
        isolation: str = "thread",
        pool: str | None = None,
    ) -> Any:
        """Decorator registering a function (sync or async) as a task; returns it unchanged.

        Args:
            task_id: the task's id; defaults to the function's ``__name__``.
            depends_on: ids of tasks that must complete first (checked at build).
            data: explicit data-transport description (its ``task_id`` and ``from_tasks`` are filled in).
            retry: extra attempts after a failure: an int (immediate retries) or a :class:`Retry` policy.
            timeout: seconds one attempt may take; a timed-out attempt counts as failed.
            isolation: ``"thread"`` (sync tasks run in a worker thread) or ``"process"`` (a worker
                process, killed at the timeout).
            pool: a named concurrency pool (``AstrumConfig(pools={...})``) the task runs in.

        Raises:
            TaskRegistrationError: duplicate id, or an invalid ``retry``, ``timeout`` or ``isolation``.
        """
        if callable(task_id) and not isinstance(task_id, str):
            return self.task(
                depends_on=depends_on, data=data, retry=retry, timeout=timeout, isolation=isolation, pool=pool
            )(task_id)

        def decorator(fn: F_) -> F_:
            self.register(
                fn,
                task_id,
                depends_on=depends_on,
                data=data,
                retry=retry,
                timeout=timeout,
                isolation=isolation,
                pool=pool,
            )
            return fn

        return decorator

    def register(
        self,
        fn: Any,
        task_id: str | None = None,
        *,
        depends_on: Sequence[str] | None = None,
        data: TaskData | None = None,
        retry: int | Retry = 0,
        timeout: float | None = None,
        isolation: str = "thread",
        pool: str | None = None,
    ) -> RegisteredTask:
        """Register ``fn`` (the non-decorator form of :meth:`task`) and return its record."""
        tid = task_id if task_id is not None else default_task_id(fn)
        if not isinstance(tid, str) or not tid:
            raise TaskRegistrationError(f"Task id must be a non-empty string, got {tid!r}.")
        if isinstance(depends_on, str):
            depends_on = [depends_on]
        deps = tuple(depends_on or ())
        for dep in deps:
            if not isinstance(dep, str):
                raise TaskRegistrationError(
                    f"Task '{tid}' depends_on must list task ids (strings), got {dep!r}."
                )
        with self._lock:
            if tid in self._tasks:
                raise TaskRegistrationError(f"Task '{tid}' already exists in registry '{self.name}'.")
            retry_policy = as_retry(retry, tid)
            seconds = check_timeout(timeout, tid)
            mode = check_isolation(isolation, tid)
            if pool is not None and (not isinstance(pool, str) or not pool):
                raise TaskRegistrationError(f"Task '{tid}' pool must be a non-empty string, got {pool!r}.")
            if data is not None:
                from ._taskdata import TaskData  # pydantic is only loaded when explicit data is used

                if not isinstance(data, TaskData):
                    raise TaskRegistrationError(
                        f"Task '{tid}' data must be a TaskData, got {type(data).__name__}."
                    )
                data.task_id = tid
                for dep in deps:
                    if dep not in data.from_tasks:
                        data.from_tasks.append(dep)
            record = RegisteredTask(
                task_id=tid,
                function=fn,
                depends_on=deps,
                retry=retry_policy.retries if retry_policy else 0,
                data=data,
                timeout=seconds,
                isolation=mode,
                retry_policy=retry_policy,
                pool=pool,
            )
            self._tasks[tid] = record
            self._changed()
            if analysable(record):
                self._analyse(record)
        marks = {
            "_scheduler_task_id": tid,
            "_scheduler_registry": self.name,
            "_scheduler_depends_on": deps,
            "_scheduler_retry": record.retry,
        }
        if data is not None:
            marks["_scheduler_task_data"] = data
        if type(fn) is FunctionType:
            fn.__dict__.update(marks)
        else:
            for key, value in marks.items():
                _set_attribute(fn, key, value)
        return record

    def _analyse(self, record: RegisteredTask) -> None:
        """Parse an analysable function's signature now, when nothing a build is given can change it.

        Evaluated annotations (the common case) are parsed once here; string annotations are
        parsed by the build, which knows the task names they may use.
        """
        spec = parse_plain(record.function)
        if spec is not None:
            self._spec_cache[record.task_id] = plain_entry(record, spec)

    def _changed(self) -> None:
        """Forget cached builds (called with the lock held whenever the task set changes)."""
        self._version += 1
        self._builds.clear()

    def _cached_build(
        self,
        target_tasks: Sequence[str] | None,
        config: AstrumConfig,
        concurrency_context: asyncio.Semaphore | None,
    ) -> Any:
        from ._build import build

        if config.visualize:  # visualising is part of every build the user asks for
            return build(self, target_tasks, config, concurrency_context=concurrency_context)
        targets = None if target_tasks is None else tuple(target_tasks)
        try:
            key: tuple[Any, ...] | None = (
                self._version,
                targets,
                id(concurrency_context),
                _config_identity(config),
                config,
            )
            hash(key)
        except TypeError:  # an unhashable target or tail id: no caching
            key = None
        if key is not None:
            cached = self._builds.get(key)
            if cached is not None and cached.concurrency_context is concurrency_context:
                return cached
        result = build(self, target_tasks, config, concurrency_context=concurrency_context)
        if key is not None:
            with self._lock:
                if key[0] == self._version:
                    if len(self._builds) >= _MAX_CACHED_BUILDS:
                        self._builds.pop(next(iter(self._builds)))
                    self._builds[key] = result.compact()
        return result

    # -- queries -------------------------------------------------------------------------

    def get_task(self, task_id: str) -> RegisteredTask:
        """The record of ``task_id``.

        Raises:
            TaskRegistrationError: no such task.
        """
        try:
            return self._tasks[task_id]
        except KeyError:
            raise TaskRegistrationError(f"Task '{task_id}' is not registered in '{self.name}'.") from None

    def get_all_tasks(self) -> dict[str, RegisteredTask]:
        """A copy of ``{task_id: RegisteredTask}`` in registration order."""
        with self._lock:
            return dict(self._tasks)

    def list_tasks(self) -> list[str]:
        """The registered task ids, in registration order."""
        with self._lock:
            return list(self._tasks)

    def clear(self) -> None:
        """Drop every task."""
        with self._lock:
            self._tasks.clear()
            self._spec_cache.clear()
            self._changed()

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)

    # -- building and running ------------------------------------------------------------

    def build_task_orders(
        self, target_tasks: Sequence[str] | None = None, config: AstrumConfig | None = None
    ) -> list[TaskOrder]:
        """Validate the selected tasks and return their :class:`TaskOrder` list.

        Raises:
            TaskRegistrationError: unknown targets or dependencies, bad annotations, type mismatches
                (every problem listed in one error).
            TaskOrderLoopError: the dependencies form a cycle.
        """
        from ._build import build

        return build(self, target_tasks, config or AstrumConfig()).orders

    def build_tasks(self, target_tasks: Sequence[str] | None = None) -> list[tuple[str, Any]]:
        """The selected ``(task_id, function)`` pairs, in registration order (functions, not coroutines)."""
        from ._build import select

        tasks = self.get_all_tasks()
        return [(tid, tasks[tid].function) for tid in select(self, tasks, target_tasks)]

    def build_scheduler(
        self,
        target_tasks: Sequence[str] | None = None,
        *,
        config: AstrumConfig | None = None,
        ignore_tail_task: Sequence[str] | None = None,
        concurrency_context: asyncio.Semaphore | None = None,
        silence: bool = True,
        visualize: bool = False,
        context: RunContext[Any] | None = None,
    ) -> Any:
        """Build a :class:`~astrum.DynamicScheduler` for the selected tasks (nothing runs yet).

        ``config`` wins over the legacy keywords ``ignore_tail_task``, ``silence``
        and ``visualize``; ``concurrency_context`` (a semaphore) is always honoured;
        ``context`` is the default :class:`~astrum.RunContext` of the scheduler's runs;
        ``config.store`` records each of its runs.
        """
        from ..core._gcpause import gc_paused

        if config is None:
            config = AstrumConfig(
                ignore_tail_task=tuple(ignore_tail_task or ()), silence=silence, visualize=visualize
            )
        elif not config.ignore_tail_task and ignore_tail_task:
            config = dataclasses.replace(config, ignore_tail_task=tuple(ignore_tail_task))
        result = self._cached_build(target_tasks, config, concurrency_context)
        with gc_paused():
            scheduler = result.scheduler()
        scheduler.context = context
        scheduler.store = config.store
        scheduler._store_label = {"namespace": self.name, "targets": target_tasks}
        return scheduler

    async def run(
        self,
        target_tasks: Sequence[str] | None = None,
        config: AstrumConfig | None = None,
        *,
        context: RunContext[Any] | None = None,
        store: RunStore | None = None,
    ) -> ExecutionReport:
        """Build and execute the selected tasks; return the report.

        ``context`` is the :class:`~astrum.RunContext` given to tasks that ask for one.
        ``store`` (else ``config.store``) records the run as it happens, under ``report.run_id``.

        Raises:
            ConfigurationTypeError: ``store`` is not a run store (also a ``TypeError``).
        """
        scheduler = self.build_scheduler(target_tasks, config=config)
        if store is not None:
            scheduler.store = check_store(store, "run(store=...)")
        report: ExecutionReport = await scheduler.execute(context=context)
        return report

    async def resume(
        self,
        run_id: str,
        *,
        from_tasks: Sequence[str] | None = None,
        store: RunStore | None = None,
        config: AstrumConfig | None = None,
        context: RunContext[Any] | None = None,
        allow_changed: bool = False,
    ) -> ExecutionReport:
        """Resume a recorded run: a new run of its targets that reuses its completed tasks' results.

        Completed tasks are not called again (their stored results are injected as in the first
        run); the rest runs, and so do ``from_tasks`` and their descendants. ``store`` (else
        ``config.store``) holds the run and records the new one (``report.resumed_from``,
        ``report.reused_tasks``). See docs/durable-runs.md.

        Raises:
            UnknownRunError: the store has no run ``run_id``.
            ResumeError: the graph changed (pass ``allow_changed=True`` to rerun the changed tasks
                and their descendants), ``from_tasks`` names unknown tasks, the run is still
                running, or no store was given.
        """
        from ._resume import resume_run

        return await resume_run(
            self,
            run_id,
            from_tasks=from_tasks,
            store=store,
            config=config,
            context=context,
            allow_changed=allow_changed,
        )

    def stream(
        self,
        target_tasks: Sequence[str] | None = None,
        *,
        config: AstrumConfig | None = None,
        context: RunContext[Any] | None = None,
    ) -> AsyncIterator[RunEvent | TaskEvent]:
        """Run and yield its events as they happen; the last one is the run end (with the report).

        Breaking out of the ``async for`` cancels the run cleanly.
        """
        from ..lifecycle._stream import stream_scheduler

        return stream_scheduler(self.build_scheduler(target_tasks, config=config), context)

    async def run_many(
        self,
        contexts: Iterable[RunContext[Any]] | AsyncIterable[RunContext[Any]],
        target_tasks: Sequence[str] | None = None,
        *,
        config: AstrumConfig | None = None,
        concurrency: int = 1,
    ) -> list[ExecutionReport]:
        """One run per context (a micro-batch), at most ``concurrency`` at a time; reports in order.

        The registry is built once; every run keeps its own values and report.

        Raises:
            ConfigurationError: ``concurrency`` is not a positive int (also a ``ValueError``).
        """
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"run_many() concurrency must be a positive int, got {concurrency!r}")
        scheduler = self.build_scheduler(target_tasks, config=config)
        gate = asyncio.Semaphore(concurrency)

        async def one(context: RunContext[Any]) -> ExecutionReport:
            async with gate:
                report: ExecutionReport = await scheduler.execute(context=context)
                return report

        runs: list[asyncio.Task[ExecutionReport]] = []
        try:
            if isinstance(contexts, AsyncIterable):
                async for context in contexts:
                    runs.append(asyncio.ensure_future(one(context)))
            else:
                runs.extend(asyncio.ensure_future(one(context)) for context in contexts)
            return list(await asyncio.gather(*runs))
        except BaseException:
            for pending in runs:
                pending.cancel()
            if runs:
                await asyncio.wait(runs)
            raise

    def validate(self, target_tasks: Sequence[str] | None = None, config: AstrumConfig | None = None) -> None:
        """Check the selected tasks without running anything.

        Without ``config``, pool names are not checked (pools are defined by the run's configuration).

        Raises:
            TaskRegistrationError: listing every problem found (unknown tasks or dependencies,
                bad annotations and locators, unprovided parameters, type mismatches, cycles).
        """
        from ._build import build

        build(self, target_tasks, config or AstrumConfig(), collect_all=True, check_pools=config is not None)

    def to_mermaid(
        self, target_tasks: Sequence[str] | None = None, *, config: AstrumConfig | None = None
    ) -> str:
        """The selected tasks as a Mermaid ``flowchart`` (see docs/visualisation.md).

        Data edges are labelled with the field or index they read, ordering-only edges
        are dashed, and each node shows its pool, retries and timeout. ``config`` gives
        the class instances of class-scoped tasks.

        Raises:
            TaskRegistrationError: the tasks do not build (every problem listed, as :meth:`validate`).
        """
        from ._build import build
        from ._graphview import build_mermaid, drawing_config

        result = build(self, target_tasks, drawing_config(config), collect_all=True, check_pools=False)
        return build_mermaid(result)

    def override(self, replacements: Mapping[str, Any]) -> SchedulerRegistry:
        """A new registry with the same graph and some implementations replaced (for tests).

        A constant becomes the task's result; a callable is called instead of the
        task, with the same injected arguments. The original registry is unchanged.

        Raises:
            TaskRegistrationError: an id that is not registered.
        """
        unknown = sorted(set(replacements) - set(self._tasks))
        if unknown:
            raise TaskRegistrationError(
                f"Cannot override tasks {unknown}: not registered in '{self.name}'. Registered: {self.list_tasks()}"
            )
        copy = SchedulerRegistry(self.name)
        with self._lock:
            for tid, record in self._tasks.items():
                if tid in replacements:
                    record = dataclasses.replace(record, implementation=_implementation(replacements[tid]))
                copy._tasks[tid] = record
        return copy


# In the build cache's key, fields annotated with plain value types count by value and every
# other field (class instances, hooks, the clock, and any field added later) by identity: a
# cached build calls methods of the instances it was built with and tells the hooks it was
# built with, so an equal copy is another configuration.
_VALUE_TYPES = frozenset(
    {
        "bool",
        "int",
        "float",
        "str",
        "int | None",
        "float | None",
        "str | None",
        "Sequence[str]",
        "Mapping[str, int]",
    }
)
_config_objects = operator.attrgetter(
    *[f.name for f in dataclasses.fields(AstrumConfig) if f.type not in _VALUE_TYPES]
)


def _identity(value: Any) -> Any:
    """``id(value)``, or the ids of a tuple's items."""
    return tuple(map(id, value)) if type(value) is tuple else id(value)


def _config_identity(config: AstrumConfig) -> tuple[Any, ...]:
    """The identities of ``config``'s object fields.

    They stand before the config in the cache key: a key with other objects differs
    there, before the configs' ``==`` could call ``__eq__`` of the user's objects. The
    cached build holds its config, so these ids are not reused while it is cached.
    """
    return tuple(map(_identity, _config_objects(config)))


def _implementation(replacement: Any) -> Any:
    """What an override runs: the callable itself, or a coroutine function returning the constant."""
    if callable(replacement):
        return replacement

    async def constant(*_args: Any, **_kwargs: Any) -> Any:
        return replacement

    return constant
