"""``SchedulerRegistry``: a table of registered tasks that builds, validates and runs them.

Registration and the records live in ``_tasks.py``, below the build; this facade sits above it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import operator
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from .._errors import ConfigurationError, TaskRegistrationError
from ..core._gcpause import gc_paused
from ..core._graph import TaskOrder
from ..lifecycle._context import RunContext
from ..lifecycle._events import RunEvent, TaskEvent
from ..report._report import ExecutionReport
from ._build import BuildResult, build, select
from ._config import AstrumConfig
from ._tasks import DEFAULT_NAMESPACE, RegisteredTask, TaskTable

__all__ = ["DEFAULT_NAMESPACE", "RegisteredTask", "SchedulerRegistry"]

_MAX_CACHED_BUILDS = 8


class SchedulerRegistry(TaskTable):
    """A named set of tasks that can be built into a scheduler and run, any number of times.

    Registration is thread-safe. Builds never modify registered tasks or
    user-supplied :class:`TaskData`, so builds and runs can be repeated and
    can run concurrently.
    """

    def __repr__(self) -> str:
        return f"SchedulerRegistry(name={self.name!r}, tasks={len(self._tasks)})"

    def _cached_build(
        self,
        target_tasks: Sequence[str] | None,
        config: AstrumConfig,
        concurrency_context: asyncio.Semaphore | None,
    ) -> BuildResult:
        """A build of the selected tasks, reused while the registry is unchanged.

        The config's instances, hooks and clock count by identity in the cache key (see
        :func:`_config_identity`).
        """
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
            cached: BuildResult | None = self._builds.get(key)
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
        return build(self, target_tasks, config or AstrumConfig()).orders

    def build_tasks(self, target_tasks: Sequence[str] | None = None) -> list[tuple[str, Any]]:
        """The selected ``(task_id, function)`` pairs, in registration order (functions, not coroutines)."""
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
        ``context`` is the default :class:`~astrum.RunContext` of the scheduler's runs.
        """
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
        return scheduler

    async def run(
        self,
        target_tasks: Sequence[str] | None = None,
        config: AstrumConfig | None = None,
        *,
        context: RunContext[Any] | None = None,
    ) -> ExecutionReport:
        """Build and execute the selected tasks; return the report.

        ``context`` is the :class:`~astrum.RunContext` given to tasks that ask for one.
        """
        scheduler = self.build_scheduler(target_tasks, config=config)
        report: ExecutionReport = await scheduler.execute(context=context)
        return report

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
        from ..lifecycle._stream import stream_scheduler  # loaded by the first stream only

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
        build(self, target_tasks, config or AstrumConfig(), collect_all=True, check_pools=config is not None)

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
