"""Tasks declared in a class body: which need ``self`` or ``cls``, and where it comes from."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Sequence
from types import FunctionType
from typing import Any, NamedTuple

from ._transport import underlying_function

__all__ = ["Receiver", "classify", "find_receiver", "owner_label", "owner_path"]

INSTANCE = "instance"
CLASS = "class"


class Receiver(NamedTuple):
    """How a registered object is called.

    ``call`` is the callable astrum invokes; ``kind`` is ``None`` (no receiver),
    ``"instance"`` (needs ``self``) or ``"class"`` (needs ``cls``); ``owner`` is
    ``(module, class qualname)`` of the defining class, for class-scoped tasks.
    """

    call: Any
    kind: str | None
    owner: tuple[str, str] | None


def owner_path(func: Any) -> tuple[str, str] | None:
    """``(module, class qualname)`` of the class body defining ``func``; ``None`` outside classes."""
    qualname = getattr(func, "__qualname__", "")
    if "." not in qualname:
        return None
    owner = qualname.rsplit(".", 1)[0]
    if owner.endswith("<locals>"):
        return None
    return getattr(func, "__module__", "") or "", owner


def owner_label(owner: tuple[str, str]) -> str:
    return f"{owner[0]}.{owner[1]}"


def _lookup_class(owner: tuple[str, str], instances: Sequence[Any]) -> type | None:
    for inst in instances:
        cls = inst if isinstance(inst, type) else type(inst)
        for klass in cls.__mro__:
            if (klass.__module__, klass.__qualname__) == owner:
                return klass
    module = sys.modules.get(owner[0])
    if module is None or "<locals>" in owner[1]:
        return None
    obj: Any = module
    for part in owner[1].split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj if isinstance(obj, type) else None


def classify(obj: Any, instances: Sequence[Any]) -> Receiver:
    """Work out how to call a registered object (see `Receiver`)."""
    if type(obj) is FunctionType and "." not in obj.__qualname__:
        return Receiver(obj, None, None)  # a module-level function (the common case)
    if isinstance(obj, staticmethod):
        return Receiver(obj.__func__, None, None)
    if isinstance(obj, classmethod):
        func = obj.__func__
        return Receiver(func, CLASS, owner_path(func))
    if not inspect.isfunction(obj):
        return Receiver(obj, None, None)
    owner = owner_path(obj)
    if owner is None:
        return Receiver(obj, None, None)
    klass = _lookup_class(owner, instances)
    if klass is not None:
        entry = klass.__dict__.get(obj.__name__)
        if isinstance(entry, staticmethod):
            return Receiver(obj, None, owner)
        if isinstance(entry, classmethod):
            return Receiver(obj, CLASS, owner)
        return Receiver(obj, INSTANCE, owner)
    params = list(inspect.signature(obj).parameters)
    first = params[0] if params else ""
    if first == "self":
        return Receiver(obj, INSTANCE, owner)
    if first == "cls":
        return Receiver(obj, CLASS, owner)
    return Receiver(obj, None, owner)


def _class_holding(func: Any, owner: tuple[str, str]) -> type | None:
    """Find the class whose body defined ``func`` by following referrers (a heap scan).

    Used only for classes that neither ``class_instances`` nor a module path
    can reach, such as classes defined inside a function.
    """
    import gc

    frontier: list[Any] = [func]
    for _ in range(3):  # func -> classmethod object -> class __dict__ -> class
        found: list[Any] = []
        for referrer in gc.get_referrers(*frontier):
            if isinstance(referrer, type) and (referrer.__module__, referrer.__qualname__) == owner:
                return referrer
            if isinstance(referrer, classmethod | staticmethod | dict):
                found.append(referrer)
        if not found:
            return None
        frontier = found
    return None


def find_receiver(receiver: Receiver, instances: Sequence[Any]) -> tuple[bool, Any]:
    """``(found, value)``: the instance or class to pass as first argument."""
    owner = receiver.owner
    if owner is None:
        return False, None
    if receiver.kind == CLASS:
        klass = _lookup_class(owner, instances) or _class_holding(receiver.call, owner)
        return (klass is not None), klass
    matches = [inst for inst in instances if not isinstance(inst, type) and _defines(type(inst), owner)]
    if matches:
        return True, matches[0]
    return False, None


def _defines(cls: type, owner: tuple[str, str]) -> bool:
    return any((k.__module__, k.__qualname__) == owner for k in cls.__mro__)


def duplicate_instances(instances: Sequence[Any]) -> list[str]:
    """Labels of classes given more than one instance in ``class_instances``."""
    seen: dict[tuple[str, str], int] = {}
    for inst in instances:
        if isinstance(inst, type):
            continue
        key = (type(inst).__module__, type(inst).__qualname__)
        seen[key] = seen.get(key, 0) + 1
    return [owner_label(k) for k, count in seen.items() if count > 1]


def callable_qualname(obj: Any) -> tuple[str, str] | None:
    func = underlying_function(obj)
    qualname = getattr(func, "__qualname__", None)
    if qualname is None:
        return None
    return getattr(func, "__module__", "") or "", qualname
