"""The result cache of a run store: entries, leases, clearing; in SQLite also migrations and processes."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from astrum.store._base import NO_RESULT, CacheEntry
from astrum.store._owner import current_owner
from astrum.store._schema import MIGRATIONS, migrate, schema_version
from astrum.store._sqlite import SQLiteStore


@dataclass(frozen=True)
class Quote:
    sku: str
    cents: int


def _get(store: Any, key: str, oldest: float | None = None) -> CacheEntry | None:
    return asyncio.run(store.cache_get(key, oldest))


def _claim(store: Any, key: str, owner: str, now: float, lease: float = 60.0) -> bool:
    return asyncio.run(store.cache_claim(key, owner, now, lease))


def test_a_put_entry_is_read_back_with_its_value_while_young_enough(store: Any) -> None:
    assert store.cache_put(CacheEntry("k1", "quote", 1000.0, "run-1", Quote("a", 120))) is None

    found = _get(store, "k1")
    assert found == CacheEntry("k1", "quote", 1000.0, "run-1", Quote("a", 120))
    assert _get(store, "k1", oldest=999.0) is not None
    assert _get(store, "k1", oldest=1000.5) is None  # older than the ttl allows: a miss
    assert _get(store, "other") is None


def test_a_put_replaces_the_entry_of_its_key(store: Any) -> None:
    store.cache_put(CacheEntry("k1", "quote", 1000.0, "run-1", 1))
    store.cache_put(CacheEntry("k1", "quote", 2000.0, "run-2", 2))

    found = _get(store, "k1", oldest=1500.0)
    assert found is not None and (found.value, found.run_id) == (2, "run-2")
    assert [e.created for e in store.cache_entries()] == [2000.0]


def test_a_value_that_cannot_be_stored_is_refused_with_the_reason(store: Any) -> None:
    reason = store.cache_put(CacheEntry("k1", "quote", 1000.0, "run-1", object()))

    assert reason is not None and "object" in reason
    assert _get(store, "k1") is None


def test_one_owner_holds_a_lease_until_it_releases_it_or_it_expires(store: Any) -> None:
    assert _claim(store, "k", "run-a", now=100.0, lease=10.0)
    assert not _claim(store, "k", "run-b", now=101.0)
    assert _claim(store, "k", "run-a", now=102.0, lease=10.0)  # its own lease: taken again
    store.cache_release("k", "run-b")  # not the holder: nothing happens
    assert not _claim(store, "k", "run-b", now=103.0)
    store.cache_release("k", "run-a")
    assert _claim(store, "k", "run-b", now=104.0, lease=10.0)
    assert _claim(store, "k", "run-c", now=115.0)  # run-b's lease ran out at 114


def test_clear_deletes_the_entries_of_one_task_or_all_and_says_how_many(store: Any) -> None:
    for key, task, created in (("k1", "quote", 1.0), ("k2", "quote", 3.0), ("k3", "stock", 2.0)):
        store.cache_put(CacheEntry(key, task, created, "run-1", key))

    entries = store.cache_entries()
    assert [e.key for e in entries] == ["k2", "k3", "k1"]  # newest first
    assert all(e.value is NO_RESULT for e in entries)
    assert [e.key for e in store.cache_entries("quote")] == ["k2", "k1"]
    assert store.cache_clear("quote") == 2
    assert [e.key for e in store.cache_entries()] == ["k3"]
    assert store.cache_clear() == 1
    assert store.cache_entries() == []


def test_entries_outlive_the_store_object_in_a_file(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "runs.db") as store:
        store.cache_put(CacheEntry("k1", "quote", 1000.0, "run-1", Quote("a", 120)))
    with SQLiteStore(tmp_path / "runs.db") as store:
        found = _get(store, "k1")
    assert found is not None and found.value == Quote("a", 120)


def test_a_lease_whose_process_is_gone_is_free(tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(gone.stdout)
    with SQLiteStore(tmp_path / "runs.db") as store:
        store.cache_put(CacheEntry("k0", "t", 1.0, None, 0))  # the file exists with its tables
    conn = sqlite3.connect(tmp_path / "runs.db")
    conn.execute(
        "INSERT INTO cache_leases VALUES ('k', 'crashed-run', 1e12, ?, ?, 'gone')",
        (current_owner().host, dead_pid),
    )
    conn.commit()
    conn.close()

    with SQLiteStore(tmp_path / "runs.db") as store:
        assert _claim(store, "k", "run-b", now=100.0)


def test_a_version_3_file_gains_the_cache_and_keeps_its_runs(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    conn = sqlite3.connect(db, isolation_level=None)
    assert migrate(conn, target=3) == 3
    conn.execute(
        "INSERT INTO runs (run_id, namespace, targets, graph_fingerprint, tasks, total, config, metadata, state, "
        "start_time, end_time, owner_host, owner_pid) VALUES "
        "('v3-run', 'default', NULL, 'g', '{\"a\": [\"fp\", [], []]}', 1, '{}', '{}', 'completed', 1.0, 2.0, 'h', 1)"
    )
    conn.execute(
        "INSERT INTO tasks (run_id, task_id, status, start_time, end_time, codec, result, queued_duration, "
        "pool_queued_duration) VALUES ('v3-run', 'a', 'completed', 1.0, 2.0, 'json', '5', 0, 0)"
    )
    conn.close()

    with SQLiteStore(db) as store:
        report = store.report("v3-run")
        assert [(s.task_name, s.cache) for s in report.task_statistics] == [("a", None)]
        assert store.results("v3-run") == {"a": 5}
        store.cache_put(CacheEntry("k1", "a", 1.0, "v3-run", 5))
        assert _get(store, "k1") is not None
    conn = sqlite3.connect(db)
    try:
        assert schema_version(conn) == len(MIGRATIONS) == 4
    finally:
        conn.close()


PROCESS_RUN = textwrap.dedent(
    """
    import asyncio, sys, time
    from astrum import Cache, SchedulerRegistry, SQLiteStore

    db, log = sys.argv[1], sys.argv[2]
    registry = SchedulerRegistry("two-processes")

    @registry.task("slow", cache=Cache())
    def slow() -> int:
        with open(log, "a") as out:
            out.write("ran\\n")
        time.sleep(0.3)
        return 42

    async def main() -> None:
        with SQLiteStore(db) as store:
            print("ready", flush=True)
            sys.stdin.readline()
            report = await registry.run(store=store)
            print(report.results["slow"], report.task_statistics[0].cache, flush=True)

    asyncio.run(main())
    """
)


def test_two_processes_on_one_file_compute_a_key_once(tmp_path: Path) -> None:
    db, log = tmp_path / "runs.db", tmp_path / "executions.log"
    SQLiteStore(db).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS_RUN, str(db), str(log)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:  # both start their run now
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = [proc.communicate(timeout=30) for proc in procs]

    assert all(proc.returncode == 0 for proc in procs), outputs
    assert sorted(out.split() for out, _ in outputs) == [["42", "hit"], ["42", "miss"]]
    assert log.read_text().splitlines() == ["ran"]
