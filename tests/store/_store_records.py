"""Helpers for the store tests: record runs in a few lines, and module-level types to store."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import time
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, NamedTuple

import pydantic

from astrum.store._base import AttemptRecord, RunRecord, TaskRecord, TaskShape


def start_run(
    store: Any,
    run_id: str,
    tasks: dict[str, Iterable[str]],
    *,
    namespace: str = "default",
    start_time: float | None = None,
    config: dict[str, Any] | None = None,
    resumed_from: str | None = None,
) -> RunRecord:
    """Record the start of a run whose graph is ``{task: dependencies}``."""
    record = RunRecord(
        run_id=run_id,
        namespace=namespace,
        targets=None,
        graph_fingerprint=f"graph-{len(tasks)}",
        tasks={name: TaskShape(f"fp-{name}", (), tuple(deps)) for name, deps in tasks.items()},
        config=config or {},
        metadata={"owner": "tests"},
        start_time=time.time() if start_time is None else start_time,
        resumed_from=resumed_from,
    )
    store.run_started(record)
    return record


def complete(store: Any, run_id: str, task_id: str, result: Any = None, *, at: float | None = None) -> None:
    """Record one successful attempt and the completed task."""
    now = time.time() if at is None else at
    store.attempt_finished(run_id, AttemptRecord(task_id, 1, "completed", now, now + 0.001))
    store.task_finished(run_id, TaskRecord(task_id, "completed", now, now + 0.001, result=result))


def fail(
    store: Any, run_id: str, task_id: str, message: str, *, attempts: int = 1, at: float | None = None
) -> None:
    """Record ``attempts`` failed attempts raising ``ValueError(message)`` and the failed task."""
    now = time.time() if at is None else at
    for k in range(1, attempts + 1):
        store.attempt_finished(
            run_id,
            AttemptRecord(
                task_id, k, "failed", now + k, now + k + 0.5, "builtins.ValueError", message,
                f"Traceback (most recent call last):\n  attempt {k}\nValueError: {message}\n",
            ),
        )  # fmt: skip
    store.task_finished(
        run_id,
        TaskRecord(
            task_id, "failed", now + 1, now + attempts + 0.5, error_type="builtins.ValueError",
            error_message=message, traceback=f"Traceback (most recent call last):\nValueError: {message}\n",
        ),
    )  # fmt: skip


# -- types whose values the JSON serializer tags and loads back --------------------------------


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Mode(enum.StrEnum):
    FAST = "fast"
    SAFE = "safe"


@dataclasses.dataclass
class Point:
    x: int
    y: float
    tags: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Shipment:
    origin: Point
    when: dt.datetime
    weight: Decimal
    colors: frozenset[Color]
    note: str = dataclasses.field(default="", init=False)


class Pair(NamedTuple):
    left: Any
    right: Any


class Invoice(pydantic.BaseModel):
    number: int
    customer: str
    issued: dt.date
    lines: list[tuple[str, Decimal]]


class Opaque:
    """Not JSON: stored only by the pickle serializer."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)


def tagged_values() -> dict[str, Any]:
    """One value of every type the JSON serializer stores in a tagged form, by name."""
    import pathlib
    import uuid

    when = dt.datetime(2024, 5, 17, 9, 30, 15, 250, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    return {
        "tuple": (1, "two", (3.0, None)),
        "set": {1, 2, 3},
        "frozenset": frozenset({"a", "b"}),
        "bytes": b"\x00\xffbinary",
        "bytearray": bytearray(b"mutable"),
        "datetime": when,
        "naive-datetime": dt.datetime(2024, 1, 1, 12, 0),
        "date": dt.date(2024, 2, 29),
        "time": dt.time(23, 59, 58, 999),
        "timedelta": dt.timedelta(days=-1, seconds=5, microseconds=7),
        "decimal": Decimal("1234.5600"),
        "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "path": pathlib.Path("/srv/data/file.csv"),
        "pure-windows-path": pathlib.PureWindowsPath(r"C:\data\file.csv"),
        "enum": Color.GREEN,
        "int-enum": Level.HIGH,
        "str-enum": Mode.SAFE,
        "dataclass": Point(1, 2.5, ("a", "b")),
        "nested-dataclass": Shipment(Point(0, 0.0), when, Decimal("9.99"), frozenset({Color.RED})),
        "named-tuple": Pair(Point(3, 4.0), {"k": (1, 2)}),
        "pydantic": Invoice(
            number=7, customer="ACME", issued=dt.date(2024, 3, 1), lines=[("bolt", Decimal("0.25"))]
        ),
        "int-keys": {2024: "this year", 2023: "last year"},
        "tuple-keys": {(1, 2): "a", ("x",): "b"},
        "enum-keys": {Mode.FAST: 1},
        "tag-key": {"__astrum__": "not a tag", "other": [1]},
        "non-finite": [float("nan"), float("inf"), -float("inf")],
        "mixed": {"rows": [(1, b"a"), (2, b"b")], "seen": {dt.date(2024, 1, 1)}},
    }


def same(left: Any, right: Any) -> bool:
    """Equal with the same types all the way down (NaN equals NaN)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dt.datetime) and left.tzinfo is not None:
        return (
            left == right
            and left.utcoffset() == right.utcoffset()
            and type(left.tzinfo) is type(right.tzinfo)
        )
    if isinstance(left, float):
        return left == right or (left != left and right != right)
    if isinstance(left, dict):
        keys_alike = [type(k) for k in left] == [type(k) for k in right] and list(left) == list(right)
        return keys_alike and all(same(left[k], right[k]) for k in left)
    if isinstance(left, (list, tuple)):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    if dataclasses.is_dataclass(left):
        return all(same(getattr(left, f.name), getattr(right, f.name)) for f in dataclasses.fields(left))
    return bool(left == right)
