"""``SchedulerRegistry``: a table of registered tasks that builds, validates and runs them.

Registration and the records live in ``_tasks.py``, below the build; this facade sits above it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError, TaskRegistrationError
from ..core._gcpause import gc_paused
from ..core._graph import TaskOrder
from ..lifecycle._context import RunContext
from ..lifecycle._events import RunEvent, TaskEvent
from ..report._report import ExecutionReport
from ._build import BuildResult, build, select
from ._config import AstrumConfig, check_store, config_identity
from ._tasks import DEFAULT_NAMESPACE, RegisteredTask, TaskTable

if TYPE_CHECKING:
    from ..store._base import RunStore

__all__ = ["DEFAULT_NAMESPACE", "RegisteredTask", "SchedulerRegistry"]

_MAX_CACHED_BUILDS = 8


class SchedulerRegistry(TaskTable):
    """A named set of tasks that can be built into a scheduler and run, any number of times.

    Registration is thread-safe. Builds never modify registered tasks or
    user-supplied `TaskData`, so builds and runs can be repeated and
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
        """A build of the selected tasks, reused while the registry is unchanged (see
        `config_identity` for what the cache key compares)."""
        if config.visualize:  # visualising is part of every build the user asks for
            return build(self, target_tasks, config, concurrency_context=concurrency_context)
        targets = None if target_tasks is None else tuple(target_tasks)
        try:
            key: tuple[Any, ...] | None = (
                self._version,
                targets,
                id(concurrency_context),
                config_identity(config),
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
        """Validate the selected tasks and return their `TaskOrder` list.

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
        """Build a `DynamicScheduler` for the selected tasks (nothing runs yet).

        ``config`` wins over the legacy keywords ``ignore_tail_task``, ``silence``
        and ``visualize``; ``concurrency_context`` (a semaphore) is always honoured;
        ``context`` is the default `RunContext` of the scheduler's runs;
        ``config.store`` records each of its runs.
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

        ``context`` is the `RunContext` given to tasks that ask for one.
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
        """Resume a recorded run: a new run of its targets reusing its completed tasks' results.

        Completed tasks are not called again (their stored results are injected); the rest runs,
        and so do ``from_tasks`` and their descendants. ``store`` (else ``config.store``) holds
        the run and records the new one. See docs/durable-runs.md.

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

    def to_mermaid(
        self, target_tasks: Sequence[str] | None = None, *, config: AstrumConfig | None = None
    ) -> str:
        """The selected tasks as a Mermaid ``flowchart`` (see docs/visualisation.md).

        Data edges are labelled with the field or index they read, ordering-only edges
        are dashed, and each node shows its pool, retries and timeout. ``config`` gives
        the class instances of class-scoped tasks.

        Raises:
            TaskRegistrationError: the tasks do not build (every problem listed, as `validate`).
        """
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


def _implementation(replacement: Any) -> Any:
    """What an override runs: the callable itself, or a coroutine function returning the constant."""
    if callable(replacement):
        return replacement

    async def constant(*_args: Any, **_kwargs: Any) -> Any:
        return replacement

    return constant
