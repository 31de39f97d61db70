"""The one-pass build: a registry of plain functions compiled without per-task build records.

It runs the general build's stages on the entries made at registration (``_plain.py``):
the graph of their dependencies, `edge_problem` on every edge, and
`compile_program`. A registry it does not handle (a task that is not
plain, an unknown id, a cycle, an edge whose types may not fit) goes to the general build,
which reports every problem.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import chain, repeat
from typing import TYPE_CHECKING

from .._errors import SchedulerError
from ..core._graph import Graph, compile_graph
from ..core._program import Program
from ._compile import compile_program
from ._edgetypes import edge_problem
from ._methods import duplicate_instances
from ._plain import PlainEntry, SpecEntry, analysable, plain_entry
from ._result import BuildResult
from ._transport import TaskNames, parse_callable

if TYPE_CHECKING:
    import asyncio

    from ._config import AstrumConfig
    from ._tasks import RegisteredTask, TaskTable

__all__ = ["build_plain", "compile_plain"]


def compile_plain(
    entries: Mapping[str, SpecEntry | PlainEntry],
    tasks: Mapping[str, RegisteredTask],
    config: AstrumConfig,
    concurrency_context: asyncio.Semaphore | None,
    analyse: Callable[[RegisteredTask], PlainEntry | None] | None = None,
) -> tuple[Graph, Program, dict[str, int]] | None:
    """Compile every task of ``tasks``: ``(graph, program, retries)``, or ``None`` for the general build.

    ``entries`` is the registry's analysis cache; ``analyse`` makes the entry of a task
    registration did not analyse (or ``None``). Configurations that need the general
    build's per-task records (``validate_values``, ``visualize``) are the caller's to exclude.
    """
    records = list(tasks.values())
    chosen: list[PlainEntry] = []
    # Entries are made in registration order, like ``tasks``: read side by side, the cache is
    # looked up by name only where it is not (entries made by a first build come last).
    in_order = chain(list(entries.values()), repeat(None))
    for (tid, record), entry in zip(tasks.items(), in_order, strict=False):
        if type(entry) is not PlainEntry or entry.record is not record:
            entry = entries.get(tid)
            if type(entry) is not PlainEntry or entry.record is not record:
                entry = analyse(record) if analyse is not None else None
                if entry is None:
                    return None
        chosen.append(entry)
    try:
        graph = compile_graph(zip(tasks, [entry.deps for entry in chosen], strict=True))
    except SchedulerError:
        return None  # an unknown id or a cycle: the general build reports it with every other problem
    if not config.skip_type_check and not _types_fit(chosen, graph.index):
        return None
    program = compile_program(
        graph,
        [record.function for record in records],
        [entry.kind for entry in chosen],
        [record.policy for record in records],
        ((entry.only,) if entry.only is not None else entry.several for entry in chosen),
        config,
        concurrency_context,
    )
    retries = {record.task_id: record.retry for record in records if record.retry}
    return graph, program, retries


def _types_fit(entries: list[PlainEntry], index: Mapping[str, int]) -> bool:
    """No edge has a type problem (``False``: let the general build report them)."""
    for entry in entries:
        consumer = entry.record.task_id
        for inp in entry.inputs:
            if edge_problem(consumer, inp, entries[index[str(inp.source)]].returns) is not None:
                return False
    return True


def build_plain(
    registry: TaskTable, config: AstrumConfig, concurrency_context: asyncio.Semaphore | None
) -> BuildResult | None:
    """The whole registry of plain functions in one pass (``None``: it needs the general build)."""
    tasks = registry.get_all_tasks()
    if config.class_instances and duplicate_instances(config.class_instances):
        return None
    compiled = compile_plain(
        registry._spec_cache, tasks, config, concurrency_context, _analyser(registry, tasks)
    )
    if compiled is None:
        return None
    graph, program, retries = compiled
    return BuildResult(
        registry=registry,
        config=config,
        selected=list(tasks),
        graph=graph,
        program=program,
        prepared={},
        concurrency_context=concurrency_context,
        retries=dict(retries),
        has_data_path=any(b is not None for b in program.binders),
    )


def _analyser(
    registry: TaskTable, tasks: Mapping[str, RegisteredTask]
) -> Callable[[RegisteredTask], PlainEntry | None]:
    """Parses, for the one-pass build, plain functions registration left alone (string annotations)."""
    names = TaskNames(tasks)
    cache = registry._spec_cache

    def analyse(record: RegisteredTask) -> PlainEntry | None:
        if not analysable(record):
            return None  # a method, a callable object, TaskData: the general build's
        cached = cache.get(record.task_id)
        if type(cached) is SpecEntry and cached.record is record:
            if cached.plain or cached.skip_first:
                return None  # analysed before and not plain
            spec = cached.spec
        else:
            spec = parse_callable(record.task_id, record.function, names)
        if spec.problems:
            return None  # the general build parses it again and reports them
        entry = plain_entry(record, spec, keep_spec=True)
        cache[record.task_id] = entry
        return entry if type(entry) is PlainEntry else None

    return analyse
