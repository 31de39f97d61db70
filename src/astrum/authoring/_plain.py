"""Registries of plain functions: analysed when registered, compiled by a build in one pass.

Most registries hold module-level functions whose inputs are ``Ref[X, F("task id")]``
annotations. Everything a build needs from such a task can be worked out when it is
registered (:func:`plain_entry`): its ``Ref`` inputs, how it is called, its return type.
:func:`compile_plain` then turns a registry of them into a :class:`Program` without
per-task build records. Anything it does not handle, and every problem, is left to the
general build (``astrum.authoring._build``), which also writes the error messages.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from itertools import chain, repeat
from types import FunctionType
from typing import TYPE_CHECKING, Any, NamedTuple

from .._errors import TaskDependencyError
from ..core._clock import REAL_CLOCK
from ..core._graph import Graph, compile_graph
from ..core._program import Binder, Program, callable_kind, result_slot
from ..report._plan import stage_parallelism
from ._config import AstrumConfig
from ._inject import Input, WholeBinder, make_binder
from ._methods import owner_path
from ._transport import NO_ANNOTATION, CallableSpec, InputRef
from ._typecheck import field_type, is_compatible, item_type

if TYPE_CHECKING:
    import asyncio

    from ._tasks import RegisteredTask

__all__ = ["PlainEntry", "SpecEntry", "analysable", "compile_plain", "configured_program", "plain_entry"]

_POSITIONAL_OR_KEYWORD = inspect.Parameter.POSITIONAL_OR_KEYWORD
_KEYWORD_ONLY = inspect.Parameter.KEYWORD_ONLY


class SpecEntry(NamedTuple):
    """A parsed task callable (valid while ``record`` is the registered one)."""

    record: RegisteredTask
    #: The first parameter is a method's receiver (not injected).
    skip_first: bool
    spec: CallableSpec
    #: Analysed at registration: a plain call of ``record.function``.
    plain: bool


class PlainEntry(NamedTuple):
    """A plain function that builds compile as it is.

    Made at registration, only what a build reads is kept (a registry of a million
    tasks keeps a million of these) and the general build parses the function again
    when it needs the rest. Made by a build (string annotations), ``spec`` keeps the
    parsed annotations, which are costly to evaluate again.
    """

    record: RegisteredTask
    kind: int
    #: The only ``Ref`` input (the common case, kept without a tuple around it), or ``None``.
    only: InputRef | None
    #: The ``Ref`` inputs when there is not exactly one. Every source is a task id.
    several: tuple[InputRef, ...]
    returns: Any
    spec: CallableSpec | None = None

    @property
    def inputs(self) -> tuple[InputRef, ...]:
        """The ``Ref`` inputs in parameter order."""
        return (self.only,) if self.only is not None else self.several


def analysable(record: RegisteredTask) -> bool:
    """A function outside any class body, registered without ``TaskData``: nothing a build is
    given (class instances, explicit data items) changes how it is called or what it receives."""
    fn = record.function
    return type(fn) is FunctionType and record.data is None and owner_path(fn) is None


def plain_entry(
    record: RegisteredTask, spec: CallableSpec, *, keep_spec: bool = False
) -> SpecEntry | PlainEntry:
    """What a registry keeps of a plain function (a plain call of ``record.function``) parsed as ``spec``.

    A :class:`PlainEntry` unless a ``Ref`` names its source by callable (resolved against
    the whole registry), a parameter has no value or is positional-only or variadic (the
    build checks those), the return pushes values (``T(...)``), a parameter takes the
    ``RunContext``, or the task uses an override, process isolation, a pool or ``TaskData``
    (checked or resolved per build).
    """
    if (
        spec.pushes
        or spec.context_params
        or record.data is not None
        or record.implementation is not None
        or record.isolation == "process"
        or record.pool is not None
    ):
        return SpecEntry(record, False, spec, True)
    inputs = spec.inputs
    params = spec.params
    for param in params:
        if param.kind is not _POSITIONAL_OR_KEYWORD and param.kind is not _KEYWORD_ONLY:
            return SpecEntry(record, False, spec, True)  # positional-only or variadic: checked by the build
    if len(inputs) != len(params):  # some parameters are not injected: they need defaults
        fed = [ref.param for ref in inputs]
        for param in params:
            if not param.has_default and param.name not in fed:
                return SpecEntry(record, False, spec, True)
    for ref in inputs:
        if type(ref.source) is not str:
            return SpecEntry(record, False, spec, True)
    only, several = (inputs[0], ()) if len(inputs) == 1 else (None, inputs)
    return PlainEntry(
        record, callable_kind(record.function), only, several, spec.returns, spec if keep_spec else None
    )


def compile_plain(
    entries: Mapping[str, SpecEntry | PlainEntry],
    tasks: Mapping[str, RegisteredTask],
    config: AstrumConfig,
    concurrency_context: asyncio.Semaphore | None,
    analyse: Callable[[RegisteredTask], PlainEntry | None] | None = None,
) -> tuple[Graph, Program, dict[str, int]] | None:
    """Compile every task of ``tasks`` with no per-task build records: ``(graph, program, retries)``.

    ``entries`` is the registry's analysis cache; ``analyse`` makes the entry of a task
    registration did not analyse (or ``None``). Returns ``None`` when a task is not
    plain, a dependency is unknown, or an edge's types may not fit: the
    general build then runs (and reports what is wrong). Configurations that need the
    general build's per-task records (``validate_values``, ``visualize``) are the caller's
    to exclude.
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
        graph = compile_graph(zip(tasks, map(_dependencies, records, chosen), strict=True))
    except TaskDependencyError:
        return None  # an unknown id: the general build names it
    if not config.skip_type_check and not _types_fit(chosen, graph.index):
        return None
    fns = [record.function for record in records]
    kinds = [entry.kind for entry in chosen]
    policies = [record.policy for record in records]
    index = graph.index
    binders = [_binder(tid, entry, index) for tid, entry in zip(tasks, chosen, strict=True)]
    retries = {record.task_id: record.retry for record in records if record.retry}
    program = configured_program(graph, config, concurrency_context, fns, kinds, binders, policies)
    return graph, program, retries


