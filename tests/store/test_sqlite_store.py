"""SQLiteStore on real files: WAL, file mode, schema migrations, other processes, threads, crashes."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from _store_records import complete, start_run

from astrum._errors import RunStoreError
from astrum.store._base import TaskRecord, UnstorableResultWarning
from astrum.store._schema import MIGRATIONS, migrate, schema_version
from astrum.store._sqlite import SQLiteStore

# A writer process: records RUNS runs of TASKS tasks each into DB, flushing every EVERY tasks;
# with a sixth argument it says "ready" and waits for a line on stdin before it starts.
WRITER = textwrap.dedent(
    """
    import asyncio, sys, time
    from astrum.store._base import AttemptRecord, RunRecord, TaskRecord, TaskShape
    from astrum.store._sqlite import SQLiteStore

    db, prefix, runs, tasks, every = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    store = SQLiteStore(db)
    if len(sys.argv) > 6:
        print("ready", flush=True)
        sys.stdin.readline()

    async def main():
        for r in range(runs):
            run_id = f"{prefix}-{r}"
            shapes = {f"t{i}": TaskShape("fp", (), ()) for i in range(tasks)}
            store.run_started(RunRecord(run_id, prefix, None, "g", shapes, {}, {}, time.time()))
            for i in range(tasks):
                now = time.time()
                store.attempt_finished(run_id, AttemptRecord(f"t{i}", 1, "completed", now, now))
                store.task_finished(run_id, TaskRecord(f"t{i}", "completed", now, now, result=[r, i]))
                if i % every == 0:
                    await store.flush()
            store.run_finished(run_id, "completed", time.time())
            await store.flush()

    asyncio.run(main())
    store.close()
    print("done", flush=True)
    """
)

# Records the start of a run of 5 tasks and completes 2, then waits to be killed.
DOOMED = textwrap.dedent(
    """
    import asyncio, sys, time
    from astrum.store._base import AttemptRecord, RunRecord, TaskRecord, TaskShape
    from astrum.store._sqlite import SQLiteStore

    store = SQLiteStore(sys.argv[1])
    shapes = {f"t{i}": TaskShape("fp", (), (f"t{i - 1}",) if i else ()) for i in range(5)}
    store.run_started(RunRecord("doomed", "default", None, "g", shapes, {}, {}, time.time()))
    for i in range(2):
        now = time.time()
        store.attempt_finished("doomed", AttemptRecord(f"t{i}", 1, "completed", now, now))
        store.task_finished("doomed", TaskRecord(f"t{i}", "completed", now, now, result=i * 10))
    asyncio.run(store.flush())
    print("ready", flush=True)
    time.sleep(60)
    """
)


def _python(script: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _count(db: Path, sql: str, *params: Any) -> Any:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchone()[0]
    finally:
        conn.close()


def test_file_is_in_wal_mode_and_readable_by_its_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "nested" / "folders" / "runs.db"
    with SQLiteStore(db) as store:
        start_run(store, "r1", {"a": ()})
        complete(store, "r1", "a", "secret")
        asyncio.run(store.flush())
        assert _count(db, "PRAGMA journal_mode") == "wal"
        for path in (db, db.with_name("runs.db-wal"), db.with_name("runs.db-shm")):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_new_file_records_its_schema_version(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "runs.db").close()
    conn = sqlite3.connect(tmp_path / "runs.db")
    try:
        assert schema_version(conn) == len(MIGRATIONS)
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_version ORDER BY version")]
        assert versions == list(range(1, len(MIGRATIONS) + 1))
    finally:
        conn.close()


def test_file_at_an_older_schema_version_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    conn = sqlite3.connect(db, isolation_level=None)
    assert migrate(conn, target=1) == 1
    conn.execute(
        "INSERT INTO runs (run_id, namespace, targets, graph_fingerprint, tasks, total, config, metadata, state, "
        "start_time, end_time, owner_host, owner_pid) VALUES "
        "('v1-run', 'default', NULL, 'g', '{\"a\": [\"fp\", [], []]}', 1, '{}', '{}', 'completed', 1.0, 2.0, 'h', 1)"
    )
    conn.close()

    with SQLiteStore(db) as store:
        assert [s.run_id for s in store.runs()] == ["v1-run"]
    conn = sqlite3.connect(db)
    try:
        assert schema_version(conn) == len(MIGRATIONS)
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"runs_by_start", "runs_by_namespace", "runs_by_state"} <= indexes
    finally:
        conn.close()


def test_file_from_a_newer_astrum_is_refused(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "runs.db").close()
    conn = sqlite3.connect(tmp_path / "runs.db")
    conn.execute("INSERT INTO schema_version VALUES (99, 'from the future', 0)")
    conn.commit()
    conn.close()
    with pytest.raises(RunStoreError, match=r"version 99.*newer astrum"):
        SQLiteStore(tmp_path / "runs.db")


def test_two_processes_recording_into_one_file_both_record_everything(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    SQLiteStore(db).close()  # created up front: both processes race on writes, not on creation
    procs = [_python(WRITER, db, name, 3, 150, 10, "sync") for name in ("first", "second")]
    for proc in procs:  # both have opened the file: let them record at the same time
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and out.strip() == "done", err

    with SQLiteStore(db) as store:
        summaries = store.runs(limit=100)
        assert sorted(s.run_id for s in summaries) == [
            f"{p}-{r}" for p in ("first", "second") for r in range(3)
        ]
        assert all((s.state, s.total, s.completed) == ("completed", 150, 150) for s in summaries)
        assert store.results("second-2")["t149"] == [2, 149]
    assert _count(db, "SELECT count(*) FROM attempts") == 6 * 150


def test_reader_during_writing_sees_only_whole_consistent_runs(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    with SQLiteStore(db) as reader:
        writer = _python(WRITER, db, "w", 20, 40, 3)
        checked = 0
        while writer.poll() is None or checked == 0:
            for summary in reader.runs(limit=100):
                report = reader.report(summary.run_id)
                run = int(summary.run_id.split("-")[1])
                recorded = [s for s in report.task_statistics if s.status == "completed"]
                assert report.total_tasks == 40
                assert all(s.attempt_count == 1 for s in recorded)  # a task's attempt is never missing
                assert report.results == {s.task_name: [run, int(s.task_name[1:])] for s in recorded}
                if report.execution_state == "completed":
                    assert len(recorded) == 40
                checked += 1
        _, err = writer.communicate(timeout=60)
        assert writer.returncode == 0, err
        assert len(reader.runs(state="completed", limit=100)) == 20
    assert checked > 20


def test_run_of_a_killed_process_shows_as_interrupted_and_the_file_still_opens(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    proc = _python(DOOMED, db)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()

    with SQLiteStore(db) as store:
        [summary] = store.runs()
        assert (summary.state, summary.completed, summary.total) == ("interrupted", 2, 5)
        assert [s.run_id for s in store.runs(state="interrupted")] == ["doomed"]
        assert store.runs(state="running") == []
        report = store.report("doomed")
        assert report.execution_state == "interrupted"
        assert [s.status for s in report.task_statistics] == ["completed"] * 2 + ["skipped"] * 3
        assert report.results == {"t0": 0, "t1": 10}
        assert any("interrupted" in line for line in report.error_summary)
        start_run(store, "after", {"a": ()})  # and it still records
        complete(store, "after", "a", 1)
        assert store.results("after") == {"a": 1}


@pytest.mark.parametrize(
    ("host", "pid", "token", "shown"),
    [
        pytest.param(None, None, None, "running", id="this-process"),
        pytest.param(None, None, "other-boot:1", "interrupted", id="same-pid-other-process"),
        pytest.param(None, 2**22 + 12345, None, "interrupted", id="pid-not-alive"),
        pytest.param("another-host", 2**22 + 12345, None, "running", id="other-host-cannot-be-checked"),
    ],
)
def test_running_run_is_interrupted_only_when_its_owner_process_is_gone(
    tmp_path: Path, host: str | None, pid: int | None, token: str | None, shown: str
) -> None:
    db = tmp_path / "runs.db"
    with SQLiteStore(db) as store:
        start_run(store, "r1", {"a": ()})
        asyncio.run(store.flush())
        conn = sqlite3.connect(db)
        assignments = {"owner_host": host, "owner_pid": pid, "owner_token": token}
        for column, value in assignments.items():
            if value is not None:
                conn.execute(f"UPDATE runs SET {column} = ?", (value,))
        conn.commit()
        conn.close()
        assert store.runs()[0].state == shown
        assert store.report("r1").execution_state == shown


def test_many_threads_recording_at_once_lose_nothing(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "runs.db") as store:
        start_run(store, "shared", {f"t{k}-{i}": () for k in range(8) for i in range(250)})
        barrier = threading.Barrier(8)

        def record(k: int) -> None:
            barrier.wait()
            start_run(store, f"own-{k}", {f"t{i}": () for i in range(250)})
            for i in range(250):
                complete(store, "shared", f"t{k}-{i}", [k, i])
                complete(store, f"own-{k}", f"t{i}", i)

        threads = [threading.Thread(target=record, args=(k,)) for k in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(store.results("shared")) == 2000
        assert all(len(store.results(f"own-{k}")) == 250 for k in range(8))
        assert store.results("shared")["t7-249"] == [7, 249]


def test_flush_awaits_the_commit_seen_by_another_connection(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"

    async def record_and_flush(store: SQLiteStore, run_id: str) -> None:
        start_run(store, run_id, {f"t{i}": () for i in range(500)})
        for i in range(500):
            complete(store, run_id, f"t{i}", i)
        await store.flush()
        assert _count(db, "SELECT count(*) FROM tasks WHERE run_id = ?", run_id) == 500

    with SQLiteStore(db) as store:
        # Two event loops in two threads flushing the same store at once.
        other = threading.Thread(target=lambda: asyncio.run(record_and_flush(store, "from-thread")))
        other.start()
        asyncio.run(record_and_flush(store, "from-main"))
        other.join()
        assert _count(db, "SELECT count(*) FROM tasks") == 1000


def test_recording_never_waits_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    with SQLiteStore(db, timeout=0.05) as store:
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the write lock, held for longer than the busy timeout
        started = time.perf_counter()
        start_run(store, "r1", {f"t{i}": () for i in range(2000)})
        for i in range(2000):
            complete(store, "r1", f"t{i}", i)
        recording = time.perf_counter() - started
        time.sleep(0.3)  # the writer meets SQLITE_BUSY a few times meanwhile
        assert _count(db, "SELECT count(*) FROM tasks") == 0
        blocker.execute("COMMIT")
        blocker.close()
        asyncio.run(store.flush())
        assert _count(db, "SELECT count(*) FROM tasks") == 2000
    assert recording < 0.3  # typically ~20 ms: a generous bound, far below the lock's hold time


def test_recording_cost_per_task_stays_small(tmp_path: Path) -> None:
    """A micro-benchmark with a loose bound: a task_finished plus an attempt_finished per task."""
    tasks = 10_000
    with SQLiteStore(tmp_path / "runs.db") as store:
        start_run(store, "r1", {f"t{i}": () for i in range(tasks)})
        names = [f"t{i}" for i in range(tasks)]
        started = time.perf_counter()
        for name in names:
            complete(store, "r1", name, {"id": name, "score": 0.5})
        per_task = (time.perf_counter() - started) / tasks
        asyncio.run(store.flush())
        assert len(store.results("r1")) == tasks
    assert per_task < 200e-6, f"{per_task * 1e6:.1f} µs per task on the calling thread"


def test_pickled_results_are_not_loaded_by_a_store_opened_without_pickle(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    with pytest.warns(UserWarning, match="runs code"), SQLiteStore(db, serializer="pickle") as writer:
        start_run(writer, "r1", {"a": (), "b": ()})
        complete(writer, "r1", "a", {1, 2})
    with (
        SQLiteStore(db) as reader,
        pytest.warns(UnstorableResultWarning, match="task 'a'.*serializer='pickle'"),
    ):
        assert reader.results("r1") == {}


def test_a_batch_that_cannot_be_written_is_reported_and_the_writer_goes_on(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    store = SQLiteStore(db)
    start_run(store, "r1", {"a": (), "b": ()})
    asyncio.run(store.flush())
    store.task_finished("r1", TaskRecord("a", "failed", object(), None))  # type: ignore[arg-type]
    with pytest.raises(RunStoreError, match="could not write"):
        asyncio.run(store.flush())
    complete(store, "r1", "b", 2)
    assert store.results("r1") == {"b": 2}  # later batches are still written
    with pytest.raises(RunStoreError, match="could not write"):
        store.close()
    assert not any(t.name.startswith("astrum-store-writer") for t in threading.enumerate())


def test_file_that_is_not_a_database_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a database, just some text that is long enough " * 20)
    with pytest.raises(RunStoreError, match=r"notes\.txt.*cannot be opened as a run store"):
        SQLiteStore(tmp_path / "notes.txt")


def test_memory_path_is_refused_with_a_pointer_to_memory_store() -> None:
    with pytest.raises(ValueError, match="MemoryStore"):
        SQLiteStore(":memory:")


def test_store_file_written_by_another_process_is_readable_here(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    proc = _python(WRITER, db, "other", 1, 5, 100)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    with SQLiteStore(db) as store:
        assert os.getpid() != proc.pid
        assert store.results("other-0") == {f"t{i}": [0, i] for i in range(5)}


def test_store_left_open_writes_what_it_recorded_at_interpreter_exit(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from astrum.store._base import RunRecord, TaskRecord, TaskShape
        from astrum.store._sqlite import SQLiteStore

        store = SQLiteStore(sys.argv[1])
        store.run_started(RunRecord("r1", "default", None, "g", {"a": TaskShape("fp", (), ())}, {}, {}, time.time()))
        store.task_finished("r1", TaskRecord("a", "completed", 1.0, 2.0, result="kept"))
        """
    )
    proc = _python(script, tmp_path / "runs.db")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    with SQLiteStore(tmp_path / "runs.db") as store:
        assert store.results("r1") == {"a": "kept"}


def test_prune_deletes_an_old_interrupted_run(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    with SQLiteStore(db) as store:
        start_run(store, "crashed", {"a": ()}, start_time=time.time() - 3 * 86400)
        complete(store, "crashed", "a", 1)
        asyncio.run(store.flush())
        conn = sqlite3.connect(db)
        conn.execute("UPDATE runs SET owner_token = 'an-earlier-boot:1'")  # its process is gone
        conn.commit()
        conn.close()
        assert store.runs()[0].state == "interrupted"
        assert store.prune(older_than="1d") == 1
        assert store.runs() == []
    assert _count(db, "SELECT count(*) FROM tasks") == _count(db, "SELECT count(*) FROM attempts") == 0
