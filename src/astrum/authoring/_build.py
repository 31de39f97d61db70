"""The registry build pipeline: select tasks, resolve relations, validate, compile a program.

Every problem found is collected and raised as one :class:`TaskRegistrationError`.
A build reads registered tasks and user ``TaskData`` but never modifies them,
so a registry can be built any number of times, also concurrently.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._errors import SchedulerError, TaskRegistrationError
from ..core._gcpause import gc_paused
from ..core._graph import Graph, TaskOrder, compile_graph, orders_from_graph
from ..core._policies import Retry
from ..core._process import picklable_problem
from ..core._program import Binder, Program, callable_kind
from ._config import AstrumConfig
from ._inject import Input, describe_locator, item_target, make_binder, relation_locator
from ._methods import (
    Receiver,
    callable_qualname,
    classify,
    duplicate_instances,
    find_receiver,
    owner_label,
)
from ._plain import PlainEntry, SpecEntry, analysable, compile_plain, configured_program, plain_entry
from ._tasks import RegisteredTask, TaskTable
from ._transport import (
    NO_ANNOTATION,
    CallableSpec,
    TaskNames,
    parse_callable,
    reference_name,
    underlying_function,
    unknown_callable_problem,
)
from ._typecheck import (
    UncheckableTypeError,
    field_type,
    is_compatible,
    item_type,
    type_name,
    value_checker,
)

if TYPE_CHECKING:
    from ._taskdata import TaskData

__all__ = ["BuildResult", "build", "select"]

_TRANSPORT_HEADER = "Data transport validation failed with the following errors:\n- "


class _Problem(Exception):
    """One build problem (collected, never raised to the user on its own)."""


class _Resolver:
    """Turns task references (ids or registered callables) into task ids."""

    def __init__(self, tasks: Mapping[str, RegisteredTask]) -> None:
        self.tasks = tasks
        self._by_identity: dict[int, list[str]] | None = None
        self._by_qualname: dict[tuple[str, str], list[str]] | None = None

    def _index(self) -> tuple[dict[int, list[str]], dict[tuple[str, str], list[str]]]:
        if self._by_identity is None or self._by_qualname is None:
            by_identity: dict[int, list[str]] = {}
            by_qualname: dict[tuple[str, str], list[str]] = {}
            for tid, record in self.tasks.items():
                obj = record.function
                for key in {id(obj), id(underlying_function(obj))}:
                    by_identity.setdefault(key, []).append(tid)
                qual = callable_qualname(obj)
                if qual is not None:
                    by_qualname.setdefault(qual, []).append(tid)
            self._by_identity, self._by_qualname = by_identity, by_qualname
        return self._by_identity, self._by_qualname

    def resolve(self, ref: Any, consumer: str, kind: str, param: str | None = None) -> str:
        """The task id ``ref`` names; ``param`` is the consumer's parameter of an input relation.

        Raises:
            _Problem: an unknown id or callable, or a callable registered under several ids.
        """
        if isinstance(ref, str):
            if ref not in self.tasks:
                raise _Problem(
                    f"Unknown task id '{ref}' referenced by {kind} relation at task '{consumer}'. "
                    "Register that task or fix the id."
                )
            return ref
        if not callable(ref) and not isinstance(ref, staticmethod | classmethod):
            raise _Problem(
                f"Invalid task reference {ref!r} in {kind} relation at task '{consumer}': "
                "use a task id (str) or the registered function."
            )
        by_identity, by_qualname = self._index()
        found: list[str] = []
        for key in {id(ref), id(underlying_function(ref))}:
            for tid in by_identity.get(key, ()):
                if tid not in found:
                    found.append(tid)
        if not found:
            qual = callable_qualname(ref)
            found = list(by_qualname.get(qual, ())) if qual is not None else []
        if len(found) == 1:
            return found[0]
        name = reference_name(ref)
        if not found:
            where = kind if param is None else f"{kind} parameter '{param}'"
            raise _Problem(unknown_callable_problem(name, where, consumer))
        raise _Problem(
            f"Callable task reference is ambiguous: task ids '{found[0]}' and '{found[1]}' refer to the same "
            f"callable ('{name}', used at task '{consumer}'). Refer to the task by its id instead."
        )


class _Prepared:
    """What the build knows about one registered task."""

    __slots__ = (
        "deps",
        "edges",
        "function_inputs",
        "inputs",
        "problems",
        "receiver",
        "record",
        "spec",
        "unresolved",
    )

    def __init__(self, record: RegisteredTask, receiver: Receiver | None, spec: CallableSpec) -> None:
        self.record = record
        self.receiver = receiver  # None: a plain call of ``record.function``
        self.spec = spec
        # Shared empty tuples until :meth:`own` (most tasks never add anything: a million
        # tasks need no four million empty lists).
        self.inputs: list[Input] = _NOTHING
        self.edges: list[tuple[str, Any, str | int, Any]] = _NOTHING  # (source, locator, param, expected)
        self.deps: list[str] = _NOTHING
        self.problems: list[str] = _NOTHING
        # (param, from_function, expected type) of explicit from_function inputs
        self.function_inputs: list[tuple[str | int, Any, Any]] = _NOTHING
        # parameters of explicit data items whose problem is reported (not reported again as unprovided)
        self.unresolved: list[str | int] = _NOTHING

    def own(self) -> None:
        """Give the task lists of its own, before anything is added to them."""
        for name in ("inputs", "edges", "deps", "problems", "function_inputs", "unresolved"):
            if isinstance(getattr(self, name), tuple):
                setattr(self, name, list(getattr(self, name)))


_NOTHING: Any = ()


def _prepare(
    registry: TaskTable,
    record: RegisteredTask,
    instances: Sequence[Any],
    names: TaskNames,
) -> _Prepared:
    cache = registry._spec_cache
    cached = cache.get(record.task_id)
    if type(cached) is PlainEntry and cached.record is record:
        # A plain call; an entry made at registration keeps only what the one-pass build
        # needs, so the rest of the spec is parsed again.
        spec = cached.spec or parse_callable(record.task_id, record.function, names)
        return _Prepared(record, None, spec)
    if type(cached) is SpecEntry and cached.record is record and cached.plain:
        return _Prepared(record, None, cached.spec)
    receiver = classify(record.function, instances)
    skip_first = receiver.kind is not None
    if type(cached) is SpecEntry and cached.record is record and cached.skip_first == skip_first:
        spec = cached.spec
    else:
        spec = parse_callable(record.task_id, receiver.call, names, skip_first=skip_first)
        if not spec.problems:
            cache[record.task_id] = SpecEntry(record, skip_first, spec, False)
    return _Prepared(record, receiver, spec)


def _sources(prepared: _Prepared, resolver: _Resolver) -> list[str]:
    """Resolve every input relation of a task; fill ``inputs``, ``edges``, ``deps``, ``problems``."""
    record = prepared.record
    tid = record.task_id
    deps = list(record.depends_on)
    inputs: list[Input] = []
    edges: list[tuple[str, Any, str | int, Any]] = []
    for ref in prepared.spec.inputs:
        source = ref.source
        if type(source) is not str or source not in resolver.tasks:  # ids of registered tasks need nothing
            try:
                source = resolver.resolve(source, tid, "input", ref.param)
            except _Problem as problem:
                prepared.own()
                prepared.problems.append(str(problem))
                continue
        inputs.append(Input(ref.param, source, ref.locator))
        edges.append((source, ref.locator, ref.param, ref.expected))
        deps.append(source)
    prepared.inputs, prepared.edges, prepared.deps = inputs, edges, deps
    data = record.data
    if data is not None:
        prepared.own()
        params = [
            p.name
            for p in prepared.spec.params
            if p.kind in (p.kind.POSITIONAL_OR_KEYWORD, p.kind.KEYWORD_ONLY)
        ]
        for k, item in enumerate(data.input_data_item):
            source_rel = item.from_relation
            target = item_target(item, params)
            if source_rel is None:
                prepared.unresolved.append(target)
                prepared.problems.append(
                    f"Data item in task {tid} has no from_relation (input[{k}]): "
                    "say which task (DTRela(related_task=...)) or function (from_function=...) provides it."
                )
                continue
            if source_rel.from_function is not None:
                prepared.inputs.append(
                    Input(
                        target=target, source=None, from_function=source_rel.from_function, use_function=True
                    )
                )
                if item.allow_data_model is not None:
                    prepared.function_inputs.append((target, source_rel.from_function, item.allow_data_model))
                continue
            try:
                source = resolver.resolve(source_rel.related_task, tid, "input")
            except _Problem as problem:
                prepared.unresolved.append(target)  # its one message names the root cause
                prepared.problems.append(str(problem))
                continue
            locator = relation_locator(source_rel)
            if locator is None and not source_rel.single_item:
                prepared.unresolved.append(target)
                prepared.problems.append(
                    f"Data item in task {tid} has a from_relation with neither key, index nor "
                    f"single_item=True (input[{k}]); choose one."
                )
                continue
            prepared.inputs.append(Input(target=target, source=source, locator=locator))
            prepared.edges.append((source, locator, target, item.allow_data_model or NO_ANNOTATION))
            deps.append(source)
    return deps


def _pushes(prepared: _Prepared, resolver: _Resolver) -> list[tuple[str, Input, Any]]:
    """Return relations of a task as ``(target task, input for the target, expected type)``."""
    out: list[tuple[str, Input, Any]] = []
    tid = prepared.record.task_id
    prepared.own()
    for push in prepared.spec.pushes:
        try:
            target = resolver.resolve(push.target, tid, "return")
        except _Problem as problem:
            prepared.problems.append(str(problem))
            continue
        param: str | int = push.target_param if push.target_param is not None else 0
        out.append((target, Input(target=param, source=tid, locator=push.local), push.expected))
    data = prepared.record.data
    if data is not None:
        for item in data.output_data_item:
            to_rel, from_rel = item.to_relation, item.from_relation
            if to_rel is None or not to_rel.related_task or to_rel.related_task == tid:
                continue
            try:
                target = resolver.resolve(to_rel.related_task, tid, "return")
            except _Problem as problem:
                prepared.problems.append(str(problem))
                continue
            local: str | int | None = None
            if from_rel is not None and not from_rel.single_item:
                local = from_rel.key if from_rel.key is not None else from_rel.index
            param = (
                to_rel.key if to_rel.key is not None else (to_rel.index if to_rel.index is not None else 0)
            )
            out.append((target, Input(target=param, source=tid, locator=local), item.allow_data_model))
    return out


def select(
    registry: TaskTable,
    tasks: Mapping[str, RegisteredTask],
    target_tasks: Sequence[str] | None,
    prepared: dict[str, _Prepared] | None = None,
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
        prepared = _prepare_all(registry, tasks, config or AstrumConfig())
    resolver = _Resolver(tasks)
    pushed_by: dict[str, list[str]] = {}
    for tid, prep in prepared.items():
        for target, _input, _expected in _pushes(_copy(prep), resolver):
            pushed_by.setdefault(target, []).append(tid)
    chosen: set[str] = set()
    stack = list(target_tasks)
    while stack:
        tid = stack.pop()
        if tid in chosen or tid not in tasks:
            continue
        chosen.add(tid)
        stack.extend(_sources(_copy(prepared[tid]), resolver))
        stack.extend(pushed_by.get(tid, ()))
    return [tid for tid in tasks if tid in chosen]


def _copy(prep: _Prepared) -> _Prepared:
    return _Prepared(record=prep.record, receiver=prep.receiver, spec=prep.spec)


def _prepare_all(
    registry: TaskTable, tasks: Mapping[str, RegisteredTask], config: AstrumConfig
) -> dict[str, _Prepared]:
    names = TaskNames(tasks)
    instances = config.class_instances
    return {tid: _prepare(registry, record, instances, names) for tid, record in tasks.items()}


@dataclass
class BuildResult:
    """A validated build: the compiled program plus what a scheduler reports about it.

    ``prepared`` (per-task build details, used by visualisation) is dropped by
    :meth:`compact` before a build is cached.
    """

    registry: TaskTable
    config: AstrumConfig
    selected: list[str]
    graph: Graph
    program: Program
    prepared: dict[str, _Prepared]
    concurrency_context: asyncio.Semaphore | None = None
    task_data: dict[str, TaskData] = field(default_factory=dict)
    retries: dict[str, int | Retry] = field(default_factory=dict)
    has_data_path: bool = False

    def __post_init__(self) -> None:
        if not self.prepared:  # a compacted copy: the summaries were passed in
            return
        for tid in self.selected:
            record = self.prepared[tid].record
            if record.data is not None:
                self.task_data[tid] = record.data
            if record.retry:
                self.retries[tid] = record.retry
        self.has_data_path = any(self.prepared[t].inputs for t in self.selected)

    @property
    def orders(self) -> list[TaskOrder]:
        """One :class:`TaskOrder` per selected task (made on demand)."""
        return orders_from_graph(self.graph)

    def compact(self) -> BuildResult:
        """This build without its per-task build details (what a cache keeps)."""
        return dataclasses.replace(self, prepared={}) if self.prepared else self

    def scheduler(self) -> Any:
        from ._scheduler import DynamicScheduler

        config = self.config
        scheduler: Any = DynamicScheduler._from_program(
            self.program,
            None,
            None,
            task_data_refs=dict(self.task_data),
            has_data_path=self.has_data_path,
            ignore_tail_task=list(config.ignore_tail_task),
            concurrency_context=self.concurrency_context,
            task_retries=dict(self.retries),
            silence=config.silence,
        )
        scheduler.hooks = list(config.hooks)
        return scheduler


def build(
    registry: TaskTable,
    target_tasks: Sequence[str] | None,
    config: AstrumConfig,
    *,
    concurrency_context: asyncio.Semaphore | None = None,
    collect_all: bool = False,
    check_pools: bool = True,
) -> BuildResult:
    """Run the build pipeline (see module docstring).

    With ``collect_all`` (:meth:`SchedulerRegistry.validate`), unknown targets and
    dependencies, missing class instances and cycles join the one error too.
    """
    with gc_paused():
        result = None
        if target_tasks is None and not (collect_all or config.visualize or config.validate_values):
            result = _build_plain(registry, config, concurrency_context)
        if result is None:
            result = _build(registry, target_tasks, config, concurrency_context, collect_all, check_pools)
    if config.visualize:
        from ..viz._render import print_build

        print_build(result)
    return result


def _build_plain(
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


def _build(
    registry: TaskTable,
    target_tasks: Sequence[str] | None,
    config: AstrumConfig,
    concurrency_context: asyncio.Semaphore | None,
    collect_all: bool = False,
    check_pools: bool = True,
) -> BuildResult:
    tasks = registry.get_all_tasks()
    problems: list[str] = []
    if not config.allow_no_dir_definition:
        for tid, record in tasks.items():
            data = record.data
            if data is None:
                continue
            for item in [*data.input_data_item, *data.output_data_item]:
                if item.from_relation is None or item.to_relation is None:
                    raise TaskRegistrationError(
                        "Data items with no source or target definition are not allowed when "
                        f"allow_no_dir_definition is set to False (task '{tid}')."
                    )
    duplicates = duplicate_instances(config.class_instances)
    if duplicates:
        raise TaskRegistrationError(f"Duplicate class_instances for the same class: {', '.join(duplicates)}")

    prepared = _prepare_all(registry, tasks, config)
    selected = select(registry, tasks, target_tasks, prepared, config)
    chosen = set(selected)
    resolver = _Resolver(tasks)

    # Resolve inputs of the selected tasks, and pushes (T relations) into them.
    ordered = [prepared[tid] for tid in selected]
    pushers: list[_Prepared] = []
    for prep in ordered:
        if prep.spec.inputs or prep.record.data is not None:
            _sources(prep, resolver)
        else:
            prep.deps = prep.record.depends_on  # type: ignore[assignment]  # nothing to resolve (the common case)
        if prep.spec.pushes or prep.record.data is not None:
            pushers.append(prep)
    push_expected: dict[tuple[str, str | int], Any] = {}
    for prep in pushers:
        tid = prep.record.task_id
        for target, pushed, expected in _pushes(prep, resolver):
            if target not in chosen:
                continue
            target_prep = prepared[target]
            target_prep.own()
            param = pushed.target
            if isinstance(param, int):
                names = [p.name for p in target_prep.spec.params if p.kind in (p.kind.POSITIONAL_OR_KEYWORD,)]
                if 0 <= param < len(names):
                    param = names[param]
                    pushed = Input(target=param, source=pushed.source, locator=pushed.locator)
            target_prep.inputs.append(pushed)
            target_prep.deps.append(tid)
            target_prep.edges.append((tid, pushed.locator, param, _param_annotation(target_prep, param)))
            push_expected[(target, param)] = expected

    # One pass of checks; problems are reported grouped by kind, in this order.
    unknown: list[str] = []
    receivers: dict[str, tuple[bool, Any]] = {}
    missing: dict[str, list[str]] = {}
    pool_problems: list[str] = []
    call_problems: list[str] = []
    pool_names = list(config.pools)
    for prep in ordered:
        record = prep.record
        tid = record.task_id
        if prep.spec.problems:
            problems.extend(prep.spec.problems)
        if prep.problems:
            problems.extend(prep.problems)
        for dep in record.depends_on:
            if dep not in tasks:
                unknown.append(f"{tid} -> {dep}")
        receiver = prep.receiver
        if receiver is not None and receiver.kind is not None:
            found, value = find_receiver(receiver, config.class_instances)
            if found:
                receivers[tid] = (True, value)
            else:
                label = owner_label(receiver.owner) if receiver.owner else repr(receiver.call)
                missing.setdefault(label, []).append(tid)
        pool = record.pool
        if pool is not None and pool not in config.pools and check_pools:
            pool_problems.append(
                f"Task '{tid}' uses pool '{pool}', which the configuration does not define "
                f"(pools: {pool_names}). Add it: AstrumConfig(pools={{'{pool}': <size>}})."
            )
        if prep.spec.params or prep.inputs:
            call_problems.extend(_signature_problems(prep))
        if record.isolation == "process":
            call_problems.extend(_isolation_problems(prep, receivers.get(tid)))
    if unknown:
        message = (
            f"Registry '{registry.name}' has unknown dependencies: {sorted(unknown)}. "
            "Register these tasks, or remove them from depends_on."
        )
        if not collect_all:
            raise TaskRegistrationError(message, problems=unknown)
        problems.append(message)
    if missing:
        detail = "; ".join(f"{label}: {sorted(ids)}" for label, ids in missing.items())
        message = (
            f"Missing class_instances for class-scoped tasks: {detail}. "
            "Pass the instances with AstrumConfig(class_instances=[...])."
        )
        if not collect_all:
            raise TaskRegistrationError(message)
        problems.append(message)
    problems.extend(pool_problems)
    problems.extend(call_problems)
    if not config.skip_type_check:
        for tid in selected:
            problems.extend(_type_problems(tid, prepared))
    if collect_all:
        chosen_ids = set(selected)  # unknown ids are reported above; look for cycles among the rest
        try:
            compile_graph((tid, [d for d in prepared[tid].deps if d in chosen_ids]) for tid in selected)
        except SchedulerError as exc:
            problems.append(str(exc))
    if problems:
        raise TaskRegistrationError(_TRANSPORT_HEADER + "\n- ".join(problems), problems=problems)

    graph = compile_graph(zip(selected, [prep.deps for prep in ordered], strict=True))
    binders: list[Binder | None] = []
    fns: list[Any] = []
    kinds: list[int] = []
    policies: list[Any] = []
    context_params: list[tuple[str, ...]] = []
    pools: list[int] = []
    validate = config.validate_values
    unchecked: list[str] = []  # validate_values: Ref types pydantic cannot validate
    for prep in ordered:
        record = prep.record
        tid = record.task_id
        implementation = record.implementation
        if implementation is not None:
            fn = implementation
        else:
            fn = prep.receiver.call if prep.receiver is not None else record.function
        fns.append(fn)
        kinds.append(callable_kind(fn))
        policies.append(record.policy)
        context_params.append(prep.spec.context_params)
        # An unknown pool only gets here from validate() without a config: it does not check pools.
        pool = record.pool
        pools.append(pool_names.index(pool) if pool is not None and pool in config.pools else -1)
        has_receiver, receiver_value = receivers.get(tid, (False, None)) if receivers else (False, None)
        if implementation is not None:
            has_receiver = False  # an override is called with the injected arguments only
        if not prep.inputs and not has_receiver:
            binders.append(None)
            continue
        inputs = prep.inputs
        if validate:
            inputs = [_with_check(tid, inp, prep, unchecked) for inp in inputs]
        binders.append(make_binder(tid, inputs, receiver_value, has_receiver, index=graph.index))
    if unchecked:
        raise TaskRegistrationError(_TRANSPORT_HEADER + "\n- ".join(unchecked), problems=unchecked)
    program = configured_program(
        graph,
        config,
        concurrency_context,
        fns,
        kinds,
        binders,
        policies,
        context_params=context_params if any(context_params) else None,
        pools=pools if pool_names and any(p >= 0 for p in pools) else None,
    )
    return BuildResult(
        registry=registry,
        config=config,
        selected=selected,
        graph=graph,
        program=program,
        prepared=prepared,
        concurrency_context=concurrency_context,
    )


def _param_annotation(prep: _Prepared, param: str | int) -> Any:
    for p in prep.spec.params:
        if p.name == param:
            return p.annotation
    return NO_ANNOTATION


_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _signature_problems(prep: _Prepared) -> list[str]:
    params, inputs = prep.spec.params, prep.inputs
    if not params and not inputs:
        return []
    if len(params) == len(inputs):
        for p, inp in zip(params, inputs, strict=True):
            if p.kind not in _NAMED or p.name != inp.target:
                break
        else:
            return []  # every parameter is fed by name, in order: nothing to report (the common case)
    tid = prep.record.task_id
    # A relation whose annotation, source or data item could not be resolved is already reported;
    # do not report its parameter as unprovided too.
    provided = (
        {inp.target for inp in prep.inputs}
        | {ref.param for ref in prep.spec.inputs}
        | set(prep.spec.context_params)
        | set(prep.spec.unresolved)
        | set(prep.unresolved)
    )
    out: list[str] = []
    for p in prep.spec.params:
        kind = p.kind
        if kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        if p.name in provided:
            if kind is inspect.Parameter.POSITIONAL_ONLY:
                out.append(
                    f"Task '{tid}' parameter '{p.name}' is positional-only, but injected values are passed by "
                    "keyword. Remove the '/' from the signature."
                )
            continue
        if not p.has_default:
            out.append(
                f"Task '{tid}' parameter '{p.name}' has no value: no Ref/F relation, data item or default "
                f"provides it. Annotate it as Ref[<type>, F('<task>', ...)] or give it a default."
            )
    names = {p.name for p in prep.spec.params}
    accepts_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in prep.spec.params)
    for inp in prep.inputs:
        if (
            isinstance(inp.target, str)
            and inp.target not in names
            and not accepts_kwargs
            and prep.spec.params
        ):
            out.append(
                f"Task '{tid}' receives a value for parameter '{inp.target}', which its signature does not have."
            )
    return out


def _isolation_problems(prep: _Prepared, receiver: tuple[bool, Any] | None) -> list[str]:
    """A process-isolated task's function (and receiver) must be picklable."""
    if prep.record.isolation != "process":
        return []
    tid = prep.record.task_id
    out: list[str] = []
    problem = picklable_problem(prep.receiver.call if prep.receiver is not None else prep.record.function)
    if problem is not None:
        out.append(
            f"Task '{tid}' uses isolation='process' but its function cannot be sent to a worker process "
            f"({problem}). Define it at module level (not inside a function, not a lambda), or use "
            "isolation='thread'."
        )
    if receiver is not None:
        problem = picklable_problem(receiver[1])
        if problem is not None:
            out.append(
                f"Task '{tid}' uses isolation='process' but its instance cannot be sent to a worker process "
                f"({problem})."
            )
    return out


