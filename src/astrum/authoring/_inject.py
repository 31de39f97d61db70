"""Argument injection: build a task's call arguments from upstream results."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from .._errors import SchedulerError
from ..core._program import NO_RESULT, Binder, result_slot
from ..core._typenames import NO_ANNOTATION

__all__ = ["ArgBinder", "Input", "TaskInputError", "WholeBinder", "describe_locator", "make_binder"]


class TaskInputError(SchedulerError, LookupError):
    """An upstream result does not contain what a parameter asks for."""


def describe_locator(source: str, locator: str | int | None) -> str:
    """``F('src', 'key')`` rendering of a relation, for messages."""
    return f"F({source!r})" if locator is None else f"F({source!r}, {locator!r})"


class Input(NamedTuple):
    """One injected argument.

    ``target`` is the parameter: a name (keyword argument) or a position.
    The value is the result of task ``source`` narrowed by ``locator`` (key/attribute,
    index, or ``None`` for the whole result), or the result of calling
    ``from_function`` (a non-callable ``from_function`` is used as a constant).
    ``check`` (optional) validates the value and returns it, or raises. ``expected`` is
    the type the task declares for the value (``NO_ANNOTATION``: none): the build checks
    the edge from ``source`` against it.
    """

    target: str | int
    source: str | None
    locator: str | int | None = None
    from_function: Any = None
    use_function: bool = False
    check: Callable[[Any], Any] | None = None
    expected: Any = NO_ANNOTATION


def _extract(value: Any, locator: str | int) -> Any:
    if isinstance(locator, str):
        if isinstance(value, Mapping):
            return value[locator]
        try:
            return getattr(value, locator)
        except AttributeError:
            if hasattr(value, "__getitem__") and not isinstance(value, (str, bytes)):
                return value[locator]
            raise
    if hasattr(type(value), "__getitem__"):
        return value[locator]  # a position in a sequence, a key in a mapping
    return list(value)[locator]  # a result that can only be iterated: the position in iteration order


def item_target(item: Any, params: Sequence[str]) -> str | int:
    """The parameter an explicit input ``DataItem`` fills.

    ``to_relation.key`` names it; ``to_relation.index`` (default 0) is a position,
    turned into the name of the parameter there when the signature has one.
    """
    relation = item.to_relation
    target: str | int = 0
    if relation is not None:
        if relation.key is not None:
            target = relation.key
        elif relation.index is not None:
            target = relation.index
    if isinstance(target, int) and 0 <= target < len(params):
        target = params[target]
    return target


def relation_locator(relation: Any) -> str | int | None:
    """What a ``from_relation`` reads: ``None`` for the whole value, else its key or index."""
    if relation.single_item:
        return None
    locator: str | int | None = relation.key if relation.key is not None else relation.index
    return locator


def make_binder(
    task: str,
    inputs: Sequence[Input],
    receiver: Any = None,
    has_receiver: bool = False,
    *,
    index: Mapping[str, int],
) -> Binder:
    """The binder for a task's inputs: a `WholeBinder` for the common single whole result.

    ``index`` maps the program's task names to their result slots.
    """
    if len(inputs) == 1 and not has_receiver:
        only = inputs[0]
        if (
            type(only.target) is str
            and only.source is not None
            and only.locator is None
            and only.check is None
            and not only.use_function
        ):
            return WholeBinder(task, only.target, only.source, result_slot(index, only.source))
    return ArgBinder(task, inputs, receiver, has_receiver, index=index)


class WholeBinder(Binder):
    """Passes one upstream task's whole result as one keyword argument (the common case)."""

    __slots__ = ("param", "slot", "source", "task")

    def __init__(self, task: str, param: str, source: str, slot: int) -> None:
        self.task = task
        self.param = param
        self.source = source
        self.slot = slot

    def bind(self, values: list[Any]) -> tuple[list[Any], dict[str, Any]]:
        value = values[self.slot]
        if value is NO_RESULT:
            raise _missing(self.task, self.param, self.source)
        return [], {self.param: value}


def _missing(task: str, param: str | int, source: str | None) -> TaskInputError:
    return TaskInputError(
        f"Task '{task}' parameter {param!r}: no result of task '{source}' in this run. "
        f"Declare '{source}' as a dependency of '{task}'."
    )


class ArgBinder(Binder):
    """Binds a task's inputs; keyword targets become kwargs, int targets positional args.

    ``index`` maps the program's task names to their result slots.
    """

    __slots__ = ("_keyword", "_positional", "inputs", "needs_await", "receiver", "task")

    def __init__(
        self,
        task: str,
        inputs: Sequence[Input],
        receiver: Any = None,
        has_receiver: bool = False,
        *,
        index: Mapping[str, int],
    ) -> None:
        self.task = task
        self.inputs = tuple(inputs)
        self.receiver = (receiver,) if has_receiver else ()
        slotted = [(inp, result_slot(index, inp.source)) for inp in self.inputs]
        self._keyword = tuple(pair for pair in slotted if isinstance(pair[0].target, str))
        self._positional = tuple(sorted((pair for pair in slotted if isinstance(pair[0].target, int)),
                                        key=lambda pair: pair[0].target))  # fmt: skip
        self.needs_await = any(inp.use_function for inp in self.inputs)

    def _value(self, inp: Input, slot: int, values: list[Any]) -> Any:
        if inp.use_function:
            fn = inp.from_function
            return fn() if callable(fn) else fn
        source = inp.source
        value = values[slot]
        if value is NO_RESULT:
            raise _missing(self.task, inp.target, source)
        locator = inp.locator
        if locator is not None:
            try:
                value = _extract(value, locator)
            except (KeyError, IndexError, AttributeError, TypeError) as exc:
                if isinstance(locator, str):
                    kind = "key or attribute"
                else:
                    kind = "key" if isinstance(value, Mapping) else "index"
                raise TaskInputError(
                    f"Task '{self.task}' parameter {inp.target!r}: the result of task '{source}' "
                    f"({type(value).__name__}) has no {kind} {locator!r} "
                    f"(declared as {describe_locator(str(source), locator)}): {exc!r}. "
                    f"Fix the locator or what '{source}' returns."
                ) from exc  # type: ignore[arg-type]
        if inp.check is not None:
            value = inp.check(value)
        return value

    def bind(self, values: list[Any]) -> tuple[list[Any], dict[str, Any]]:
        kwargs = {inp.target: self._value(inp, slot, values) for inp, slot in self._keyword}
        args = list(self.receiver)
        for inp, slot in self._positional:
            args.append(self._value(inp, slot, values))
        return args, kwargs  # type: ignore[return-value]

    async def resolve(self, args: list[Any], kwargs: dict[str, Any]) -> None:
        for key, value in kwargs.items():
            if inspect.isawaitable(value):
                kwargs[key] = await value
        for k, value in enumerate(args):
            if inspect.isawaitable(value):
                args[k] = await value
