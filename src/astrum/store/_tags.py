"""The tagged JSON forms of results: values JSON has no type for, written so they load back the same.

JSON values are kept as they are. Other supported values become a JSON object with a
``"__astrum__"`` tag: tuples, sets and frozensets, bytes and bytearrays, non-finite floats,
dicts whose keys are not all strings, datetimes (with their ``zoneinfo`` zone), dates, times,
timedeltas, ``Decimal``, ``UUID``, ``pathlib`` paths, named tuples, enums, dataclass instances
and pydantic models. The last four carry their importable ``module:qualname``; decoding
imports the module and checks that the name is a type of the tagged kind before it builds
anything from stored data. A dict holding the key ``"__astrum__"`` is stored in the tagged
dict form, so no stored dict is ever taken for a tag.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import importlib
import math
import pathlib
import sys
import uuid
import zoneinfo
from decimal import Decimal
from typing import Any, Final

__all__ = ["TAG", "DecodeError", "UnstorableValue", "from_tagged", "is_plain", "to_tree"]

TAG: Final = "__astrum__"
_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
_STR: Final = frozenset({str})
_MAX_DEPTH: Final = 200
_PATHS: Final = {
    cls.__name__: cls
    for cls in (
        pathlib.Path,
        pathlib.PosixPath,
        pathlib.WindowsPath,
        pathlib.PurePath,
        pathlib.PurePosixPath,
        pathlib.PureWindowsPath,
    )
}


class UnstorableValue(Exception):
    """A value the codec cannot encode; ``str()`` is the reason, naming where in the value."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.trail: list[str] = []  # index/key steps from the innermost container outwards
        super().__init__(what)

    def __str__(self) -> str:
        return f"result{''.join(reversed(self.trail))} {self.what}"


class DecodeError(Exception):
    """A stored payload cannot be turned back into a value; ``str()`` is the reason."""