def _edge_label(source: str, locator: Any, consumer: str, param: Any) -> str:
    if locator is None:
        left = source
    elif isinstance(locator, int):
        left = f"{source}[{locator}]"
    else:
        left = f"{source}.{locator}"
    return f"{left} -> {consumer}.{param}"


def _function_input_problems(tid: str, prep: _Prepared) -> list[str]:
    """``from_function`` inputs: the function's return annotation (or a constant's type) must fit."""
    out: list[str] = []
    for param, provider, expected in prep.function_inputs:
        if callable(provider):
            produced = parse_callable(tid, provider, {}).returns
            label = getattr(provider, "__qualname__", repr(provider))
            if not is_compatible(produced, expected):
                out.append(
                    f"Type mismatch on edge from_function {label} -> {tid}.{param}: it returns "
                    f"{type_name(produced)} but '{tid}' expects {type_name(expected)}."
                )
        elif not _value_fits(provider, expected):
            out.append(
                f"Type mismatch on edge from_function constant -> {tid}.{param}: {provider!r} is not "
                f"{type_name(expected)}."
            )
    return out


def _value_fits(value: Any, expected: Any) -> bool:
    try:
        checker = value_checker(expected, instances=False)  # 0.1: a dict a model can be built from fits
    except UncheckableTypeError:
        return True  # cannot decide: only what is certainly wrong is reported
    if checker is None:
        return True
    try:
        checker(value)
    except Exception:
        return False
    return True


