"""The run store contract: the records a run writes, the summaries it lists, the ``RunStore`` protocol.

A run writes four kinds of record, each as it happens: `RunRecord` once when it
starts, an `AttemptRecord` per attempt that ran a task body, a `TaskRecord`
per task outcome, and its final state. Writing never waits on disk; reading gives back
run summaries, the run record, results, and a rebuilt `ExecutionReport`.
A store also keeps the result cache of ``@task(cache=...)``: `CacheEntry` values by
key, and the leases that make one run compute a key while the others wait.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..report._report import ExecutionReport

__all__ = [
    "ATTEMPT_STATUSES",
    "NO_RESULT",
    "RUN_STATES",
    "TASK_STATUSES",
    "AttemptRecord",
    "CacheEntry",
    "PickleSerializerWarning",
    "RunRecord",
    "RunStore",
    "RunStoreWarning",
    "RunSummary",
    "TaskRecord",
    "TaskShape",
    "UnstorableResultWarning",
    "age_seconds",
    "check_filters",
]


class _NoResult:
    """The type of `NO_RESULT`."""

    _instance: _NoResult | None = None

    def __new__(cls) -> _NoResult:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_RESULT"

    def __reduce__(self) -> str:
        return "NO_RESULT"


NO_RESULT: Final[Any] = _NoResult()
"""The ``result`` of a task record that has none (any task that did not complete)."""

RUN_STATES: Final = ("running", "completed", "failed", "cancelled", "interrupted")
"""The states of a stored run. ``interrupted``: stored as running, but its process is gone."""
TASK_STATUSES: Final = ("completed", "failed", "timed_out", "cancelled", "skipped")
ATTEMPT_STATUSES: Final = ("completed", "failed", "timed_out", "cancelled")


class RunStoreWarning(UserWarning):
    """Something about recorded runs the user should know; nothing was raised."""


class UnstorableResultWarning(RunStoreWarning):
    """A task's result could not be stored (or cannot be loaded back); the message names the task."""


