"""The systems under test: one adapter per way of running a workload.

An adapter prepares the task callables in ``__init__`` (not timed: that is user
code), then ``build()`` is timed as *build* and ``await run()`` as *run*;
``check()`` (not timed) raises if the run did not complete every task.

Orchestrators are imported inside the adapters, never at module level: the
peer systems (``upstream``, ``flowrun``) run this module under another virtual
environment's interpreter, where ``astrum`` is a different package.
"""

from __future__ import annotations

import asyncio
import importlib
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from workloads import Workload

__all__ = ["PEERS_DIR", "SYSTEMS", "Adapter", "SystemSpec", "package_info"]

#: Where ``make bench-peers`` creates the peer virtual environments (relative to the repo root).
PEERS_DIR = "benchmarks/.peers"

AsyncBody = Callable[[], Awaitable[Any]]
SyncBody = Callable[[], Any]


# -- task bodies ----------------------------------------------------------------------------------


async def _async_noop() -> None:
    return None


def _sync_noop() -> None:
    return None


def _async_sleeper(delay: float) -> AsyncBody:
    async def sleep() -> None:
        await asyncio.sleep(delay)

    return sleep


def _sync_sleeper(delay: float) -> SyncBody:
    def sleep() -> None:
        time.sleep(delay)

    return sleep


def _bodies(workload: Workload, *, sync: bool) -> list[tuple[str, Callable[[], Any]]]:
    """One ``(name, body)`` per task; bodies are shared between tasks with the same sleep."""
    durations = workload.durations or {}
    cache: dict[float, Callable[[], Any]] = {}
    bodies: list[tuple[str, Callable[[], Any]]] = []
    for name, _ in workload.tasks:
        delay = durations.get(name, 0.0)
        body = cache.get(delay)
        if body is None:
            if delay:
                body = _sync_sleeper(delay) if sync else _async_sleeper(delay)
            else:
                body = _sync_noop if sync else _async_noop
            cache[delay] = body
        bodies.append((name, body))
    return bodies


def _task_function(name: str, delay: float, source: str | None, from_: Any) -> Callable[..., Any]:
    """A distinct async function per task, as a decorator-based user would write.

    With ``source`` the function takes ``value: Ref[int, F(source)]`` and returns
    ``value + 1``; without, it returns 0. Each gets its own ``__name__`` and
    ``__qualname__`` (upstream Astrum rejects factory closures sharing a qualname).
    """
    if source is None:

        async def fn() -> int:
            if delay:
                await asyncio.sleep(delay)
            return 0

        fn.__annotations__ = {"return": int}
    else:

        async def fn(value: int) -> int:  # type: ignore[misc]
            if delay:
                await asyncio.sleep(delay)
            return value + 1

        fn.__annotations__ = {"value": Annotated[int, from_(source)], "return": int}
    fn.__name__ = fn.__qualname__ = name
    return fn


def _task_functions(workload: Workload, from_: Any) -> list[tuple[str, list[str], Callable[..., Any]]]:
    """``(name, deps, function)`` per task; with ``from_`` (astrum's ``F``) data-passing tasks get a Ref."""
    durations = workload.durations or {}
    functions: list[tuple[str, list[str], Callable[..., Any]]] = []
    for name, deps in workload.tasks:
        source = deps[0] if workload.passes_data and deps and from_ is not None else None
        functions.append((name, list(deps), _task_function(name, durations.get(name, 0.0), source, from_)))
    return functions


def _check_report(report: Any, workload: Workload) -> None:
    state = getattr(report.execution_state, "value", report.execution_state)
    if state != "completed" or report.successful_tasks != workload.size:
        summary = list(report.error_summary)[:1]
        raise RuntimeError(
            f"run {state}, {report.successful_tasks}/{workload.size} tasks completed {summary}"
        )


def package_info(module: str) -> str:
    """``name version (path)`` of an imported orchestrator, for the report."""
    from importlib import metadata

    mod = importlib.import_module(module)
    dist = "flowrun-dag" if module == "flowrun" else module
    try:
        version = metadata.version(dist)
    except metadata.PackageNotFoundError:
        version = getattr(mod, "__version__", "?")
    return f"{dist} {version} ({mod.__file__})"


# -- adapters -------------------------------------------------------------------------------------


class Adapter(ABC):
    """Runs one workload once. Construct (untimed), ``build()``, ``await run()``, ``check()``."""

    #: Module whose version is reported.
    module: str | None = None

    def __init__(self, workload: Workload) -> None:
        self.workload = workload

    @abstractmethod
    def build(self) -> None:
        """Everything the system needs before running: registration, graph construction."""

    @abstractmethod
    async def run(self) -> None:
        """Execute every task once."""

    def check(self) -> None:
        """Raise if the run did not complete every task."""