def _type_problems(tid: str, prepared: Mapping[str, _Prepared]) -> list[str]:
    prep = prepared[tid]
    if not prep.edges and not prep.function_inputs:
        return []
    out: list[str] = _function_input_problems(tid, prep)
    for source, locator, param, expected in prepared[tid].edges:
        produced = prepared[source].spec.returns
        if produced is NO_ANNOTATION or expected is NO_ANNOTATION:
            continue
        edge = _edge_label(source, locator, tid, param)
        if isinstance(locator, str):
            try:
                produced = field_type(produced, locator)
            except KeyError:
                out.append(
                    f"Bad locator on edge {edge}: '{source}' returns {type_name(produced)}, which has no field "
                    f"'{locator}' ({describe_locator(source, locator)}). Fix the locator or the return type."
                )
                continue
        elif isinstance(locator, int):
            try:
                produced = item_type(produced, locator)
            except IndexError:
                out.append(
                    f"Bad locator on edge {edge}: '{source}' returns {type_name(produced)}, which has no item "
                    f"[{locator}]. Fix the locator or the return type."
                )
                continue
        if not is_compatible(produced, expected):
            out.append(
                f"Type mismatch on edge {edge}: '{source}' provides {type_name(produced)} but '{tid}' expects "
                f"{type_name(expected)}. Fix one of the annotations, or set AstrumConfig(skip_type_check=True)."
            )
    return out


