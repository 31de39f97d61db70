"""Static compatibility of a producer's return type with a consumer's ``Ref`` type.

The check is deliberately forgiving where it cannot know (``Any``, missing
annotations, type variables, protocols): it only reports what is certainly
wrong. Unions, ``Optional``, ``X | None``, the numeric tower (int -> float),
generics (``list[int]`` vs ``list``) and pydantic models are understood.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import types
import typing
from collections.abc import Callable, Collection, Mapping
from typing import Any

from ..core._typenames import NO_ANNOTATION
from ..core._typenames import type_name as type_name

__all__ = ["UncheckableTypeError", "field_type", "is_compatible", "item_type", "type_name", "value_checker"]

_NUMERIC_WIDENING = {int: (float, complex), float: (complex,)}
_UNKNOWN = object()


def _is_union(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    return origin is typing.Union or origin is types.UnionType


def _strip(tp: Any) -> Any:
    while getattr(tp, "__metadata__", None) is not None and hasattr(tp, "__origin__"):
        tp = tp.__origin__
    if tp is None:
        return type(None)
    return tp


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and typing.is_typeddict(tp)


def is_compatible(provided: Any, expected: Any) -> bool:
    """``False`` only when a value of type ``provided`` can never be an ``expected``."""
    if provided is NO_ANNOTATION or expected is NO_ANNOTATION:
        return True
    provided, expected = _strip(provided), _strip(expected)
    if provided is Any or expected is Any or expected is object or provided == expected:
        return True
    if _is_union(expected):
        if _is_union(provided):
            return all(is_compatible(p, expected) for p in typing.get_args(provided))
        return any(is_compatible(provided, e) for e in typing.get_args(expected))
    if _is_union(provided):
        return all(is_compatible(p, expected) for p in typing.get_args(provided))
    p_origin = typing.get_origin(provided) or provided
    e_origin = typing.get_origin(expected) or expected
    if p_origin is typing.Literal:
        values = typing.get_args(provided)
        return all(is_compatible(type(v), expected) for v in values)
    if e_origin is typing.Literal:
        return True
    if _is_typeddict(p_origin):
        p_origin = dict
    if _is_typeddict(e_origin):
        e_origin = dict
    if not isinstance(p_origin, type) or not isinstance(e_origin, type):
        return True  # TypeVar, NewType, Callable forms...: cannot decide
    try:
        related = issubclass(p_origin, e_origin)
    except TypeError:
        return True
    if not related:
        return e_origin in _NUMERIC_WIDENING.get(p_origin, ())
    p_args, e_args = typing.get_args(provided), typing.get_args(expected)
    if not p_args or not e_args or p_origin is not e_origin or len(p_args) != len(e_args):
        return True
    if Ellipsis in p_args or Ellipsis in e_args:
        p_args = tuple(a for a in p_args if a is not Ellipsis)
        e_args = tuple(a for a in e_args if a is not Ellipsis)
        if len(p_args) != len(e_args):
            return True
    return all(is_compatible(p, e) for p, e in zip(p_args, e_args, strict=True))


def field_type(model: Any, key: str) -> Any:
    """The declared type of ``model.key`` (TypedDict, dataclass, pydantic model or NamedTuple).

    Returns ``NO_ANNOTATION`` when ``model`` declares no fields astrum can read,
    and raises ``KeyError`` when it declares fields but not ``key``.
    """
    model = _strip(model)
    if not isinstance(model, type):
        return NO_ANNOTATION
    if typing.is_typeddict(model) or (issubclass(model, tuple) and hasattr(model, "_fields")):
        hints = _hints(model)
        if key not in hints:
            raise KeyError(key)
        return hints[key]
    if dataclasses.is_dataclass(model):
        names = {f.name for f in dataclasses.fields(model)}
        if key not in names:
            if hasattr(model, key):
                return NO_ANNOTATION  # a property or method
            raise KeyError(key)
        return _hints(model).get(key, NO_ANNOTATION)
    model_fields = getattr(model, "model_fields", None)
    if isinstance(model_fields, dict) and hasattr(model, "model_validate"):
        if key in model_fields:
            annotation = model_fields[key].annotation
            return NO_ANNOTATION if annotation is None else annotation
        if hasattr(model, key):
            return NO_ANNOTATION
        raise KeyError(key)
    return NO_ANNOTATION


def item_type(container: Any, index: int) -> Any:
    """The type of ``container[index]`` for ``tuple[...]``, ``list[X]``-like and ``dict[K, V]``-like types.

    An int locator on a mapping is a key: ``dict[int, str]`` gives ``str``.
    """
    container = _strip(container)
    origin = typing.get_origin(container)
    args = typing.get_args(container)
    if isinstance(origin, type) and issubclass(origin, Mapping) and len(args) == 2:
        return args[1]
    if origin is tuple and args:
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
        if -len(args) <= index < len(args):
            return args[index]
        raise IndexError(index)
    if origin in (list, typing.Sequence) and len(args) == 1:
        return args[0]
    return NO_ANNOTATION


def _hints(model: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(model)
    except Exception:
        return dict(getattr(model, "__annotations__", {}))


class UncheckableTypeError(Exception):
    """pydantic cannot build a validator for a ``Ref`` type; the message says why."""


def _as_passed_on(tp: Any, instances: bool, active: frozenset[int] = frozenset()) -> Any:
    """``tp`` rewritten so that strict validation accepts only values usable as they are.

    Injected values are validated, not converted, so with ``instances`` a class
    pydantic would build from a dict or tuple (a pydantic model, a dataclass, a
    NamedTuple) must be an instance: it becomes ``InstanceOf[cls]``, also inside
    unions and collections. A ``typing.TypedDict``, which pydantic refuses before
    Python 3.12, is rebuilt as a ``typing_extensions.TypedDict`` with the same keys.

    Raises:
        UncheckableTypeError: a recursive or generic ``typing.TypedDict`` before Python 3.12.
    """
    if isinstance(tp, type):
        if instances and (
            dataclasses.is_dataclass(tp) or hasattr(tp, "model_validate") or _is_namedtuple(tp)
        ):
            from pydantic import InstanceOf

            return InstanceOf[tp]  # type: ignore[misc]
        if typing.is_typeddict(tp):
            return _typeddict_as_passed_on(tp, instances, active)
        return tp
    metadata = getattr(tp, "__metadata__", None)
    if metadata is not None and hasattr(tp, "__origin__"):
        inner = _as_passed_on(tp.__origin__, instances, active)
        return tp if inner is tp.__origin__ else typing.Annotated[(inner, *metadata)]
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if not args:
        return tp
    if _is_typeddict(origin) and _needs_typing_extensions(origin):
        raise UncheckableTypeError(f"pydantic cannot validate the generic typing.TypedDict {type_name(tp)}")
    if not (_is_union(tp) or (isinstance(origin, type) and issubclass(origin, Collection))):
        return tp  # type[...], Callable[...], Literal[...] and the like: nothing to rewrite inside
    new_args = tuple(_as_passed_on(arg, instances, active) for arg in args)
    if all(new is old for new, old in zip(new_args, args, strict=True)):
        return tp
    if _is_union(tp):
        return typing.Union[new_args]  # noqa: UP007 - built from a tuple of forms
    try:
        return origin[new_args]
    except TypeError:
        return tp


def _is_namedtuple(tp: type) -> bool:
    return issubclass(tp, tuple) and hasattr(tp, "_fields")


def _needs_typing_extensions(tp: type) -> bool:
    """pydantic refuses ``typing.TypedDict`` classes before Python 3.12."""
    return sys.version_info < (3, 12) and type(tp).__module__ == "typing"


def _typeddict_as_passed_on(tp: type, instances: bool, active: frozenset[int]) -> Any:
    if id(tp) in active:
        if _needs_typing_extensions(tp):
            raise UncheckableTypeError(
                f"pydantic cannot validate the recursive typing.TypedDict {type_name(tp)} before Python 3.12"
            )
        return tp
    try:
        hints = typing.get_type_hints(tp, include_extras=True)
    except Exception as exc:
        raise UncheckableTypeError(f"cannot resolve the fields of {type_name(tp)}: {exc}") from exc
    required = tp.__required_keys__  # type: ignore[attr-defined]
    fields: dict[str, Any] = {}
    changed = _needs_typing_extensions(tp)
    for key, hint in hints.items():
        while typing.get_origin(hint) in (typing.Required, typing.NotRequired):
            hint = typing.get_args(hint)[0]
        new = _as_passed_on(hint, instances, active | {id(tp)})
        changed = changed or new is not hint
        fields[key] = typing.Required[new] if key in required else typing.NotRequired[new]
    if not changed:
        return tp
    import typing_extensions

    make_typeddict: Any = typing_extensions.TypedDict
    rebuilt = make_typeddict(tp.__name__, fields)
    rebuilt.__module__, rebuilt.__qualname__ = tp.__module__, tp.__qualname__
    config = getattr(tp, "__pydantic_config__", None)
    if config is not None:
        rebuilt.__pydantic_config__ = config
    return rebuilt


@functools.lru_cache(maxsize=1024)
def _adapter(expected: Any, instances: bool) -> Callable[[Any], Any]:
    from pydantic import ConfigDict, TypeAdapter

    form = _as_passed_on(expected, instances)
    try:
        adapter: Any = TypeAdapter(form, config=ConfigDict(arbitrary_types_allowed=True, strict=True))
    except Exception:
        try:
            adapter = TypeAdapter(form)  # models, dataclasses and TypedDicts carry their own config
        except Exception as exc:
            raise UncheckableTypeError(
                f"pydantic cannot validate {type_name(expected)}: {type(exc).__name__}: {exc}"
            ) from exc
    return functools.partial(adapter.validate_python, strict=True)


def value_checker(expected: Any, *, instances: bool = True) -> Callable[[Any], Any] | None:
    """A strict pydantic validator for ``expected`` (cached per type), or ``None`` if unchecked.

    With ``instances`` the validator raises if a value is not an ``expected`` as
    it is (a dict is no pydantic model, even if one could be built from it);
    without, a value one could be built from passes (Astrum 0.1's check of constants).

    Raises:
        UncheckableTypeError: pydantic cannot validate ``expected``.
    """
    expected = _strip(expected)
    if expected is NO_ANNOTATION or expected is Any or expected is object:
        return None
    try:
        return _adapter(expected, instances)
    except TypeError:  # unhashable typing form
        return None