class BaselineAdapter(Adapter):
    """Hand-written asyncio: one ``asyncio.Task`` per node awaiting its parents' tasks."""

    def __init__(self, workload: Workload) -> None:
        super().__init__(workload)
        self.bodies = [body for _, body in _bodies(workload, sync=False)]
        self.parents: list[tuple[int, ...]] = []
        self.completed = 0

    def build(self) -> None:
        index = {name: i for i, (name, _) in enumerate(self.workload.tasks)}
        self.parents = [tuple(index[d] for d in deps) for _, deps in self.workload.tasks]

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        bodies = self.bodies

        async def node(i: int, parents: list[asyncio.Task[None]]) -> None:
            if len(parents) == 1:
                await parents[0]
            elif parents:
                await asyncio.gather(*parents)
            await bodies[i]()

        tasks: list[asyncio.Task[None]] = []
        for i, ps in enumerate(self.parents):
            tasks.append(loop.create_task(node(i, [tasks[p] for p in ps])))
        await asyncio.gather(*tasks)
        self.completed = sum(1 for t in tasks if t.done() and not t.cancelled())

    def check(self) -> None:
        if self.completed != self.workload.size:
            raise RuntimeError(f"{self.completed}/{self.workload.size} tasks completed")


class SchedulerAdapter(Adapter):
    """``astrum.DynamicScheduler`` with ``TaskOrder`` objects and shared no-op async callables."""

    module = "astrum"
    sync = False

    def __init__(self, workload: Workload) -> None:
        super().__init__(workload)
        self.astrum: Any = importlib.import_module("astrum")
        self.callables = _bodies(workload, sync=self.sync)
        self.scheduler: Any = None
        self.report: Any = None

    def build(self) -> None:
        task_order = self.astrum.TaskOrder
        orders: dict[str, Any] = {}
        for name, deps in self.workload.tasks:
            orders[name] = task_order(name, [orders[d] for d in deps])
        self.scheduler = self.astrum.DynamicScheduler(self.callables, list(orders.values()))

    async def run(self) -> None:
        self.report = await self.scheduler.execute()

    def check(self) -> None:
        _check_report(self.report, self.workload)


class SyncSchedulerAdapter(SchedulerAdapter):
    """The same with plain (sync) callables."""

    sync = True


class RegistryAdapter(Adapter):
    """``astrum.SchedulerRegistry`` with ``@reg.task(name, depends_on=[...])``.

    Build = registration + ``reg.build_scheduler(config)``; run = ``scheduler.execute()``
    (``reg.run()`` is exactly these two steps). In the ``chain`` workload every task
    receives its parent's value through ``value: Ref[int, F(parent)]``.
    """

    module = "astrum"
    via_run = False

    def __init__(self, workload: Workload) -> None:
        super().__init__(workload)
        self.astrum: Any = importlib.import_module("astrum")
        self.config = self.astrum.AstrumConfig(skip_type_check=True, silence_warnings=True)
        self.functions = _task_functions(workload, self.astrum.F)
        self.registry: Any = None
        self.scheduler: Any = None
        self.report: Any = None

    def build(self) -> None:
        registry = self.astrum.SchedulerRegistry("bench")
        for name, deps, fn in self.functions:
            registry.task(name, depends_on=deps)(fn)
        self.registry = registry
        if not self.via_run:
            self.scheduler = registry.build_scheduler(config=self.config)

    async def run(self) -> None:
        if self.via_run:
            self.report = await self.registry.run(config=self.config)
        else:
            self.report = await self.scheduler.execute()

    def check(self) -> None:
        _check_report(self.report, self.workload)
        if self.workload.passes_data:
            value = self.report.task_return_set[self.workload.sink]
            if value != self.workload.size - 1:
                raise RuntimeError(f"sink returned {value!r}, expected {self.workload.size - 1}")


class RegistryRunAdapter(RegistryAdapter):
    """The same, timed as users call it: build = registration; run = ``await reg.run(config)``."""

    via_run = True


class RegistryRunStoreAdapter(RegistryRunAdapter):
    """``await reg.run(config, store=SQLiteStore(...))``: the run recorded into a fresh SQLite file.

    The store is opened (file and schema created) before timing, in a temporary folder; the
    timed run includes ``await store.flush()``, so every record is committed to the file
    before the clock stops. ``check()`` reads the run back and expects every task completed.
    """

    def __init__(self, workload: Workload) -> None:
        super().__init__(workload)
        self.folder = tempfile.TemporaryDirectory(prefix="astrum-bench-")
        self.store: Any = self.astrum.SQLiteStore(f"{self.folder.name}/runs.db")

    async def run(self) -> None:
        self.report = await self.registry.run(config=self.config, store=self.store)
        await self.store.flush()

    def check(self) -> None:
        try:
            super().check()
            (summary,) = self.store.runs(limit=1)
            if summary.run_id != self.report.run_id or summary.completed != self.workload.size:
                raise RuntimeError(f"store holds {summary.completed}/{self.workload.size} completed tasks")
        finally:
            self.store.close()
            self.folder.cleanup()