def _with_check(tid: str, inp: Input, prep: _Prepared, unchecked: list[str]) -> Input:
    """``inp`` with a check of its value against its ``Ref`` type (``validate_values``).

    A type pydantic cannot validate is added to ``unchecked`` (the build then fails naming the edge).
    """
    expected: Any = NO_ANNOTATION
    for source, locator, param, exp in prep.edges:
        if param == inp.target and source == inp.source and locator == inp.locator:
            expected = exp
            break
    if inp.source is None:
        return inp
    edge = _edge_label(inp.source, inp.locator, tid, inp.target)
    try:
        checker = value_checker(expected)
    except UncheckableTypeError as exc:
        unchecked.append(
            f"Task '{tid}' cannot validate values on edge {edge} (validate_values=True): {exc}. "
            "Declare the Ref type with a type pydantic can validate (for a TypedDict: one from "
            "typing_extensions), or turn validate_values off."
        )
        return inp
    if checker is None:
        return inp

    def check(value: Any, _checker: Any = checker, _edge: str = edge, _expected: Any = expected) -> Any:
        from ._inject import TaskInputError

        try:
            _checker(value)
        except Exception as exc:
            errors = getattr(exc, "errors", None)
            detail = errors()[0].get("msg", str(exc)) if callable(errors) and errors() else str(exc)
            raise TaskInputError(
                f"Value check failed on edge {_edge}: expected {type_name(_expected)}, got "
                f"{type(value).__name__} {value!r:.80} ({detail}). Fix the producer, or the Ref type."
            ) from None
        return value

    return Input(target=inp.target, source=inp.source, locator=inp.locator, check=check)
