"""``MemoryStore``: the run store contract kept in this process's memory (tests, short scripts)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .._errors import RunStoreError, UnknownRunError
from ._base import (
    NO_RESULT,
    AttemptRecord,
    CacheEntry,
    RunRecord,
    RunSummary,
    TaskRecord,
    age_seconds,
    check_filters,
)
from ._codec import CODECS, PICKLE, decode_entry, decode_results, encode_result, warn_unstorable
from ._rebuild import rebuild_report

if TYPE_CHECKING:
    from ..report._report import ExecutionReport

__all__ = ["MemoryStore"]


@dataclass
class _StoredTask:
    record: TaskRecord  # with result=NO_RESULT: the value lives encoded below
    codec: str | None
    payload: str | bytes | None
    unstorable: str | None


@dataclass
class _StoredRun:
    record: RunRecord | None = None  # None until run_started arrives
    state: str = "running"
    end_time: float | None = None
    order: int = 0
    tasks: dict[str, _StoredTask] = field(default_factory=dict)
    attempts: dict[str, dict[int, AttemptRecord]] = field(default_factory=dict)


class MemoryStore:
    """A `RunStore` that keeps its records in memory, for tests and short scripts.

    It behaves like `SQLiteStore`: results are encoded when recorded (so a
    result that the file store could not keep is unstorable here too) and decoded when read.
    Nothing survives the process. Every method is thread-safe.

    Args:
        serializer: ``"json"`` (default) or ``"pickle"``.
    """

    def __init__(self, *, serializer: str = "json") -> None:
        if serializer not in CODECS:
            raise ValueError(f"MemoryStore(serializer={serializer!r}): choose 'json' or 'pickle'.")
        self._codec = CODECS[serializer]
        self._lock = threading.Lock()
        self._runs: dict[str, _StoredRun] = {}
        self._cache: dict[str, tuple[CacheEntry, str, str | bytes]] = {}  # key -> (entry, codec, payload)
        self._leases: dict[str, tuple[str, float]] = {}  # key -> (owner, expires)
        self._started = 0
        self._closed = False

    def __repr__(self) -> str:
        return f"MemoryStore(serializer={self._codec.name!r})"

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------

    def run_started(self, run: RunRecord) -> None:
        with self._lock:
            self._check_open()
            stored = self._runs.setdefault(run.run_id, _StoredRun())
            if stored.record is None:  # a second start of one id is ignored, as in SQLiteStore
                self._started += 1
                stored.record, stored.order = run, self._started

    def attempt_finished(self, run_id: str, attempt: AttemptRecord) -> None:
        with self._lock:
            self._check_open()
            stored = self._runs.setdefault(run_id, _StoredRun())
            stored.attempts.setdefault(attempt.task_id, {})[attempt.attempt] = attempt

    def task_finished(self, run_id: str, task: TaskRecord) -> None:
        if self._closed:
            self._check_open()
        payload: str | bytes | None = None
        reason = None
        if task.status == "completed":
            payload, reason = encode_result(self._codec, task.result)
        entry = _StoredTask(
            replace(task, result=NO_RESULT) if task.result is not NO_RESULT else task,
            self._codec.name if payload is not None else None,
            payload,
            reason,
        )
        with self._lock:
            self._check_open()
            tasks = self._runs.setdefault(run_id, _StoredRun()).tasks
            tasks.pop(task.task_id, None)  # a repeated record replaces and moves last, as in SQLiteStore
            tasks[task.task_id] = entry
        if reason is not None:
            warn_unstorable(run_id, task.task_id, reason)

    def run_finished(self, run_id: str, state: str, end_time: float) -> None:
        with self._lock:
            self._check_open()
            stored = self._runs.setdefault(run_id, _StoredRun())
            stored.state, stored.end_time = state, end_time

    async def flush(self) -> None:
        """Nothing to wait for: records are in memory as soon as they are recorded."""
        self._check_open()

    # -- reading ------------------------------------------------------------------------

    def runs(
        self, namespace: str | None = None, state: str | None = None, limit: int = 50
    ) -> list[RunSummary]:
        check_filters(state, limit)
        with self._lock:
            self._check_open()
            chosen = sorted(
                (s for s in self._runs.values() if s.record is not None),
                key=lambda s: (s.record.start_time, s.order),  # type: ignore[union-attr]
                reverse=True,
            )
            summaries = [
                _summary(s)
                for s in chosen
                if (namespace is None or s.record.namespace == namespace)  # type: ignore[union-attr]
                and (state is None or s.state == state)
            ]
        return summaries[:limit]

    def run(self, run_id: str) -> RunRecord:
        with self._lock:
            return self._get(run_id)[0]

    def report(self, run_id: str) -> ExecutionReport:
        with self._lock:
            record, stored = self._get(run_id)
            tasks = [t.record for t in stored.tasks.values()]
            attempts = {name: [rows[k] for k in sorted(rows)] for name, rows in stored.attempts.items()}
            state, end_time = stored.state, stored.end_time
            rows = _result_rows(stored)
        results = decode_results(run_id, rows, allow_pickle=self._codec is PICKLE)
        return rebuild_report(
            run_id, record, state=state, end_time=end_time, tasks=tasks, attempts=attempts, results=results
        )

    def results(self, run_id: str) -> dict[str, Any]:
        with self._lock:
            rows = _result_rows(self._get(run_id)[1])
        return decode_results(run_id, rows, allow_pickle=self._codec is PICKLE)

    def unstorable(self, run_id: str) -> dict[str, str]:
        with self._lock:
            stored = self._get(run_id)[1]
            return {name: t.unstorable for name, t in stored.tasks.items() if t.unstorable is not None}

    def prune(self, *, older_than: float | timedelta | str) -> int:
        cutoff = time.time() - age_seconds(older_than)
        with self._lock:
            self._check_open()
            old = [
                run_id
                for run_id, s in self._runs.items()
                if s.state != "running" and (s.end_time if s.end_time is not None else 0.0) < cutoff
            ]
            for run_id in old:
                del self._runs[run_id]
        return len(old)

    def close(self) -> None:
        """Release the records; using the store afterwards raises `RunStoreError`."""
        with self._lock:
            self._closed = True
            self._runs.clear()
            self._cache.clear()
            self._leases.clear()

    # -- the result cache ---------------------------------------------------------------

    async def cache_get(self, key: str, oldest: float | None) -> CacheEntry | None:
        with self._lock:
            self._check_open()
            found = self._cache.get(key)
        if found is None or (oldest is not None and found[0].created < oldest):
            return None
        entry, codec, payload = found
        loaded, value = decode_entry(codec, payload, allow_pickle=True)
        return replace(entry, value=value) if loaded else None

    def cache_put(self, entry: CacheEntry) -> str | None:
        payload, reason = encode_result(self._codec, entry.value)
        if payload is None:
            return reason
        with self._lock:
            self._check_open()
            self._cache.pop(entry.key, None)  # a replaced entry moves last (newest)
            self._cache[entry.key] = (replace(entry, value=NO_RESULT), self._codec.name, payload)
        return None

    async def cache_claim(self, key: str, owner: str, now: float, lease: float) -> bool:
        with self._lock:
            self._check_open()
            held = self._leases.get(key)
            if held is not None and held[0] != owner and held[1] > now:
                return False
            self._leases[key] = (owner, now + lease)
            return True

    def cache_release(self, key: str, owner: str) -> None:
        with self._lock:
            held = self._leases.get(key)
            if held is not None and held[0] == owner:
                del self._leases[key]

    def cache_clear(self, task_id: str | None = None) -> int:
        with self._lock:
            self._check_open()
            gone = [k for k, (e, _, _) in self._cache.items() if task_id is None or e.task_id == task_id]
            for key in gone:
                del self._cache[key]
        return len(gone)

    def cache_entries(self, task_id: str | None = None) -> list[CacheEntry]:
        with self._lock:
            self._check_open()
            entries = [e for e, _, _ in self._cache.values() if task_id is None or e.task_id == task_id]
        return sorted(entries, key=lambda e: e.created, reverse=True)

    # -- helpers ------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RunStoreError(f"{self!r} is closed; record and read through an open store.")

    def _get(self, run_id: str) -> tuple[RunRecord, _StoredRun]:
        self._check_open()
        stored = self._runs.get(run_id)
        if stored is None or stored.record is None:
            raise UnknownRunError(run_id, repr(self))
        return stored.record, stored


def _summary(stored: _StoredRun) -> RunSummary:
    record = stored.record
    assert record is not None
    statuses = [t.record.status for t in stored.tasks.values()]
    return RunSummary(
        run_id=record.run_id,
        namespace=record.namespace,
        state=stored.state,
        start_time=record.start_time,
        end_time=stored.end_time,
        total=len(record.tasks),
        completed=statuses.count("completed"),
        failed=statuses.count("failed") + statuses.count("timed_out"),
        resumed_from=record.resumed_from,
    )


def _result_rows(stored: _StoredRun) -> list[tuple[str, str, str | bytes]]:
    return [
        (name, t.codec, t.payload)
        for name, t in stored.tasks.items()
        if t.codec is not None and t.payload is not None
    ]
