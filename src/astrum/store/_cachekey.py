"""Cache keys: a sha256 over the task id, its code fingerprint, the cache version and a
canonical form of its injected inputs (or of what ``Cache(key=...)`` returns).

The canonical form is the store's tagged JSON (`._tags`) with sorted dict keys, sets and
non-string-keyed dicts in sorted order: equal inputs give equal text in any process. A value
it cannot write (an open file, a client, an object of a class it does not know) is refused
with a `CacheKeyError` naming the task and the parameter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from .._errors import CacheKeyError
from ._tags import TAG, UnstorableValue, is_plain, to_tree

__all__ = ["cache_key", "canonical"]

_FORMAT: Final = "astrum-cache-1"  # changes if the key's layout ever does: old entries just miss
_HOW_TO_FIX: Final = (
    "Pass a value astrum can serialise (JSON data, a tuple, set, datetime, Decimal, UUID, path, enum, "
    "dataclass or pydantic model of a module-level class), or give the task a key function that picks "
    "what identifies the input: Cache(key=lambda {param}, **_: ...)."
)


def _dumps(tree: Any) -> str:
    return json.dumps(tree, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _sorted(tree: Any) -> Any:
    """``tree`` with the items of tagged sets and dicts in a stable order (their canonical text)."""
    if type(tree) is list:
        return [_sorted(item) for item in tree]
    if type(tree) is not dict:
        return tree
    out = {key: _sorted(value) for key, value in tree.items()}
    tag = out.get(TAG)
    if tag in ("set", "frozenset"):
        out["items"] = sorted(out["items"], key=_dumps)
    elif tag == "dict":
        out["items"] = sorted(out["items"], key=lambda pair: _dumps(pair[0]))
    return out


def canonical(value: Any) -> str:
    """The canonical text of ``value``. Raises `UnstorableValue`."""
    if is_plain(value):
        try:
            return _dumps(value)
        except ValueError:
            pass  # a NaN or an infinity: the tagged tree below writes it
    return _dumps(_sorted(to_tree(value, [])))


def _refuse(task: str, param: str, exc: UnstorableValue) -> CacheKeyError:
    where = "".join(reversed(exc.trail))
    what = exc.what.split(";")[0].replace(
        "which the JSON serializer cannot store", "which has no stable form"
    )
    return CacheKeyError(
        task,
        param,
        f"Task '{task}' is cached, but its input '{param}'{where} {what} to put in its cache key. "
        + _HOW_TO_FIX.format(param=param),
    )


def _inputs_part(task: str, kwargs: Mapping[str, Any], positional: Sequence[Any]) -> list[Any]:
    part: list[Any] = []
    for name in sorted(kwargs):
        try:
            part.append([name, canonical(kwargs[name])])
        except UnstorableValue as exc:
            raise _refuse(task, name, exc) from None
    for k, value in enumerate(positional):
        try:
            part.append([k, canonical(value)])
        except UnstorableValue as exc:
            raise _refuse(task, f"positional argument {k}", exc) from None
    return part


def _custom_part(task: str, key: Any, kwargs: Mapping[str, Any], positional: Sequence[Any]) -> str:
    label = getattr(key, "__qualname__", repr(key))
    try:
        chosen = key(*positional, **kwargs)
    except Exception as exc:
        raise CacheKeyError(
            task,
            None,
            f"Task '{task}' is cached, but its key function {label} raised {type(exc).__name__}: {exc}. "
            "It is called with the task's injected inputs as keyword arguments.",
        ) from exc
    try:
        return canonical(chosen)
    except UnstorableValue as exc:
        what = exc.what.split(";")[0].replace(
            "which the JSON serializer cannot store", "which has no stable form"
        )
        raise CacheKeyError(
            task,
            None,
            f"Task '{task}' is cached, but its key function {label} returned a value that {what}. "
            "Return a str, bytes or JSON data.",
        ) from None


def cache_key(
    task: str,
    fingerprint: str,
    version: str | int | None,
    kwargs: Mapping[str, Any],
    positional: Sequence[Any] = (),
    key: Any = None,
) -> str:
    """The cache key of one call of ``task`` (hex sha256).

    Raises:
        CacheKeyError: an input (or what ``key`` returns) has no canonical form, or ``key`` raised.
    """
    inputs: Any = (
        _inputs_part(task, kwargs, positional) if key is None else _custom_part(task, key, kwargs, positional)
    )
    text = json.dumps([_FORMAT, task, fingerprint, version, key is not None, inputs], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
