"""The result cache in SQLite: the statements the writer thread runs for it, in queue order.

Puts and releases are queued like any record; claims and clears wait for their answer. All
of them run inside the writer's batch transaction, in the order they were queued, so a lease
is released only with (or after) the entry its owner put.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Final

from ._owner import Owner, owner_alive

__all__ = ["CACHE_KINDS", "CACHE_PUT", "CLAIM", "CLEAR", "RELEASE", "apply_cache_op"]

# Queue items of the writer (see astrum.store._writer), first element the kind:
CACHE_PUT: Final = 7  # (CACHE_PUT, key, task_id, created, run_id, codec, payload)
RELEASE: Final = 8  # (RELEASE, key, owner)
CLAIM: Final = 9  # (CLAIM, key, owner, now, lease, Owner, reply(bool | error))
CLEAR: Final = 10  # (CLEAR, task_id | None, reply(count | error))
CACHE_KINDS: Final = frozenset({CACHE_PUT, RELEASE, CLAIM, CLEAR})


def apply_cache_op(conn: sqlite3.Connection, item: tuple[Any, ...]) -> Any:
    """Run one cache item; the answer of a claim (``True`` if taken) or a clear (rows deleted)."""
    kind = item[0]
    if kind == CACHE_PUT:
        conn.execute(
            "INSERT OR REPLACE INTO cache (key, task_id, created, run_id, codec, value) VALUES (?, ?, ?, ?, ?, ?)",
            item[1:7],
        )
        return None
    if kind == RELEASE:
        conn.execute("DELETE FROM cache_leases WHERE key = ? AND owner = ?", (item[1], item[2]))
        return None
    if kind == CLAIM:
        return _claim(conn, *item[1:6])
    task_id = item[1]
    if task_id is None:
        return conn.execute("DELETE FROM cache").rowcount
    return conn.execute("DELETE FROM cache WHERE task_id = ?", (task_id,)).rowcount


def _claim(conn: sqlite3.Connection, key: str, owner: str, now: float, lease: float, me: Owner) -> bool:
    row = conn.execute(
        "SELECT owner, expires, owner_host, owner_pid, owner_token FROM cache_leases WHERE key = ?", (key,)
    ).fetchone()
    if row is not None and row[0] != owner and row[1] > now and owner_alive(Owner(row[2], row[3], row[4])):
        return False  # another run computes this key now
    conn.execute(
        "INSERT OR REPLACE INTO cache_leases (key, owner, expires, owner_host, owner_pid, owner_token) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (key, owner, now + lease, me.host, me.pid, me.token),
    )
    return True
