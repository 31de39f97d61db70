"""Result serialization: JSON (with the tagged forms of `._tags`) by default, or pickle.

A store encodes a completed task's result when it is recorded and decodes it when it is
read; `encode_result` turns a value that cannot be encoded into a reason, never an error.
"""

from __future__ import annotations

import json
import pickle
import warnings
from collections.abc import Iterable
from typing import Any, Final

from ._base import NO_RESULT, UnstorableResultWarning
from ._tags import DecodeError, UnstorableValue, from_tagged, is_plain, to_tree

__all__ = [
    "CODECS",
    "JSON",
    "PICKLE",
    "Codec",
    "DecodeError",
    "UnstorableValue",
    "decode_entry",
    "decode_results",
    "encode_result",
    "warn_unstorable",
]

_ENCODER: Final = json.JSONEncoder(allow_nan=False, separators=(",", ":"))  # ensure_ascii: no lone surrogates
_encode_str: Final = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


class Codec:
    """A named pair of ``encode(value) -> str | bytes`` and ``decode(payload) -> value``."""

    name: str

    def encode(self, value: Any) -> str | bytes:
        """The stored form of ``value``. Raises `UnstorableValue` with the reason."""
        raise NotImplementedError

    def decode(self, payload: str | bytes) -> Any:
        """The value of a stored payload. Raises `DecodeError` with the reason."""
        raise NotImplementedError


class _JSONCodec(Codec):
    name = "json"

    def encode(self, value: Any) -> str:
        try:
            kind = type(value)  # the common results first, without building an encoder call
            if kind is str:
                return _encode_str(value)
            if kind is int:
                return int.__repr__(value)
            if value is None:
                return "null"
            if kind is bool:
                return "true" if value else "false"
            if is_plain(value):
                try:  # plain JSON already: the C encoder does all of it
                    return _ENCODER.encode(value)
                except ValueError:
                    pass  # a NaN or an infinity somewhere: the tree below tags it
            return _ENCODER.encode(to_tree(value, []))
        except UnstorableValue:
            raise
        except RecursionError:
            raise UnstorableValue("is nested too deeply to store") from None
        except Exception as exc:  # e.g. an int past sys.get_int_max_str_digits()
            raise UnstorableValue(f"cannot be written as JSON: {type(exc).__name__}: {exc}") from None

    def decode(self, payload: str | bytes) -> Any:
        try:
            return json.loads(payload, object_hook=from_tagged)
        except DecodeError:
            raise
        except Exception as exc:
            raise DecodeError(f"{type(exc).__name__}: {exc}") from None


class _PickleCodec(Codec):
    name = "pickle"

    def encode(self, value: Any) -> bytes:
        try:
            return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise UnstorableValue(f"cannot be pickled: {type(exc).__name__}: {exc}") from None

    def decode(self, payload: str | bytes) -> Any:
        try:
            return pickle.loads(payload if isinstance(payload, bytes) else payload.encode())
        except Exception as exc:
            raise DecodeError(f"{type(exc).__name__}: {exc}") from None


JSON: Final[Codec] = _JSONCodec()
PICKLE: Final[Codec] = _PickleCodec()
CODECS: Final[dict[str, Codec]] = {JSON.name: JSON, PICKLE.name: PICKLE}


def encode_result(codec: Codec, value: Any) -> tuple[str | bytes | None, str | None]:
    """``(payload, None)`` for a storable result, ``(None, reason)`` for one that is not."""
    if value is NO_RESULT:
        return None, "no result was recorded for this completed task"
    try:
        return codec.encode(value), None
    except UnstorableValue as exc:
        return None, str(exc)


def warn_unstorable(run_id: str, task_id: str, reason: str) -> None:
    """Tell the user that a task's result was not stored (the record itself was)."""
    warnings.warn(
        UnstorableResultWarning(
            f"The result of task '{task_id}' (run {run_id}) is not stored: {reason}. The run goes on; "
            "resuming this run will run the task again."
        ),
        stacklevel=3,
    )


def decode_entry(codec_name: str, payload: str | bytes, *, allow_pickle: bool) -> tuple[bool, Any]:
    """``(True, value)`` of a stored cache entry, or ``(False, None)`` when it cannot be loaded
    (an unknown codec, pickle not allowed, a class that no longer imports): a miss."""
    codec = CODECS.get(codec_name)
    if codec is None or (codec is PICKLE and not allow_pickle):
        return False, None
    try:
        return True, codec.decode(payload)
    except DecodeError:
        return False, None


def decode_results(
    run_id: str, rows: Iterable[tuple[str, str, str | bytes]], *, allow_pickle: bool
) -> dict[str, Any]:
    """``{task: value}`` from ``(task, codec name, payload)`` rows; a row that cannot be loaded is
    left out with an `UnstorableResultWarning` naming the task."""
    results: dict[str, Any] = {}
    for task_id, codec_name, payload in rows:
        codec = CODECS.get(codec_name)
        if codec is None:
            problem = f"it was stored with the unknown serializer {codec_name!r} (by a newer astrum?)"
        elif codec is PICKLE and not allow_pickle:
            problem = (
                "it was stored with pickle; open the store with serializer='pickle' to load it, "
                "which runs code from the file: only do so for a file you trust"
            )
        else:
            try:
                results[task_id] = codec.decode(payload)
                continue
            except DecodeError as exc:
                problem = f"it cannot be decoded: {exc}"
        warnings.warn(
            UnstorableResultWarning(
                f"The stored result of task '{task_id}' (run {run_id}) is not loaded: {problem}."
            ),
            stacklevel=3,
        )
    return results
