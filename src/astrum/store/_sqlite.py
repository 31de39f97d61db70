"""``SQLiteStore``: runs recorded in one SQLite file (WAL mode), written by one background thread."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .._errors import RunStoreError, UnknownRunError
from ._base import (
    NO_RESULT,
    AttemptRecord,
    PickleSerializerWarning,
    RunRecord,
    RunSummary,
    TaskRecord,
    age_seconds,
    check_filters,
)
from ._codec import CODECS, PICKLE, decode_results, encode_result, warn_unstorable
from ._owner import current_owner
from ._rebuild import rebuild_report
from ._rows import RUN_COLUMNS, TASK_COLUMNS, present, run_record
from ._schema import connect, migrate, retry_busy
from ._sqlite_cache import SQLiteCache
from ._writer import ATTEMPT, END, RUN, TASK, Writer

if TYPE_CHECKING:
    from ..report._report import ExecutionReport

__all__ = ["SQLiteStore"]

T = TypeVar("T")


class SQLiteStore(SQLiteCache):
    """A `RunStore` in one SQLite file, safe to share between threads and processes.

    Recording returns at once: one writer thread takes the queued records and writes them in
    batches, one transaction each, in WAL mode, so readers (the ``astrum`` CLI, another
    process) see whole batches only and never block the writer. Several processes may record
    into one file; each waits for the others' transactions. The file is created readable by
    its owner only (mode 0600), with its parent folders.

    Results are encoded on the recording thread, when the task finishes: the stored value is
    the value the task returned, even if a later task mutates it. JSON by default (see
    `astrum.store._codec`); ``serializer="pickle"`` stores any picklable value, but loading
    a pickle runs code from the file, so only load files you wrote yourself. The file also
    keeps the result cache of ``@task(cache=...)`` (`astrum.store._sqlite_cache`).

    Args:
        path: the database file; ``.astrum/runs.db`` is the CLI's default.
        serializer: ``"json"`` (default) or ``"pickle"``.
        timeout: seconds to wait for another process's write transaction before retrying.

    Raises:
        RunStoreError: the file is not a run store, or was written by a newer astrum.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, serializer: str = "json", timeout: float = 5.0
    ) -> None:
        if serializer not in CODECS:
            raise ValueError(f"SQLiteStore(serializer={serializer!r}): choose 'json' or 'pickle'.")
        if str(path) == ":memory:" or str(path).startswith("file:"):
            raise ValueError(
                f"SQLiteStore({str(path)!r}) takes a file path; for records in memory use MemoryStore()."
            )
        self.path = Path(path)
        self._codec = CODECS[serializer]
        self._closed = False
        if serializer == "pickle":
            warnings.warn(
                PickleSerializerWarning(
                    f"SQLiteStore({str(self.path)!r}, serializer='pickle'): loading a pickled result runs "
                    "code chosen by whoever wrote the file. Only load files that you wrote yourself."
                ),
                stacklevel=2,
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))  # SQLite gives -wal/-shm the same mode
        writing = connect(self.path, timeout)
        reading: sqlite3.Connection | None = None
        try:
            retry_busy(lambda: writing.execute("PRAGMA journal_mode = WAL").fetchone(), timeout)
            writing.execute("PRAGMA synchronous = NORMAL")  # WAL: a commit survives a crash of the process
            migrate(writing, where=repr(self))
            reading = connect(self.path, timeout)
            reading.execute("PRAGMA query_only = ON")
        except BaseException as exc:
            writing.close()
            if reading is not None:
                reading.close()
            if isinstance(exc, sqlite3.DatabaseError):
                raise RunStoreError(
                    f"{self!r} cannot be opened as a run store: {exc}. Is it another kind of file?"
                ) from exc
            raise
        self._reader = reading
        self._read_lock = threading.Lock()
        self._writer = Writer(writing, repr(self))
        self._put: Callable[[tuple[Any, ...]], None] = self._writer.queue.put
        self._finalizer = weakref.finalize(self, _shut_down, self._writer, reading)

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writing: queue and return ------------------------------------------------------

    def run_started(self, run: RunRecord) -> None:
        self._put((RUN, run, current_owner()))

    def attempt_finished(self, run_id: str, attempt: AttemptRecord) -> None:
        self._put((ATTEMPT, run_id, attempt))

    def task_finished(self, run_id: str, task: TaskRecord) -> None:
        if task.status != "completed":
            self._put((TASK, run_id, task, None, None, None))
            return
        payload, reason = encode_result(self._codec, task.result)
        self._put((TASK, run_id, task, None if payload is None else self._codec.name, payload, reason))
        if reason is not None:
            warn_unstorable(run_id, task.task_id, reason)

    def run_finished(self, run_id: str, state: str, end_time: float) -> None:
        self._put((END, run_id, state, end_time))

    async def flush(self) -> None:
        """Wait until everything recorded so far is committed to the file.

        Raises:
            RunStoreError: a batch could not be written (the error names why).
        """
        self._check_open()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._writer.wake_future(loop, future)
        await future

    def close(self) -> None:
        """Write what is queued, stop the writer thread and close the file.

        Raises:
            RunStoreError: some records could not be written.
        """
        if self._closed:
            return
        self._closed = True
        self._put = _refuse
        self._finalizer()
        if self._writer.failure is not None:
            raise RunStoreError(str(self._writer.failure)) from self._writer.failure.__cause__

    # -- reading: one snapshot per call -------------------------------------------------

    def runs(
        self, namespace: str | None = None, state: str | None = None, limit: int = 50
    ) -> list[RunSummary]:
        check_filters(state, limit)
        live = state in ("running", "interrupted")  # told apart by the owner process, not by SQL
        where, params = [], []
        if namespace is not None:
            where.append("namespace = ?")
            params.append(namespace)
        if state is not None:
            where.append("state = ?")
            params.append("running" if live else state)
        sql = (
            "SELECT run_id, namespace, state, start_time, end_time, total, resumed_from, owner_host, owner_pid, "
            f"owner_token FROM runs {'WHERE ' + ' AND '.join(where) if where else ''} "
            "ORDER BY start_time DESC, rowid DESC"
        )
        if not live:
            sql += f" LIMIT {int(limit)}"

        def read(conn: sqlite3.Connection) -> list[RunSummary]:
            out: list[RunSummary] = []
            for run_id, ns, stored, start, end, total, resumed, host, pid, token in conn.execute(sql, params):
                shown = present(stored, host, pid, token)
                if state is not None and shown != state:
                    continue
                counts = conn.execute(
                    "SELECT sum(status = 'completed'), sum(status IN ('failed', 'timed_out')) FROM tasks "
                    "WHERE run_id = ?",
                    (run_id,),
                ).fetchone()
                out.append(
                    RunSummary(run_id, ns, shown, start, end, total, counts[0] or 0, counts[1] or 0, resumed)
                )
                if len(out) >= limit:
                    break
            return out

        return self._read(read) if limit else []

    def run(self, run_id: str) -> RunRecord:
        return self._read(lambda conn: run_record(self._run_row(conn, run_id)))

    def report(self, run_id: str) -> ExecutionReport:
        def read(conn: sqlite3.Connection) -> tuple[Any, ...]:
            row = self._run_row(conn, run_id)
            tasks = conn.execute(
                f"SELECT {TASK_COLUMNS} FROM tasks WHERE run_id = ? ORDER BY rowid", (run_id,)
            )
            attempts = conn.execute(
                "SELECT task_id, attempt, status, start_time, end_time, error_type, error_message, traceback, "
                "delay_before FROM attempts WHERE run_id = ? ORDER BY task_id, attempt",
                (run_id,),
            )
            return row, tasks.fetchall(), attempts.fetchall(), self._result_rows(conn, run_id)

        row, task_rows, attempt_rows, result_rows = self._read(read)
        by_task: dict[str, list[AttemptRecord]] = {}
        for a in attempt_rows:
            by_task.setdefault(a[0], []).append(AttemptRecord(*a))
        return rebuild_report(
            run_id,
            run_record(row),
            state=present(row[9], *row[11:14]),
            end_time=row[10],
            tasks=[TaskRecord(t[0], t[1], t[2], t[3], NO_RESULT, *t[4:]) for t in task_rows],
            attempts=by_task,
            results=decode_results(run_id, result_rows, allow_pickle=self._codec is PICKLE),
        )

    def results(self, run_id: str) -> dict[str, Any]:
        def read(conn: sqlite3.Connection) -> list[Any]:
            self._run_row(conn, run_id)
            return self._result_rows(conn, run_id)

        return decode_results(run_id, self._read(read), allow_pickle=self._codec is PICKLE)

    def unstorable(self, run_id: str) -> dict[str, str]:
        def read(conn: sqlite3.Connection) -> dict[str, str]:
            self._run_row(conn, run_id)
            rows = conn.execute(
                "SELECT task_id, unstorable FROM tasks WHERE run_id = ? AND unstorable IS NOT NULL ORDER BY rowid",
                (run_id,),
            )
            return dict(rows.fetchall())

        return self._read(read)

    def prune(self, *, older_than: float | timedelta | str) -> int:
        """Delete finished and interrupted runs older than ``older_than`` (by end, else start, time).

        ``older_than`` is seconds, a `timedelta` or a string such as ``"30d"``,
        ``"12h"`` or ``"90m"``. A run whose process is still recording it is never deleted.
        Returns the number of runs deleted.
        """
        cutoff = time.time() - age_seconds(older_than)
        self._check_open()
        return self._writer.prune(cutoff)

    # -- helpers ------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RunStoreError(f"{self!r} is closed; open the file again to record or read runs.")

    def _read(self, read: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``read`` in one read transaction (one snapshot), after this store's own writes."""
        self._check_open()
        self._writer.wait()
        with self._read_lock:
            self._reader.execute("BEGIN")
            try:
                return read(self._reader)
            finally:
                self._reader.execute("COMMIT")

    def _run_row(self, conn: sqlite3.Connection, run_id: str) -> tuple[Any, ...]:
        row = conn.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise UnknownRunError(run_id, repr(self))
        return tuple(row)

    @staticmethod
    def _result_rows(conn: sqlite3.Connection, run_id: str) -> list[Any]:
        return conn.execute(
            "SELECT task_id, codec, result FROM tasks WHERE run_id = ? AND codec IS NOT NULL ORDER BY rowid",
            (run_id,),
        ).fetchall()


def _shut_down(writer: Writer, reader: sqlite3.Connection) -> None:
    writer.stop()
    reader.close()


def _refuse(item: tuple[Any, ...]) -> None:
    raise RunStoreError("This SQLiteStore is closed; open the file again to record runs.")
