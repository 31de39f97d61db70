"""Build rules of mapped tasks (``@task(map="chunk", max_parallel=4)``).

Registration checks the options (`check_map_options`); the build checks that every
mapped parameter is fed by an upstream result (`map_problems`), that the producer
gives a list of what the parameter takes (`mapped_edge_problem`: its ``Ref`` type is
the *item* type), that consumers of a mapped task see ``list[return type]``
(`produced_type`), and finds the consumers that ask for partial results
(`accepts_partial`: a ``Ref[list[X | TaskFailure], ...]``). `map_policy`
compiles it all into the task's policy.
"""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._errors import TaskRegistrationError
from ..core._map_records import MapSpec, TaskFailure
from ..core._policies import TaskPolicy
from ._inject import Input
from ._transport import NO_ANNOTATION, underlying_function
from ._typecheck import is_compatible, type_name

if TYPE_CHECKING:
    from ._prepare import Prepared
    from ._tasks import RegisteredTask

__all__ = [
    "accepts_partial",
    "check_map_options",
    "map_policy",
    "map_problems",
    "mapped_edge_problem",
    "mapped_inputs",
    "produced_type",
]


def check_map_options(tid: str, fn: Any, map_: Any, max_parallel: Any) -> tuple[str, ...] | None:
    """``map=`` as a tuple of parameter names (``None``: not mapped), and ``max_parallel=`` checked.

    Raises:
        TaskRegistrationError: a malformed option, ``max_parallel`` without ``map``, or a mapped
            name that is not a parameter of ``fn``.
    """
    if max_parallel is not None and (
        isinstance(max_parallel, bool) or not isinstance(max_parallel, int) or max_parallel < 1
    ):
        raise TaskRegistrationError(
            f"Task '{tid}' max_parallel must be a positive integer (the most instances running at once), "
            f"got {max_parallel!r}. Use max_parallel=4, or leave it out for no limit of its own."
        )
    if map_ is None:
        if max_parallel is not None:
            raise TaskRegistrationError(
                f"Task '{tid}' sets max_parallel={max_parallel} but is not mapped: max_parallel limits the "
                "instances of a mapped task. Add map='<parameter>', or use a pool (pool='...') to limit a task."
            )
        return None
    names = (map_,) if isinstance(map_, str) else map_
    if (
        not isinstance(names, tuple | list)
        or not names
        or not all(isinstance(name, str) and name for name in names)
    ):
        raise TaskRegistrationError(
            f"Task '{tid}' map must name the parameter(s) to map over: map='chunk' or map=('chunk', 'meta'), "
            f"got {map_!r}."
        )
    if len(set(names)) != len(names):
        raise TaskRegistrationError(f"Task '{tid}' map names a parameter twice: {map_!r}. Name each once.")
    params = _parameter_names(fn)
    if params is not None:
        unknown = [name for name in names if name not in params]
        if unknown:
            raise TaskRegistrationError(
                f"Task '{tid}' maps over {unknown}, which {'is not a parameter' if len(unknown) == 1 else 'are not parameters'} "
                f"of its function (parameters: {list(params)}). Fix map=, or add the parameter annotated "
                "Ref[<item type>, F('<task>', '<list field>')]."
            )
    return tuple(names)


def _parameter_names(fn: Any) -> tuple[str, ...] | None:
    """The parameter names of a plain function (``None``: not known before a build)."""
    target = underlying_function(fn)
    if not inspect.isfunction(target):
        return None
    try:
        return tuple(inspect.signature(target).parameters)
    except (TypeError, ValueError):
        return None


