"""Build stage 1, resolve sources: which task feeds each input, and what a task waits for.

`ref_input` and `task_dependencies` are the rules both builds follow (the
one-pass build applies them when a plain function is registered, through `ref_inputs`);
the rest resolves the relations of the general build's tasks, writing a problem for every
reference it cannot resolve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ._inject import Input, item_target, relation_locator
from ._methods import callable_qualname
from ._transport import NO_ANNOTATION, InputRef, reference_name, underlying_function, unknown_callable_problem

if TYPE_CHECKING:
    from ._prepare import Prepared
    from ._tasks import RegisteredTask

__all__ = [
    "Problem",
    "Resolver",
    "pushes",
    "ref_input",
    "ref_inputs",
    "resolve_pushes",
    "resolve_sources",
    "task_dependencies",
]


class Problem(Exception):
    """One build problem (collected, never raised to the user on its own)."""


def ref_input(ref: InputRef, source: str, _new: Any = tuple.__new__) -> Input:
    """The input a ``Ref`` parameter becomes once its source is the task id ``source``."""
    # Input(ref.param, source, ref.locator, expected=ref.expected), made without the keyword
    # handling of its __new__ (registration makes one per Ref parameter).
    return _new(Input, (ref.param, source, ref.locator, None, False, None, ref.expected))  # type: ignore[no-any-return]


def ref_inputs(refs: Sequence[InputRef]) -> tuple[Input, ...]:
    """The inputs of ``Ref`` parameters whose sources are all task ids."""
    return tuple([ref_input(ref, ref.source) for ref in refs])


class Sourced(Protocol):
    """An input, or a ``Ref`` parameter whose source is a task id."""

    @property
    def source(self) -> Any: ...


def task_dependencies(depends_on: tuple[str, ...], inputs: Sequence[Sourced]) -> tuple[str, ...]:
    """What a task waits for: ``depends_on``, then the sources of its inputs.

    A source ``depends_on`` already names adds nothing (the graph keeps each parent
    once, in this order, either way); a task fed only by its dependencies keeps the
    ``depends_on`` tuple itself.
    """
    if not inputs:
        return depends_on
    if len(inputs) == 1:  # the common case, without a list
        source = inputs[0].source
        return depends_on if source is None or source in depends_on else (*depends_on, source)
    extra = [inp.source for inp in inputs if inp.source is not None and inp.source not in depends_on]
    return (*depends_on, *extra) if extra else depends_on


class Resolver:
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
            Problem: an unknown id or callable, or a callable registered under several ids.
        """
        if isinstance(ref, str):
            if ref not in self.tasks:
                raise Problem(
                    f"Unknown task id '{ref}' referenced by {kind} relation at task '{consumer}'. "
                    "Register that task or fix the id."
                )
            return ref
        if not callable(ref) and not isinstance(ref, staticmethod | classmethod):
            raise Problem(
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
            raise Problem(unknown_callable_problem(name, where, consumer))
        raise Problem(
            f"Callable task reference is ambiguous: task ids '{found[0]}' and '{found[1]}' refer to the same "
            f"callable ('{name}', used at task '{consumer}'). Refer to the task by its id instead."
        )


def resolve_sources(prepared: Prepared, resolver: Resolver) -> Sequence[str]:
    """Resolve every input relation of a task; fill ``inputs``, ``deps`` and ``problems``.

    Returns the task's dependencies.
    """
    record = prepared.record
    tid = record.task_id
    inputs: list[Input] = []
    for ref in prepared.spec.inputs:
        source = ref.source
        if type(source) is not str or source not in resolver.tasks:  # ids of registered tasks need nothing
            try:
                source = resolver.resolve(source, tid, "input", ref.param)
            except Problem as problem:
                prepared.own()
                prepared.problems.append(str(problem))
                continue
        inputs.append(ref_input(ref, source))
    prepared.inputs, prepared.deps = inputs, task_dependencies(record.depends_on, inputs)  # type: ignore[assignment]
    if record.data is not None:
        _data_sources(prepared, resolver)
    return prepared.deps


def _data_sources(prepared: Prepared, resolver: Resolver) -> None:
    """Add the inputs of a task's explicit input data items."""
    prepared.own()
    tid = prepared.record.task_id
    data = prepared.record.data
    assert data is not None
    params = [
        p.name for p in prepared.spec.params if p.kind in (p.kind.POSITIONAL_OR_KEYWORD, p.kind.KEYWORD_ONLY)
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
                Input(target=target, source=None, from_function=source_rel.from_function, use_function=True)
            )
            if item.allow_data_model is not None:
                prepared.function_inputs.append((target, source_rel.from_function, item.allow_data_model))
            continue
        try:
            source = resolver.resolve(source_rel.related_task, tid, "input")
        except Problem as problem:
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
        expected = item.allow_data_model or NO_ANNOTATION
        prepared.inputs.append(Input(target=target, source=source, locator=locator, expected=expected))
        prepared.deps.append(source)


def pushes(prepared: Prepared, resolver: Resolver) -> list[tuple[str, Input]]:
    """The values a task pushes into others: ``(target task, input of the target)``."""
    out: list[tuple[str, Input]] = []
    tid = prepared.record.task_id
    prepared.own()
    for push in prepared.spec.pushes:
        try:
            target = resolver.resolve(push.target, tid, "return")
        except Problem as problem:
            prepared.problems.append(str(problem))
            continue
        param: str | int = push.target_param if push.target_param is not None else 0
        out.append((target, Input(target=param, source=tid, locator=push.local)))
    data = prepared.record.data
    if data is not None:
        for item in data.output_data_item:
            to_rel, from_rel = item.to_relation, item.from_relation
            if to_rel is None or not to_rel.related_task or to_rel.related_task == tid:
                continue
            try:
                target = resolver.resolve(to_rel.related_task, tid, "return")
            except Problem as problem:
                prepared.problems.append(str(problem))
                continue
            local: str | int | None = None
            if from_rel is not None and not from_rel.single_item:
                local = from_rel.key if from_rel.key is not None else from_rel.index
            param = (
                to_rel.key if to_rel.key is not None else (to_rel.index if to_rel.index is not None else 0)
            )
            out.append((target, Input(target=param, source=tid, locator=local)))
    return out


def resolve_pushes(
    pushers: Sequence[Prepared], prepared: Mapping[str, Prepared], chosen: set[str], resolver: Resolver
) -> None:
    """Add the values pushed into chosen tasks to their inputs (a push into position ``i``
    feeds the ``i``-th parameter by name); the type checked is the one the target declares."""
    for prep in pushers:
        tid = prep.record.task_id
        for target, pushed in pushes(prep, resolver):
            if target not in chosen:
                continue
            target_prep = prepared[target]
            target_prep.own()
            param = pushed.target
            if isinstance(param, int):
                names = [p.name for p in target_prep.spec.params if p.kind in (p.kind.POSITIONAL_OR_KEYWORD,)]
                if 0 <= param < len(names):
                    param = names[param]
            expected = NO_ANNOTATION
            for p in target_prep.spec.params:
                if p.name == param:
                    expected = p.annotation
                    break
            target_prep.inputs.append(
                Input(target=param, source=tid, locator=pushed.locator, expected=expected)
            )
            target_prep.deps.append(tid)
