"""The writer thread of `SQLiteStore`: one thread, fed by a queue, one transaction per batch.

Callers put tuples on the queue and return at once. The thread takes whatever has queued up
(up to ``MAX_BATCH`` items), writes it in one ``BEGIN IMMEDIATE ... COMMIT`` and then wakes
whoever waits for that point (``flush()``, a read, ``prune()``, ``close()``). A busy database
(another process writing) is waited for, then retried; any other failure loses that batch,
which ``flush()`` and ``close()`` then report.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from .._errors import RunStoreError
from ._cache_rows import CACHE_KINDS, CLAIM, CLEAR, apply_cache_op
from ._owner import Owner, owner_alive
from ._rows import INSERT_ATTEMPT, INSERT_RUN, INSERT_TASK, attempt_row, run_row, task_row

__all__ = ["MAX_BATCH", "Writer"]

MAX_BATCH: Final = 10_000
GIVE_UP_AFTER: Final = 300.0  # seconds of SQLITE_BUSY before a batch counts as failed
_BUSY: Final = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED (primary result codes)

# Queue items, first element the kind:
RUN: Final = 0  # (RUN, RunRecord, Owner)
ATTEMPT: Final = 1  # (ATTEMPT, run_id, AttemptRecord)
TASK: Final = 2  # (TASK, run_id, TaskRecord, codec, payload, unstorable)
END: Final = 3  # (END, run_id, state, end_time)
WAIT: Final = 4  # (WAIT, callback(error | None)): called once everything before it is written
PRUNE: Final = 5  # (PRUNE, cutoff, callback(count | error)): after the batch before it
STOP: Final = 6  # (STOP,)
# 7 to 10: the result cache's items (astrum.store._cache_rows).


class Writer:
    """Owns the writing connection and the thread that uses it."""

    def __init__(self, conn: sqlite3.Connection, name: str) -> None:
        self.queue: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self.failure: BaseException | None = None
        self._conn = conn
        self._name = name
        self._thread = threading.Thread(target=self._loop, name=f"astrum-store-writer {name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued, then end the thread and close the connection."""
        self.queue.put((STOP,))
        self._thread.join()

    def wait(self) -> None:
        """Block until everything queued before this call is written (or failed)."""
        self._ask(WAIT)

    def prune(self, cutoff: float) -> int:
        """Delete, after everything queued before, the runs `_prune` selects; returns how many."""
        answer = self._ask(PRUNE, cutoff)
        if isinstance(answer, BaseException):
            raise RunStoreError(str(answer)) from answer.__cause__
        return int(answer or 0)

    def claim(self, key: str, owner: str, now: float, lease: float, me: Owner) -> bool:
        """Take the lease on computing ``key`` (after everything queued before); see ``_cache_rows``."""
        answer = self._ask(CLAIM, key, owner, now, lease, me)
        if isinstance(answer, BaseException):
            raise RunStoreError(str(answer)) from answer.__cause__
        return bool(answer)

    def clear_cache(self, task_id: str | None) -> int:
        """Delete the cache entries of ``task_id`` (``None``: all), after everything queued before."""
        answer = self._ask(CLEAR, task_id)
        if isinstance(answer, BaseException):
            raise RunStoreError(str(answer)) from answer.__cause__
        return int(answer or 0)

    def _ask(self, kind: int, *args: Any) -> Any:
        """Queue ``(kind, *args, reply)`` and wait for the thread's reply (``None`` if it has ended)."""
        done = threading.Event()
        answer: list[Any] = [None]

        def reply(value: Any) -> None:
            answer[0] = value
            done.set()

        self.queue.put((kind, *args, reply))
        while not done.wait(0.25):
            if not self._thread.is_alive():  # stopped meanwhile: nobody will reply
                break
        return answer[0]

    def wake_future(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> None:
        """Queue a marker that completes ``future`` on ``loop`` once everything before it is written."""

        def settle(error: BaseException | None) -> None:
            if future.done():
                return
            if error is None:
                future.set_result(None)
            else:  # a fresh exception per waiter: one object raised in many places grows its traceback
                fresh = RunStoreError(str(error))
                fresh.__cause__ = error.__cause__
                future.set_exception(fresh)

        def callback(error: BaseException | None) -> None:
            try:
                loop.call_soon_threadsafe(settle, error)
            except RuntimeError:
                pass  # the loop is closed: nobody waits any more

        self.queue.put((WAIT, callback))

    # -- the thread ---------------------------------------------------------------------

    def _loop(self) -> None:
        get, get_nowait = self.queue.get, self.queue.get_nowait
        try:
            while True:
                batch = [get()]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(get_nowait())
                    except queue.Empty:
                        break
                if self._write(batch):
                    return
        finally:
            self._conn.close()

    def _write(self, batch: list[tuple[Any, ...]]) -> bool:
        """Write one batch in one transaction, then call its waiters. Returns whether to stop."""
        runs: list[tuple[Any, ...]] = []
        attempts: list[tuple[Any, ...]] = []
        tasks: list[tuple[Any, ...]] = []
        ends: list[tuple[Any, ...]] = []
        prunes: list[tuple[float, Callable[[Any], None]]] = []
        waiters: list[Callable[[Any], None]] = []
        cache_ops: list[tuple[Any, ...]] = []
        stop = False
        pruned: list[int] = []
        answers: list[Any] = []
        try:
            for item in batch:
                kind = item[0]
                if kind == TASK:
                    tasks.append(task_row(item))
                elif kind == ATTEMPT:
                    attempts.append(attempt_row(item[1], item[2]))
                elif kind == RUN:
                    runs.append(run_row(item[1], item[2]))
                elif kind == END:
                    ends.append((item[2], item[3], item[1]))
                elif kind == WAIT:
                    waiters.append(item[1])
                elif kind == PRUNE:
                    prunes.append((item[1], item[2]))
                elif kind in CACHE_KINDS:
                    cache_ops.append(item)
                else:
                    stop = True
            if runs or attempts or tasks or ends or prunes or cache_ops:
                pruned, answers = self._transaction(
                    runs, attempts, tasks, ends, [cutoff for cutoff, _ in prunes], cache_ops
                )
        except Exception as exc:  # the batch is lost: say so to every later flush() and close()
            if self.failure is None:
                self.failure = RunStoreError(
                    f"{self._name} could not write {len(batch)} record(s): {type(exc).__name__}: {exc}"
                )
                self.failure.__cause__ = exc
            waiters = [item[1] for item in batch if item[0] == WAIT]
            prunes = [(item[1], item[2]) for item in batch if item[0] == PRUNE]
            cache_ops = [item for item in batch if item[0] in CACHE_KINDS]
            stop = any(item[0] == STOP for item in batch)
            answers = []
        error = self.failure
        for k, (_, reply) in enumerate(prunes):
            reply(pruned[k] if k < len(pruned) else error)
        asking = [item for item in cache_ops if item[0] in (CLAIM, CLEAR)]
        for k, item in enumerate(asking):
            item[-1](answers[k] if k < len(answers) else error)
        for wake in waiters:
            wake(error)
        return stop

    def _transaction(
        self,
        runs: list[tuple[Any, ...]],
        attempts: list[tuple[Any, ...]],
        tasks: list[tuple[Any, ...]],
        ends: list[tuple[Any, ...]],
        cutoffs: list[float],
        cache_ops: list[tuple[Any, ...]],
    ) -> tuple[list[int], list[Any]]:
        """Write one batch; returns what each prune deleted and the answer of each claim and clear."""
        conn = self._conn
        started = time.monotonic()
        pause = 0.01
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorcode", 5) & 0xFF not in _BUSY:
                    raise
                if time.monotonic() - started > GIVE_UP_AFTER:
                    raise
                time.sleep(pause)  # busy_timeout already waited; back off a little more
                pause = min(pause * 2, 0.5)
        try:
            # Order matters only within a run: its start, then its attempts and tasks, then its end.
            if runs:
                conn.executemany(INSERT_RUN, runs)
            if attempts:
                conn.executemany(INSERT_ATTEMPT, attempts)
            if tasks:
                conn.executemany(INSERT_TASK, tasks)
            if ends:
                conn.executemany("UPDATE runs SET state = ?, end_time = ? WHERE run_id = ?", ends)
            pruned = [_prune(conn, cutoff) for cutoff in cutoffs]
            answers: list[Any] = []
            for item in cache_ops:  # in queue order: a release after its owner's put
                answer = apply_cache_op(conn, item)
                if item[0] == CLAIM or item[0] == CLEAR:
                    answers.append(answer)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (e.g. on SQLITE_FULL)
                conn.execute("ROLLBACK")
            raise
        return pruned, answers


def _prune(conn: sqlite3.Connection, cutoff: float) -> int:
    """Delete finished (and interrupted) runs that ended, or started, before ``cutoff``."""
    rows = conn.execute(
        "SELECT run_id, state, owner_host, owner_pid, owner_token FROM runs "
        "WHERE coalesce(end_time, start_time) < ?",
        (cutoff,),
    ).fetchall()
    gone = [
        (run_id,)
        for run_id, state, host, pid, token in rows
        if state != "running" or not owner_alive(Owner(host, pid, token))
    ]
    for table in ("attempts", "tasks", "runs"):  # cache entries outlive the runs that computed them
        conn.executemany(f"DELETE FROM {table} WHERE run_id = ?", gone)
    return len(gone)
