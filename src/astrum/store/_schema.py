"""The SQLite schema of a run store, as a list of migration steps applied in order, each once.

The ``schema_version`` table records each applied step (version, description, time). A file
at version *n* is brought to the latest version by the steps after *n*, in one transaction;
a file from a newer astrum (a version this code does not know) is refused.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from .._errors import RunStoreError

__all__ = ["MIGRATIONS", "connect", "migrate", "retry_busy", "schema_version"]

MIGRATIONS: Final[list[tuple[str, tuple[str, ...]]]] = [
    (
        "runs, task outcomes and attempts",
        (
            """CREATE TABLE runs (
                run_id TEXT PRIMARY KEY,
                namespace TEXT NOT NULL,
                targets TEXT,                 -- JSON list of task ids; NULL: every task
                graph_fingerprint TEXT NOT NULL,
                tasks TEXT NOT NULL,          -- JSON {task: [fingerprint, inputs, depends_on]}, graph order
                total INTEGER NOT NULL,
                config TEXT NOT NULL,         -- JSON
                metadata TEXT NOT NULL,       -- JSON
                state TEXT NOT NULL,          -- running, completed, failed, cancelled
                start_time REAL NOT NULL,
                end_time REAL,
                resumed_from TEXT,
                owner_host TEXT NOT NULL,     -- the process recording the run: a stored 'running'
                owner_pid INTEGER NOT NULL,   -- run whose process is gone is shown 'interrupted'
                owner_token TEXT
            )""",
            """CREATE TABLE tasks (
                run_id TEXT NOT NULL,
                task_id TEXT NOT NULL,
                status TEXT NOT NULL,
                start_time REAL,
                end_time REAL,
                codec TEXT,                   -- 'json' or 'pickle'; NULL: no stored result
                result BLOB,
                unstorable TEXT,              -- why a completed task's result was not stored
                error_type TEXT,
                error_message TEXT,
                traceback TEXT,
                caused_by TEXT,
                queued_duration REAL NOT NULL,
                pool_queued_duration REAL NOT NULL,
                UNIQUE (run_id, task_id)      -- rowid order is the order the tasks were recorded
            )""",
            """CREATE TABLE attempts (
                run_id TEXT NOT NULL,
                task_id TEXT NOT NULL,
                attempt INTEGER NOT NULL,
                status TEXT NOT NULL,
                start_time REAL NOT NULL,
                end_time REAL NOT NULL,
                error_type TEXT,
                error_message TEXT,
                traceback TEXT,
                delay_before REAL NOT NULL,
                PRIMARY KEY (run_id, task_id, attempt)
            ) WITHOUT ROWID""",
        ),
    ),
    (
        "indexes for listing runs newest first by namespace and state",
        (
            "CREATE INDEX runs_by_start ON runs (start_time)",
            "CREATE INDEX runs_by_namespace ON runs (namespace, start_time)",
            "CREATE INDEX runs_by_state ON runs (state, start_time)",
        ),
    ),
    (
        "the tasks a resumed run reused",
        ("ALTER TABLE runs ADD COLUMN reused TEXT",),  # JSON list of task ids; NULL: none
    ),
    (
        "the result cache: entries by key, leases on computing a key, each task's cache outcome",
        (
            """CREATE TABLE cache (
                key TEXT PRIMARY KEY,         -- sha256 of task id, code fingerprint, version, inputs
                task_id TEXT NOT NULL,
                created REAL NOT NULL,        -- epoch seconds; the ttl is counted from here
                run_id TEXT,                  -- the run that computed it
                codec TEXT NOT NULL,
                value BLOB NOT NULL
            )""",
            "CREATE INDEX cache_by_task ON cache (task_id, created)",
            """CREATE TABLE cache_leases (
                key TEXT PRIMARY KEY,         -- one run computes a key while the others wait
                owner TEXT NOT NULL,
                expires REAL NOT NULL,
                owner_host TEXT NOT NULL,     -- a lease whose process is gone is free
                owner_pid INTEGER NOT NULL,
                owner_token TEXT
            ) WITHOUT ROWID""",
            "ALTER TABLE tasks ADD COLUMN cache TEXT",  # 'hit', 'miss'; NULL: no cache
        ),
    ),
]

_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at REAL NOT NULL
)"""


def schema_version(conn: sqlite3.Connection) -> int:
    """The latest migration step applied to the database of ``conn`` (0 for a new file)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if exists is None:
        return 0
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, *, target: int | None = None, where: str = "the database") -> int:
    """Apply the steps after the file's version up to ``target`` (default: all), in one transaction.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Two processes opening a new
    file at once are safe: the transaction takes the write lock before reading the version.
    Returns the version reached.

    Raises:
        RunStoreError: the file was written by a newer astrum.
    """
    latest = len(MIGRATIONS) if target is None else target
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_VERSION_TABLE)
        current = schema_version(conn)
        if current > len(MIGRATIONS):
            raise RunStoreError(
                f"{where} has run store schema version {current}, but this astrum knows versions up to "
                f"{len(MIGRATIONS)}: it was written by a newer astrum. Upgrade astrum, or use another file."
            )
        for version in range(current + 1, latest + 1):
            description, statements = MIGRATIONS[version - 1]
            for statement in statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (version, description, time.time()),
            )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return max(current, latest)


def connect(path: Path, timeout: float) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)


def retry_busy(action: Callable[[], object], timeout: float) -> None:
    """Run ``action``, retrying while another connection holds a lock it needs."""
    deadline = time.monotonic() + max(timeout, 1.0)
    while True:
        try:
            action()
            return
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 5) & 0xFF not in (5, 6) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