class PickleSerializerWarning(RunStoreWarning):
    """A store was opened with ``serializer="pickle"``: loading its results runs code from the file."""


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt that ran a task body.

    ``status`` is ``"completed"``, ``"failed"``, ``"timed_out"`` or ``"cancelled"``; times are
    epoch seconds. For a failed attempt ``error_type`` is the qualified name of the exception's
    type, ``error_message`` its ``str()`` and ``traceback`` the formatted traceback text.
    ``delay_before`` is the backoff waited before this attempt (and its rate limit's token).
    """

    task_id: str
    attempt: int
    status: str
    start_time: float
    end_time: float
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    delay_before: float = 0.0


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """The final outcome of one task of a run.

    ``status`` is a `TaskStatus` value or ``"timed_out"``. ``result`` is the
    value of a completed task (the store encodes it when it is recorded); `NO_RESULT`
    for every other task. ``caused_by`` names the failed task that stopped this one.
    ``cache`` is ``"hit"`` (served from the result cache), ``"miss"`` (a cached task that
    ran) or ``None`` (no cache).
    """

    task_id: str
    status: str
    start_time: float | None
    end_time: float | None
    result: Any = NO_RESULT
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    caused_by: str | None = None
    queued_duration: float = 0.0
    pool_queued_duration: float = 0.0
    cache: str | None = None


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One cached task result.

    ``key`` is the cache key (a sha256 hex digest), ``created`` when the entry was stored
    (epoch seconds) and ``run_id`` the run that computed it. ``value`` is the decoded result
    when read by `RunStore.cache_get`; `NO_RESULT` in listings.
    """

    key: str
    task_id: str
    created: float
    run_id: str | None = None
    value: Any = NO_RESULT


@dataclass(frozen=True, slots=True)
class TaskShape:
    """What resume compares between the stored graph and the current one, for one task.

    ``fingerprint`` is an opaque hash of the task's source; ``inputs`` lists
    ``(parameter, source task, locator repr)``; ``depends_on`` the task's dependencies.
    """

    fingerprint: str
    inputs: tuple[tuple[str, str, str], ...]
    depends_on: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RunRecord:
    """What a run records once, when it starts.

    ``tasks`` holds every task of the run's graph in graph order; ``config`` and ``metadata``
    are JSON-safe summaries (values JSON cannot hold are stored as their ``repr``).
    ``resumed_from`` is the id of the run this one resumes and ``reused`` the tasks whose
    results it takes from that run instead of running them. The caller must not mutate the
    mappings after handing the record over: the store reads them on its writer thread.
    """

    run_id: str
    namespace: str
    targets: tuple[str, ...] | None
    graph_fingerprint: str
    tasks: Mapping[str, TaskShape]
    config: Mapping[str, Any]
    metadata: Mapping[str, Any]
    start_time: float
    resumed_from: str | None = None
    reused: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One row of `RunStore.runs`: a run's identity, state, times and task counts.

    ``total`` counts the tasks of the run's graph; ``failed`` counts failed and timed-out tasks.
    """

    run_id: str
    namespace: str
    state: str
    start_time: float
    end_time: float | None
    total: int
    completed: int
    failed: int
    resumed_from: str | None


@runtime_checkable
class RunStore(Protocol):
    """Where runs are recorded as they happen, and read back later.

    Writing methods are called from the event loop (or several loops and threads at once)
    and return at once: they queue the record and never wait on disk. `flush` waits
    until everything recorded so far is durable. Reading methods see everything recorded
    through the same store object, and what other processes committed.
    """

    def run_started(self, run: RunRecord) -> None:
        """Record the start of ``run`` (state ``running``, owned by the calling process)."""

    def attempt_finished(self, run_id: str, attempt: AttemptRecord) -> None:
        """Record one attempt that ran a task body."""

    def task_finished(self, run_id: str, task: TaskRecord) -> None:
        """Record a task's outcome; a completed task's result is encoded now.

        A result that cannot be encoded is recorded as unstorable, with the reason, and an
        `UnstorableResultWarning` naming the task is emitted; nothing is raised for it.
        """

    def run_finished(self, run_id: str, state: str, end_time: float) -> None:
        """Record the final ``state`` (``completed``, ``failed`` or ``cancelled``) of a run."""

    async def flush(self) -> None:
        """Wait until everything recorded so far is durable."""

    def runs(
        self, namespace: str | None = None, state: str | None = None, limit: int = 50
    ) -> list[RunSummary]:
        """Summaries of the recorded runs, newest first, optionally filtered by namespace and state."""
        ...

    def run(self, run_id: str) -> RunRecord:
        """The record ``run_id`` started with. Raises `UnknownRunError`."""
        ...

    def report(self, run_id: str) -> ExecutionReport:
        """The report of ``run_id`` rebuilt from its records. Raises `UnknownRunError`."""
        ...

    def results(self, run_id: str) -> dict[str, Any]:
        """The decoded results of the completed tasks of ``run_id`` (unstorable ones are absent)."""
        ...

    def unstorable(self, run_id: str) -> dict[str, str]:
        """``{task: reason}`` for the completed tasks of ``run_id`` whose result was not stored."""
        ...

    def prune(self, *, older_than: float | timedelta | str) -> int:
        """Delete finished runs older than ``older_than``; never a running one. Returns how many."""
        ...

    def close(self) -> None:
        """Write what is queued, then release the store; recording afterwards raises."""

    # -- the result cache (``@task(cache=...)``) ------------------------------------------

    async def cache_get(self, key: str, oldest: float | None) -> CacheEntry | None:
        """The entry of ``key`` with its decoded value, if it was created at or after ``oldest``
        (epoch seconds; ``None``: any age). Sees every entry put through this store object."""
        ...

    def cache_put(self, entry: CacheEntry) -> str | None:
        """Store (or replace) ``entry``, its value encoded now; returns why it cannot be stored, if so."""
        ...

    async def cache_claim(self, key: str, owner: str, now: float, lease: float) -> bool:
        """Take the lease on computing ``key`` for ``lease`` seconds, unless another owner holds a
        live one (not expired, its process alive); ``True`` if ``owner`` holds it now."""
        ...

    def cache_release(self, key: str, owner: str) -> None:
        """Give back ``owner``'s lease on ``key`` (after its entry was put, if any)."""

    def cache_clear(self, task_id: str | None = None) -> int:
        """Delete the entries of ``task_id`` (``None``: every entry); returns how many."""
        ...

    def cache_entries(self, task_id: str | None = None) -> list[CacheEntry]:
        """The entries (without values) of ``task_id`` or of every task, newest first."""
        ...


_AGE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def age_seconds(older_than: float | timedelta | str) -> float:
    """``older_than`` of `RunStore.prune` in seconds: a number of seconds, a timedelta or ``"30d"``.

    Raises:
        ValueError: a negative age, or a string that is not a number followed by s, m, h, d or w.
    """
    if isinstance(older_than, timedelta):
        seconds = older_than.total_seconds()
    elif isinstance(older_than, str):
        match = _AGE.fullmatch(older_than)
        if match is None:
            raise ValueError(
                f"prune(older_than={older_than!r}): write an age as a number and a unit "
                "(s, m, h, d or w), e.g. '30d', '12h' or '90m'."
            )
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    elif isinstance(older_than, (int, float)) and not isinstance(older_than, bool):
        seconds = float(older_than)
    else:
        raise TypeError(
            f"prune(older_than=...) takes seconds, a timedelta or a string like '30d', "
            f"not {type(older_than).__name__}."
        )
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"prune(older_than={older_than!r}): the age must be a finite number >= 0.")
    return seconds


def check_filters(state: str | None, limit: int) -> None:
    """Refuse a ``runs()`` filter that can match nothing by mistake.

    Raises:
        ValueError: ``state`` is not a run state, or ``limit`` is negative.
    """
    if state is not None and state not in RUN_STATES:
        raise ValueError(f"runs(state={state!r}): choose one of {', '.join(RUN_STATES)}.")
    if limit < 0:
        raise ValueError(f"runs(limit={limit}): the limit must be >= 0.")