def map_problems(prep: Prepared) -> list[str]:
    """Each mapped parameter must receive an upstream task's result (a ``Ref`` input)."""
    record = prep.record
    mapped = record.map
    if mapped is None:
        return []
    tid = record.task_id
    params = [p.name for p in prep.spec.params]
    fed = {inp.target for inp in prep.inputs if not inp.use_function and inp.source is not None}
    unresolved = {*prep.spec.unresolved, *prep.unresolved}
    out: list[str] = []
    for name in mapped:
        if name in fed or name in unresolved:
            continue
        if name not in params:
            out.append(
                f"Task '{tid}' maps over '{name}', which is not one of its parameters ({params}). "
                f"Fix map=, or add the parameter annotated Ref[<item type>, F('<task>', '<list field>')]."
            )
        else:
            out.append(
                f"Task '{tid}' maps over parameter '{name}', which receives no upstream result. Annotate it "
                f"Ref[<item type>, F('<task>', '<list field>')] (the task feeds a list; each instance gets one "
                f"item), or remove '{name}' from map=."
            )
    return out


def produced_type(record: RegisteredTask, returns: Any) -> Any:
    """What task ``record`` hands its consumers: ``list[returns]`` when it is mapped."""
    if record.map is None or returns is NO_ANNOTATION:
        return returns
    return list[returns]  # type: ignore[valid-type]


def _item_type(produced: Any) -> Any:
    """The item type of a list-like type; ``None`` when ``produced`` is certainly no list."""
    origin = typing.get_origin(produced) or produced
    if produced is NO_ANNOTATION or produced is Any or not isinstance(origin, type):
        return NO_ANNOTATION  # cannot decide
    if issubclass(origin, str | bytes | Mapping) or not issubclass(origin, collections.abc.Iterable):
        return None
    args = typing.get_args(produced)
    if origin is tuple and args:
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
        return typing.Union[args]  # noqa: UP007 - built from a tuple of forms
    return args[0] if len(args) == 1 else NO_ANNOTATION


def mapped_edge_problem(edge: str, inp: Input, located: Any) -> str | None:
    """What is certainly wrong with the mapped edge ``inp`` (``edge`` names it): the producer's
    field, of type ``located``, must be a list of the items the parameter takes (``inp.expected``)."""
    expected = inp.expected
    if located is NO_ANNOTATION or expected is NO_ANNOTATION:
        return None
    item = _item_type(located)
    if item is NO_ANNOTATION or (item is not None and is_compatible(item, expected)):
        return None
    return (
        f"Type mismatch on edge {edge}: '{inp.source}' provides {type_name(located)} but maps into "
        f"'{inp.target}', which takes its items one by one: it must provide a list of {type_name(expected)}. "
        "Fix one of the annotations, or set AstrumConfig(skip_type_check=True)."
    )


def accepts_partial(inp: Input) -> bool:
    """The consumer's ``Ref`` type takes ``TaskFailure`` items: ``list[X | TaskFailure]`` (or an
    item of it, through an index)."""
    expected = inp.expected
    if inp.locator is None:
        origin = typing.get_origin(expected)
        args = typing.get_args(expected)
        if not (isinstance(origin, type) and issubclass(origin, collections.abc.Sequence) and len(args) == 1):
            return False
        expected = args[0]
    elif not isinstance(inp.locator, int):
        return False
    if expected is TaskFailure:
        return True
    origin = typing.get_origin(expected)
    return (origin is typing.Union or origin is types.UnionType) and TaskFailure in typing.get_args(expected)


def mapped_inputs(prep: Prepared) -> list[Input]:
    """A mapped task's inputs as the task receives them (``validate_values`` checks these): a
    mapped parameter's value is a list of what it declares."""
    mapped = prep.record.map or ()
    return [
        inp._replace(expected=list[inp.expected])  # type: ignore[name-defined]
        if inp.target in mapped and not inp.use_function and inp.expected is not NO_ANNOTATION
        else inp
        for inp in prep.inputs
    ]


def map_policy(
    record: RegisteredTask,
    policy: TaskPolicy | None,
    pool: int,
    consumers: Sequence[tuple[int, Input]],
) -> TaskPolicy:
    """The policy of mapped task ``record``: its instances run under ``policy`` in ``pool``;
    ``consumers`` are ``(task index, input)`` of the edges reading its result."""
    assert record.map is not None
    partial = frozenset(j for j, inp in consumers if accepts_partial(inp))
    return TaskPolicy(
        fanout=MapSpec(record.map, record.max_parallel, policy, pool, partial),
    )