def is_plain(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` holds only exact JSON types (str-keyed dicts, lists, scalars)."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if depth > 50:
        return False  # deep or circular: the tree walk decides
    if kind is list:
        items: Any = value
    elif kind is dict:
        if TAG in value or not set(map(type, value)) <= _STR:
            return False  # a tag to escape, or a key that is not exactly a str (an int, a StrEnum)
        items = value.values()
    else:
        return False
    kinds = set(map(type, items))
    if kinds <= _SCALARS:
        return True
    return all(is_plain(item, depth + 1) for item in items if type(item) not in _SCALARS)


def to_tree(value: Any, path: list[int]) -> Any:
    """The JSON tree of ``value``; ``path`` holds the ids of the containers being encoded."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else {TAG: "float", "value": repr(value)}
    if len(path) > _MAX_DEPTH:
        raise UnstorableValue(f"is nested more than {_MAX_DEPTH} levels deep")
    if id(value) in path:
        raise UnstorableValue("contains itself")
    path.append(id(value))
    try:
        return _container_tree(value, kind, path)
    finally:
        path.pop()


def _items_tree(items: Any, path: list[int]) -> list[Any]:
    out: list[Any] = []
    i = 0
    try:
        for i, item in enumerate(items):  # noqa: B007 - i names the failing item below
            out.append(to_tree(item, path))
    except UnstorableValue as exc:
        exc.trail.append(f"[{i}]")
        raise
    return out


def _dict_tree(value: dict[Any, Any], path: list[int]) -> Any:
    key: Any = None
    try:
        if TAG not in value and set(map(type, value)) <= _STR:
            out: dict[str, Any] = {}
            for key, item in value.items():
                out[key] = to_tree(item, path)
            return out
        pairs: list[Any] = []
        for key, item in value.items():
            pairs.append([to_tree(key, path), to_tree(item, path)])
        return {TAG: "dict", "items": pairs}
    except UnstorableValue as exc:
        exc.trail.append(f"[{key!r}]")
        raise


def _container_tree(value: Any, kind: type, path: list[int]) -> Any:
    if kind is list:
        return _items_tree(value, path)
    if kind is dict:
        return _dict_tree(value, path)
    if kind is tuple or kind is set or kind is frozenset:
        return {TAG: kind.__name__, "items": _items_tree(value, path)}
    if kind is bytes or kind is bytearray:
        return {TAG: kind.__name__, "base64": base64.b64encode(value).decode("ascii")}
    if kind is dt.datetime or kind is dt.date or kind is dt.time:
        zone = getattr(value, "tzinfo", None)
        if isinstance(zone, zoneinfo.ZoneInfo) and kind is dt.datetime:  # keep the zone, not just the offset
            # The wall time as given (a time in a DST gap or fold included) and its fold.
            tree = {TAG: "datetime", "iso": value.replace(tzinfo=None).isoformat(), "zone": zone.key}
            if value.fold:
                tree["fold"] = 1
            return tree
        return {TAG: kind.__name__, "iso": value.isoformat()}
    if kind is dt.timedelta:
        return {TAG: "timedelta", "value": [value.days, value.seconds, value.microseconds]}
    if kind is Decimal:
        return {TAG: "decimal", "value": str(value)}
    if kind is uuid.UUID:
        return {TAG: "uuid", "value": str(value)}
    if _PATHS.get(kind.__name__) is kind:
        return {TAG: "path", "type": kind.__name__, "value": str(value)}
    if isinstance(value, enum.Enum):
        return {TAG: "enum", "type": _type_name(kind), "value": to_tree(value.value, path)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = _type_name(kind)
        fields: dict[str, Any] = {}
        field = ""
        try:
            for field in (f.name for f in dataclasses.fields(value)):
                fields[field] = to_tree(getattr(value, field), path)
        except UnstorableValue as exc:
            exc.trail.append(f".{field}")
            raise
        return {TAG: "dataclass", "type": name, "fields": fields}
    if issubclass(kind, tuple) and hasattr(kind, "_fields"):
        return {TAG: "namedtuple", "type": _type_name(kind), "items": _items_tree(value, path)}
    if _is_pydantic_model(value):
        name = _type_name(kind)
        try:
            data = value.model_dump(mode="json")
        except Exception as exc:
            raise UnstorableValue(f"failed model_dump(mode='json'): {type(exc).__name__}: {exc}") from None
        return {TAG: "pydantic", "type": name, "data": to_tree(data, path)}
    raise UnstorableValue(
        f"is a {kind.__module__}.{kind.__qualname__}, which the JSON serializer cannot store; return "
        "JSON data, a dataclass or a pydantic model, or open the store with serializer='pickle'"
    )


def _is_pydantic_model(value: Any) -> bool:
    pydantic = sys.modules.get("pydantic")  # a model exists only if pydantic was imported
    return pydantic is not None and isinstance(value, pydantic.BaseModel)


def _type_name(kind: type) -> str:
    """``module:qualname`` of ``kind``, checked to import back to the same type."""
    name = f"{kind.__module__}:{kind.__qualname__}"
    try:
        found = _import_type(name)
    except DecodeError:
        found = None
    if found is not kind:
        raise UnstorableValue(
            f"is a {kind.__qualname__} from {kind.__module__}, which cannot be imported back by that "
            "name (a class defined inside a function?); define the class at module level"
        )
    return name


def _import_type(name: str) -> Any:
    module_name, _, qualname = name.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except Exception as exc:
        raise DecodeError(f"cannot import {name}: {type(exc).__name__}: {exc}") from None
    return found


def from_tagged(obj: dict[str, Any]) -> Any:
    tag = obj.get(TAG)
    if tag is None:
        return obj
    decode = _DECODERS.get(tag)
    if decode is None:
        raise DecodeError(f"unknown tag {tag!r}: stored by a newer astrum?")
    return decode(obj)


def _typed(obj: dict[str, Any], check: Any, kind: str) -> Any:
    found = _import_type(obj["type"])
    if not (isinstance(found, type) and check(found)):
        raise DecodeError(f"{obj['type']} is not a {kind}")
    return found


def _decode_datetime(obj: dict[str, Any]) -> dt.datetime:
    value = dt.datetime.fromisoformat(obj["iso"])
    zone = obj.get("zone")
    if zone is None:
        return value
    if value.tzinfo is not None:  # written with its UTC offset (before the wall time was kept)
        return value.astimezone(zoneinfo.ZoneInfo(zone))
    return value.replace(tzinfo=zoneinfo.ZoneInfo(zone), fold=1 if obj.get("fold") else 0)


def _decode_dataclass(obj: dict[str, Any]) -> Any:
    cls = _typed(obj, dataclasses.is_dataclass, "dataclass")
    values: dict[str, Any] = obj["fields"]
    fields = dataclasses.fields(cls)
    instance = cls(**{f.name: values[f.name] for f in fields if f.init and f.name in values})
    for f in fields:
        if not f.init and f.name in values:
            object.__setattr__(instance, f.name, values[f.name])
    return instance


def _decode_pydantic(obj: dict[str, Any]) -> Any:
    pydantic = importlib.import_module("pydantic")
    cls = _typed(obj, lambda t: issubclass(t, pydantic.BaseModel), "pydantic model")
    return cls.model_validate(obj["data"])


_DECODERS: Final[dict[str, Any]] = {
    "float": lambda o: float(o["value"]),
    "dict": lambda o: {k: v for k, v in o["items"]},
    "tuple": lambda o: tuple(o["items"]),
    "set": lambda o: set(o["items"]),
    "frozenset": lambda o: frozenset(o["items"]),
    "bytes": lambda o: base64.b64decode(o["base64"]),
    "bytearray": lambda o: bytearray(base64.b64decode(o["base64"])),
    "datetime": lambda o: _decode_datetime(o),
    "date": lambda o: dt.date.fromisoformat(o["iso"]),
    "time": lambda o: dt.time.fromisoformat(o["iso"]),
    "timedelta": lambda o: dt.timedelta(*o["value"]),
    "decimal": lambda o: Decimal(o["value"]),
    "uuid": lambda o: uuid.UUID(o["value"]),
    "path": lambda o: _PATHS[o["type"]](o["value"]),
    "enum": lambda o: _typed(o, lambda t: issubclass(t, enum.Enum), "enum")(o["value"]),
    "namedtuple": lambda o: _typed(
        o, lambda t: issubclass(t, tuple) and hasattr(t, "_fields"), "named tuple"
    )(*o["items"]),
    "dataclass": _decode_dataclass,
    "pydantic": _decode_pydantic,
}