def configured_program(
    graph: Graph,
    config: AstrumConfig,
    concurrency_context: asyncio.Semaphore | None,
    fns: list[Any],
    kinds: list[int],
    binders: list[Binder | None],
    policies: list[Any],
    context_params: list[tuple[str, ...]] | None = None,
    pools: list[int] | None = None,
) -> Program:
    """A :class:`Program` from per-task lists and the run settings of ``config``.

    ``concurrency_context`` (a semaphore) replaces ``config.concurrency_limit`` when given.
    """
    stage_count, max_parallelism = stage_parallelism(graph)
    pool_names = list(config.pools)
    index = graph.index
    return Program(
        graph=graph,
        fns=fns,
        kinds=kinds,
        binders=binders,
        policies=policies,
        tails=frozenset(index[t] for t in config.ignore_tail_task if t in index),
        concurrency_limit=config.effective_concurrency_limit if concurrency_context is None else None,
        semaphore=concurrency_context,
        stage_count=stage_count,
        max_parallelism=max_parallelism,
        failure_policy=config.failure_policy,
        deadline=config.deadline,
        clock=config.clock if config.clock is not None else REAL_CLOCK,
        context_params=context_params,
        pools=pools,
        pool_names=pool_names,
        pool_limits=[config.pools[name] for name in pool_names],
    )


def _dependencies(record: RegisteredTask, entry: PlainEntry) -> tuple[str, ...]:
    """``depends_on``, then the ``Ref`` sources (a source ``depends_on`` names adds nothing)."""
    deps = record.depends_on
    only = entry.only
    if only is not None:
        return deps if only.source in deps else (*deps, only.source)
    if entry.several:
        return (*deps, *[ref.source for ref in entry.several])
    return deps


def _binder(task: str, entry: PlainEntry, index: Mapping[str, int]) -> Binder | None:
    only = entry.only
    if only is not None and only.locator is None:
        return WholeBinder(task, only.param, only.source, result_slot(index, only.source))
    inputs = entry.inputs
    if not inputs:
        return None
    return make_binder(task, [Input(ref.param, ref.source, ref.locator) for ref in inputs], index=index)


def _types_fit(entries: list[PlainEntry], index: Mapping[str, int]) -> bool:
    """Every ``Ref`` edge joins types that can fit (``False``: let the general build report it)."""
    for entry in entries:
        for ref in entry.inputs:
            expected = ref.expected
            produced = entries[index[ref.source]].returns
            locator = ref.locator
            if (
                produced is NO_ANNOTATION
                or expected is NO_ANNOTATION
                or (produced is expected and locator is None)
            ):
                continue
            try:
                if type(locator) is str:
                    produced = field_type(produced, locator)
                elif type(locator) is int:
                    produced = item_type(produced, locator)
            except (KeyError, IndexError):
                return False
            if not is_compatible(produced, expected):
                return False
    return True
