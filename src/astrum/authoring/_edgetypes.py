"""Build stage 3, check edge types: what a task returns must fit what the next task declares.

`edge_problem` is the rule both builds follow for each edge (the one-pass build leaves
a registry with any problem to the general build, which reports them all). With
``validate_values`` the general build also checks values on the edges at run time
(`with_value_check`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._inject import Input, TaskInputError, describe_locator
from ._mapspec import mapped_edge_problem, produced_type
from ._transport import NO_ANNOTATION, parse_callable
from ._typecheck import UncheckableTypeError, field_type, is_compatible, item_type, type_name, value_checker

if TYPE_CHECKING:
    from ._prepare import Prepared

__all__ = ["edge_label", "edge_problem", "type_problems", "with_value_check"]


def edge_label(source: str, locator: Any, consumer: str, param: Any) -> str:
    """``source.field -> consumer.param`` (``source[i]`` for an index), for messages."""
    if locator is None:
        left = source
    elif isinstance(locator, int):
        left = f"{source}[{locator}]"
    else:
        left = f"{source}.{locator}"
    return f"{left} -> {consumer}.{param}"


def edge_problem(consumer: str, inp: Input, produced: Any, *, mapped: bool = False) -> str | None:
    """What is certainly wrong with edge ``inp`` into ``consumer`` when its source returns
    ``produced`` (``None``: the types can fit, or one side is not annotated). ``mapped``: the
    parameter is mapped over, so the value must be a list of what it declares."""
    expected = inp.expected
    locator = inp.locator
    if (
        produced is NO_ANNOTATION
        or expected is NO_ANNOTATION
        or (produced is expected and locator is None and not mapped)
    ):
        return None
    source = str(inp.source)
    if isinstance(locator, str):
        try:
            produced = field_type(produced, locator)
        except KeyError:
            edge = edge_label(source, locator, consumer, inp.target)
            return (
                f"Bad locator on edge {edge}: '{source}' returns {type_name(produced)}, which has no field "
                f"'{locator}' ({describe_locator(source, locator)}). Fix the locator or the return type."
            )
    elif isinstance(locator, int):
        try:
            produced = item_type(produced, locator)
        except IndexError:
            edge = edge_label(source, locator, consumer, inp.target)
            return (
                f"Bad locator on edge {edge}: '{source}' returns {type_name(produced)}, which has no item "
                f"[{locator}]. Fix the locator or the return type."
            )
    if mapped:
        return mapped_edge_problem(edge_label(source, locator, consumer, inp.target), inp, produced)
    if is_compatible(produced, expected):
        return None
    edge = edge_label(source, locator, consumer, inp.target)
    return (
        f"Type mismatch on edge {edge}: '{source}' provides {type_name(produced)} but '{consumer}' expects "
        f"{type_name(expected)}. Fix one of the annotations, or set AstrumConfig(skip_type_check=True)."
    )


def type_problems(tid: str, prepared: Mapping[str, Prepared]) -> list[str]:
    """The problems of every edge into task ``tid`` (``from_function`` inputs first)."""
    prep = prepared[tid]
    if not prep.inputs:
        return []
    out = _function_input_problems(tid, prep)
    mapped = prep.record.map
    for inp in prep.inputs:
        if not inp.use_function:
            source = prepared[str(inp.source)]
            produced = produced_type(source.record, source.spec.returns)
            problem = edge_problem(tid, inp, produced, mapped=mapped is not None and inp.target in mapped)
            if problem is not None:
                out.append(problem)
    return out


def _function_input_problems(tid: str, prep: Prepared) -> list[str]:
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


def with_value_check(tid: str, inp: Input, inputs: list[Input], unchecked: list[str]) -> Input:
    """``inp`` with a check of its value against its declared type (``validate_values``).

    The type is the one the task declares on the first of its ``inputs`` reading the same
    value. A type pydantic cannot validate is added to ``unchecked`` (the build then fails
    naming the edge).
    """
    if inp.source is None:
        return inp
    expected = next(
        (
            other.expected
            for other in inputs
            if not other.use_function
            and (other.target, other.source, other.locator) == (inp.target, inp.source, inp.locator)
        ),
        NO_ANNOTATION,
    )
    edge = edge_label(inp.source, inp.locator, tid, inp.target)
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

    return inp._replace(check=check)
