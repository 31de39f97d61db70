"""The general build's record of each task: how it is called and what its signature says.

The stages fill in the rest: its resolved inputs and dependencies (``_sources.py``) and
the problems found on the way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._methods import Receiver, classify
from ._plain import PlainEntry, SpecEntry
from ._transport import CallableSpec, TaskNames, parse_callable

if TYPE_CHECKING:
    from ._config import AstrumConfig
    from ._inject import Input
    from ._tasks import RegisteredTask, TaskTable

__all__ = ["Prepared", "prepare_all"]

_NOTHING: Any = ()


class Prepared:
    """What the general build knows about one registered task."""

    __slots__ = ("deps", "function_inputs", "inputs", "problems", "receiver", "record", "spec", "unresolved")

    def __init__(self, record: RegisteredTask, receiver: Receiver | None, spec: CallableSpec) -> None:
        self.record = record
        self.receiver = receiver  # None: a plain call of ``record.function``
        self.spec = spec
        # Shared empty tuples until `own` (most tasks never add anything: a million
        # tasks need no four million empty lists).
        self.inputs: list[Input] = _NOTHING
        self.deps: list[str] = _NOTHING
        self.problems: list[str] = _NOTHING
        # (param, from_function, expected type) of explicit from_function inputs
        self.function_inputs: list[tuple[str | int, Any, Any]] = _NOTHING
        # parameters of explicit data items whose problem is reported (not reported again as unprovided)
        self.unresolved: list[str | int] = _NOTHING

    def own(self) -> None:
        """Give the task lists of its own, before anything is added to them."""
        for name in ("inputs", "deps", "problems", "function_inputs", "unresolved"):
            if isinstance(getattr(self, name), tuple):
                setattr(self, name, list(getattr(self, name)))

    @property
    def edges(self) -> list[tuple[str, Any, str | int, Any]]:
        """``(source, locator, param, expected type)`` of every input read from a task's result."""
        return [(str(i.source), i.locator, i.target, i.expected) for i in self.inputs if not i.use_function]

    def copy(self) -> Prepared:
        """A record of the same task with nothing resolved yet."""
        return Prepared(self.record, self.receiver, self.spec)


def prepare_all(
    registry: TaskTable, tasks: Mapping[str, RegisteredTask], config: AstrumConfig
) -> dict[str, Prepared]:
    """A record per task; its callable parsed (or read from the registry's cache)."""
    names = TaskNames(tasks)
    instances = config.class_instances
    return {tid: _prepare(registry, record, instances, names) for tid, record in tasks.items()}


def _prepare(
    registry: TaskTable,
    record: RegisteredTask,
    instances: Sequence[Any],
    names: TaskNames,
) -> Prepared:
    cache = registry._spec_cache
    cached = cache.get(record.task_id)
    if type(cached) is PlainEntry and cached.record is record:
        # A plain call; an entry made at registration keeps only what the one-pass build
        # needs, so the rest of the spec is parsed again.
        spec = cached.spec or parse_callable(record.task_id, record.function, names)
        return Prepared(record, None, spec)
    if type(cached) is SpecEntry and cached.record is record and cached.plain:
        return Prepared(record, None, cached.spec)
    receiver = classify(record.function, instances)
    skip_first = receiver.kind is not None
    if type(cached) is SpecEntry and cached.record is record and cached.skip_first == skip_first:
        spec = cached.spec
    else:
        spec = parse_callable(record.task_id, receiver.call, names, skip_first=skip_first)
        if not spec.problems:
            cache[record.task_id] = SpecEntry(record, skip_first, spec, False)
    return Prepared(record, receiver, spec)
