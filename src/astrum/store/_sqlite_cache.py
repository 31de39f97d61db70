"""The result cache of `SQLiteStore`: entries and leases in the store's file.

Puts and releases are queued for the writer thread like any record. Claims and clears wait
for the writer (so they follow this store's own earlier writes); lookups read a snapshot
after them. The waiting calls run in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ._base import CacheEntry
from ._cache_rows import CACHE_PUT, RELEASE
from ._codec import PICKLE, Codec, decode_entry, encode_result
from ._owner import current_owner

if TYPE_CHECKING:
    from ._writer import Writer

__all__ = ["SQLiteCache"]

T = TypeVar("T")


class SQLiteCache:
    """The ``cache_*`` methods of the `RunStore` protocol, over SQLite."""

    _codec: Codec
    _writer: Writer
    _put: Callable[[tuple[Any, ...]], None]

    if TYPE_CHECKING:

        def _check_open(self) -> None: ...
        def _read(self, read: Callable[[sqlite3.Connection], T]) -> T: ...

    async def cache_get(self, key: str, oldest: float | None) -> CacheEntry | None:
        self._check_open()
        return await asyncio.to_thread(self._cache_get, key, oldest)

    def _cache_get(self, key: str, oldest: float | None) -> CacheEntry | None:
        row = self._read(
            lambda conn: conn.execute(
                "SELECT task_id, created, run_id, codec, value FROM cache WHERE key = ?", (key,)
            ).fetchone()
        )
        if row is None or (oldest is not None and row[1] < oldest):
            return None
        loaded, value = decode_entry(row[3], row[4], allow_pickle=self._codec is PICKLE)
        return CacheEntry(key, row[0], row[1], row[2], value) if loaded else None

    def cache_put(self, entry: CacheEntry) -> str | None:
        payload, reason = encode_result(self._codec, entry.value)
        if payload is None:
            return reason
        self._put(
            (CACHE_PUT, entry.key, entry.task_id, entry.created, entry.run_id, self._codec.name, payload)
        )
        return None

    async def cache_claim(self, key: str, owner: str, now: float, lease: float) -> bool:
        self._check_open()
        return await asyncio.to_thread(self._writer.claim, key, owner, now, lease, current_owner())

    def cache_release(self, key: str, owner: str) -> None:
        self._put((RELEASE, key, owner))

    def cache_clear(self, task_id: str | None = None) -> int:
        """Delete the entries of ``task_id`` (``None``: every entry); returns how many."""
        self._check_open()
        return self._writer.clear_cache(task_id)

    def cache_entries(self, task_id: str | None = None) -> list[CacheEntry]:
        """The entries (without values) of ``task_id`` or of every task, newest first."""
        where, params = ("WHERE task_id = ? ", (task_id,)) if task_id is not None else ("", ())
        rows = self._read(
            lambda conn: conn.execute(
                f"SELECT key, task_id, created, run_id FROM cache {where}ORDER BY created DESC", params
            ).fetchall()
        )
        return [CacheEntry(*row) for row in rows]