class RegistryMapAdapter(Adapter):
    """A mapped task of N items: ``items`` returns ``list(range(N))`` and ``@task(map="item")``
    runs an async no-op per item. Timed as ``registry_run`` (build = registration, run =
    ``await reg.run(config)``), so its run µs/task compares with ``registry_run`` on ``wide``
    (N plain no-op tasks); only the ``wide`` workload's size is used.
    """

    module = "astrum"

    def __init__(self, workload: Workload) -> None:
        super().__init__(workload)
        self.astrum: Any = importlib.import_module("astrum")
        self.config = self.astrum.AstrumConfig(skip_type_check=True, silence_warnings=True)
        size = workload.size
        from_ = self.astrum.F

        def items() -> list[int]:
            return list(range(size))

        async def work(item: int) -> None:
            return None

        work.__annotations__ = {"item": Annotated[int, from_("items")], "return": None}

        self.functions = (items, work)
        self.registry: Any = None
        self.report: Any = None

    def build(self) -> None:
        registry = self.astrum.SchedulerRegistry("bench_map")
        items, work = self.functions
        registry.task("items")(items)
        registry.task("work", map="item")(work)
        self.registry = registry

    async def run(self) -> None:
        self.report = await self.registry.run(config=self.config)

    def check(self) -> None:
        size = self.workload.size
        state = getattr(self.report.execution_state, "value", self.report.execution_state)
        gathered = self.report.task_return_set.get("work")
        if state != "completed" or self.report.successful_tasks != size + 2 or len(gathered or ()) != size:
            raise RuntimeError(f"run {state}, {self.report.successful_tasks}/{size + 2} tasks completed")


class FlowrunAdapter(Adapter):
    """flowrun-dag 1.x: ``engine.dag(name).task(name=..., deps=[...])``, then ``run_once()``.

    flowrun-dag needs Python >= 3.12.
    """

    module = "flowrun"

    def __init__(self, workload: Workload) -> None:
        super().__init__(workload)
        self.flowrun: Any = importlib.import_module("flowrun")
        self.functions = _task_functions(workload, None)
        self.engine: Any = None
        self.dag: Any = None
        self.report: dict[str, Any] = {}

    def build(self) -> None:
        self.engine = self.flowrun.build_default_engine(max_parallel=max(1, self.workload.size))
        self.dag = self.engine.dag("bench")
        for name, deps, fn in self.functions:
            self.dag.task(name=name, deps=deps)(fn)

    async def run(self) -> None:
        async with self.engine:
            run_id = await self.dag.run_once()
            self.report = self.engine.get_run_report(run_id)

    def check(self) -> None:
        if self.report.get("status") != "SUCCESS":
            raise RuntimeError(f"flowrun run status {self.report.get('status')!r}")


@dataclass(frozen=True, slots=True)
class SystemSpec:
    """A system: its adapter, the peer venv it needs (``None``: ours), and a size cap."""

    name: str
    adapter: type[Adapter]
    description: str
    peer: str | None = None
    max_size: int | None = None
    #: The workloads it measures (``None``: all).
    workloads: tuple[str, ...] | None = None


_SPECS = [
    SystemSpec("baseline", BaselineAdapter, "hand-written asyncio, one Task per node"),
    SystemSpec("scheduler", SchedulerAdapter, "astrum.DynamicScheduler, async no-op callables"),
    SystemSpec("scheduler_sync", SyncSchedulerAdapter, "astrum.DynamicScheduler, sync callables"),
    SystemSpec("registry", RegistryAdapter, "SchedulerRegistry: register + build_scheduler | execute"),
    SystemSpec("registry_run", RegistryRunAdapter, "SchedulerRegistry: register | await reg.run()"),
    SystemSpec(
        "registry_run_store",
        RegistryRunStoreAdapter,
        "SchedulerRegistry: register | await reg.run(store=SQLiteStore) + store.flush()",
    ),
    SystemSpec(
        "registry_map",
        RegistryMapAdapter,
        "SchedulerRegistry: a mapped task of N async no-op items | await reg.run()",
        workloads=("wide",),
    ),
    SystemSpec("upstream", RegistryAdapter, "astrum 0.1.2 registry (PyPI)", peer="upstream", max_size=3000),
    SystemSpec(
        "upstream_scheduler",
        SchedulerAdapter,
        "astrum 0.1.2 DynamicScheduler",
        peer="upstream",
        max_size=10000,
    ),
    SystemSpec("flowrun", FlowrunAdapter, "flowrun-dag engine (PyPI)", peer="flowrun"),
]

#: Systems in report order.
SYSTEMS: dict[str, SystemSpec] = {spec.name: spec for spec in _SPECS}
