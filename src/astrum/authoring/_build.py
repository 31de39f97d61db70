"""The registry build: select tasks, resolve their sources, check signatures and edge types,
compile a program.

Each stage is a module: ``_sources.py``, ``_checks.py``, ``_edgetypes.py``, ``_compile.py``.
A registry of plain functions takes the one-pass build (``_onepass.py``), which applies the
same rules to the entries made at registration; everything else, and every registry with a
problem, takes the general build here. Every problem found is collected and raised as one
`TaskRegistrationError`. A build reads registered tasks and user ``TaskData`` but
never modifies them, so a registry can be built any number of times, also concurrently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import SchedulerError, TaskRegistrationError
from ..core._gcpause import gc_paused
from ..core._graph import Graph, compile_graph
from ..core._program import Program, callable_kind
from ._checks import check_options, check_tasks
from ._compile import NO_RECEIVER, compile_program
from ._config import AstrumConfig
from ._edgetypes import type_problems, with_value_check
from ._executors import executor_policy, submits_of
from ._mapspec import map_policy, mapped_inputs
from ._onepass import build_plain
from ._prepare import Prepared, prepare_all
from ._rates import pool_names
from ._result import BuildResult
from ._sources import Resolver, pushes, resolve_pushes, resolve_sources
from ._tasks import RegisteredTask, TaskTable

__all__ = ["BuildResult", "build", "select"]

_TRANSPORT_HEADER = "Data transport validation failed with the following errors:\n- "


def build(
    registry: TaskTable,
    target_tasks: Sequence[str] | None,
    config: AstrumConfig,
    *,
    concurrency_context: asyncio.Semaphore | None = None,
    collect_all: bool = False,
    check_pools: bool = True,
) -> BuildResult:
    """Build the selected tasks (all with ``target_tasks=None``) into a program.

    With ``collect_all`` (`SchedulerRegistry.validate`), unknown targets and
    dependencies, missing class instances and cycles join the one error too.
    """
    with gc_paused():
        result = None
        if target_tasks is None and not (
            collect_all or config.visualize or config.validate_values or config.executors
        ):
            result = build_plain(registry, config, concurrency_context)
        if result is None:
            result = _build(registry, target_tasks, config, concurrency_context, collect_all, check_pools)
    if config.visualize:
        from ..viz._render import print_build

        print_build(result)
    return result


def select(
    registry: TaskTable,
    tasks: Mapping[str, RegisteredTask],
    target_tasks: Sequence[str] | None,
    prepared: dict[str, Prepared] | None = None,
    config: AstrumConfig | None = None,
) -> list[str]:
    """The ids a build runs: all tasks, or the closure of ``target_tasks`` over their sources.

    Dependencies, ``Ref``/``F`` sources, explicit ``DTRela`` sources and tasks
    pushing into a selected task (``T(...)``) are followed. Registration order is kept.
    """
    if target_tasks is None:
        return list(tasks)
    if isinstance(target_tasks, str):
        target_tasks = [target_tasks]
    for target in target_tasks:
        if target not in tasks:
            raise TaskRegistrationError(f"Task '{target}' is not registered in '{registry.name}'.")
    if prepared is None:
        prepared = prepare_all(registry, tasks, config or AstrumConfig())
    resolver = Resolver(tasks)
    pushed_by: dict[str, list[str]] = {}
    for tid, prep in prepared.items():
        for target, _input in pushes(prep.copy(), resolver):
            pushed_by.setdefault(target, []).append(tid)
    chosen: set[str] = set()
    stack = list(target_tasks)
    while stack:
        tid = stack.pop()
        if tid in chosen or tid not in tasks:
            continue
        chosen.add(tid)
        stack.extend(resolve_sources(prepared[tid].copy(), resolver))
        stack.extend(pushed_by.get(tid, ()))
    return [tid for tid in tasks if tid in chosen]


# -- the general build -------------------------------------------------------------------------


def _build(
    registry: TaskTable,
    target_tasks: Sequence[str] | None,
    config: AstrumConfig,
    concurrency_context: asyncio.Semaphore | None,
    collect_all: bool = False,
    check_pools: bool = True,
) -> BuildResult:
    """The general build: the stages over per-task records, every problem reported."""
    tasks = registry.get_all_tasks()
    check_options(tasks, config)
    prepared = prepare_all(registry, tasks, config)
    selected = select(registry, tasks, target_tasks, prepared, config)
    ordered = [prepared[tid] for tid in selected]
    _resolve(ordered, prepared, set(selected), Resolver(tasks))
    receivers = _check(registry.name, tasks, selected, prepared, config, collect_all, check_pools)
    graph = compile_graph(zip(selected, [prep.deps for prep in ordered], strict=True))
    program = _compile(graph, ordered, receivers, config, concurrency_context)
    return BuildResult(
        registry=registry,
        config=config,
        selected=selected,
        graph=graph,
        program=program,
        prepared=prepared,
        concurrency_context=concurrency_context,
    )


def _resolve(
    ordered: list[Prepared], prepared: Mapping[str, Prepared], chosen: set[str], resolver: Resolver
) -> None:
    """Stage 1: resolve the inputs of the selected tasks, and the values pushed (``T``) into them."""
    pushers: list[Prepared] = []
    for prep in ordered:
        if prep.spec.inputs or prep.record.data is not None:
            resolve_sources(prep, resolver)
        else:
            prep.deps = prep.record.depends_on  # type: ignore[assignment]  # nothing to resolve (the common case)
        if prep.spec.pushes or prep.record.data is not None:
            pushers.append(prep)
    resolve_pushes(pushers, prepared, chosen, resolver)


def _check(
    registry_name: str,
    tasks: Mapping[str, RegisteredTask],
    selected: list[str],
    prepared: Mapping[str, Prepared],
    config: AstrumConfig,
    collect_all: bool,
    check_pools: bool,
) -> dict[str, tuple[bool, Any]]:
    """Stages 2 and 3: check signatures and settings, then edge types; return the receivers found.

    Raises:
        TaskRegistrationError: every problem found, grouped by kind in this order.
    """
    ordered = [prepared[tid] for tid in selected]
    problems, receivers = check_tasks(
        registry_name, tasks, ordered, config, collect_all=collect_all, check_pools=check_pools
    )
    if not config.skip_type_check:
        for tid in selected:
            problems.extend(type_problems(tid, prepared))
    if collect_all:
        chosen_ids = set(selected)  # unknown ids are reported above; look for cycles among the rest
        try:
            compile_graph((tid, [d for d in prepared[tid].deps if d in chosen_ids]) for tid in selected)
        except SchedulerError as exc:
            problems.append(str(exc))
    if problems:
        raise TaskRegistrationError(_TRANSPORT_HEADER + "\n- ".join(problems), problems=problems)
    return receivers


def _compile(
    graph: Graph,
    ordered: list[Prepared],
    receivers: Mapping[str, tuple[bool, Any]],
    config: AstrumConfig,
    concurrency_context: asyncio.Semaphore | None,
) -> Program:
    """Stage 4: the per-task lists of the prepared records, compiled like the one-pass build's.

    Raises:
        TaskRegistrationError: ``validate_values`` on an edge whose type pydantic cannot validate.
    """
    fns: list[Any] = []
    policies: list[Any] = []
    inputs: list[Sequence[Any]] = []
    called_on: list[tuple[bool, Any]] = []
    pool_index = {name: k for k, name in enumerate(pool_names(config.pools, config.rates))}
    pools: list[int] = []
    submits = submits_of(config.executors) if config.executors else None
    unchecked: list[str] = []  # validate_values: Ref types pydantic cannot validate
    for prep in ordered:
        record = prep.record
        tid = record.task_id
        implementation = record.implementation
        if implementation is not None:
            fns.append(implementation)
            called_on.append(NO_RECEIVER)  # an override is called with the injected arguments only
        else:
            fns.append(prep.receiver.call if prep.receiver is not None else record.function)
            called_on.append(receivers.get(tid, NO_RECEIVER))
        if submits is None:
            policies.append(record.policy)
        else:  # a sync task on an executor gets a policy that submits its calls there
            name = record.executor or (config.default_executor if record.isolation != "process" else None)
            kind = callable_kind(fns[-1])
            policies.append(executor_policy(record.policy, kind, name, submits, config.executors))
        # An unknown pool only gets here from validate() without a config: it does not check pools.
        pool = record.pool
        pools.append(pool_index.get(pool, -1) if pool is not None else -1)
        if config.validate_values:
            given = mapped_inputs(prep) if record.map is not None else prep.inputs
            inputs.append([with_value_check(tid, inp, given, unchecked) for inp in given])
        else:
            inputs.append(prep.inputs)
    if unchecked:
        raise TaskRegistrationError(_TRANSPORT_HEADER + "\n- ".join(unchecked), problems=unchecked)
    if any(prep.record.map is not None for prep in ordered):
        _mapped_policies(graph, ordered, policies, pools, inputs)
    context_params = [prep.spec.context_params for prep in ordered]
    return compile_program(
        graph,
        fns,
        [callable_kind(fn) for fn in fns],
        policies,
        inputs,
        config,
        concurrency_context,
        receivers=called_on,
        context_params=context_params if any(context_params) else None,
        pools=pools if pool_index and any(p >= 0 for p in pools) else None,
    )


def _mapped_policies(
    graph: Graph, ordered: list[Prepared], policies: list[Any], pools: list[int], inputs: list[Sequence[Any]]
) -> None:
    """A mapped task's policy runs its instances (under its own policy, in its pool); the task
    itself takes no pool slot."""
    index = graph.index
    consumers: dict[int, list[tuple[int, Any]]] = {}
    for j, given in enumerate(inputs):
        for inp in given:
            source = index.get(inp.source) if inp.source is not None else None
            if source is not None and ordered[source].record.map is not None:
                consumers.setdefault(source, []).append((j, inp))
    for i, prep in enumerate(ordered):
        if prep.record.map is not None:
            policies[i] = map_policy(prep.record, policies[i], pools[i], consumers.get(i, ()))
            pools[i] = -1
