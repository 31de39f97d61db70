"""``astrum runs``, ``astrum show`` and ``astrum prune`` read what a store recorded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from astrum.store._base import AttemptRecord, RunRecord, TaskRecord, TaskShape
from astrum.store._sqlite import SQLiteStore

DAY = 86400.0


def record_run(
    db: Path,
    run_id: str,
    *,
    namespace: str = "etl",
    started: float,
    failing: bool = False,
    resumed_from: str | None = None,
) -> None:
    """A finished run of ``fetch -> clean -> save``: fetch retried once; clean fails if ``failing``."""
    shapes = {
        "fetch": TaskShape("fp-fetch", (), ()),
        "clean": TaskShape("fp-clean", (("rows", "fetch", "None"),), ()),
        "save": TaskShape("fp-save", (("rows", "clean", "None"),), ()),
    }
    trace = 'Traceback (most recent call last):\n  File "etl.py", line 12, in clean\nValueError: row 7 has no id\n'
    with SQLiteStore(db) as store:
        store.run_started(RunRecord(run_id, namespace, None, "g1", shapes, {}, {}, started, resumed_from))
        store.attempt_finished(
            run_id,
            AttemptRecord(
                "fetch", 1, "failed", started, started + 0.1, "builtins.ConnectionError", "503", "tb"
            ),
        )
        store.attempt_finished(run_id, AttemptRecord("fetch", 2, "completed", started + 0.2, started + 0.3))
        store.task_finished(run_id, TaskRecord("fetch", "completed", started, started + 0.3, result=[1, 2]))
        if failing:
            store.attempt_finished(
                run_id,
                AttemptRecord(
                    "clean",
                    1,
                    "failed",
                    started + 0.3,
                    started + 0.5,
                    "builtins.ValueError",
                    "row 7 has no id",
                    trace,
                ),
            )
            store.task_finished(
                run_id,
                TaskRecord(
                    "clean", "failed", started + 0.3, started + 0.5, error_type="builtins.ValueError",
                    error_message="row 7 has no id", traceback=trace,
                ),
            )  # fmt: skip
            store.task_finished(
                run_id,
                TaskRecord(
                    "save", "skipped", None, None, error_message="Skipped: 'clean' failed", caused_by="clean"
                ),
            )
        else:
            store.task_finished(
                run_id, TaskRecord("clean", "completed", started + 0.3, started + 0.5, result=[1])
            )
            store.task_finished(
                run_id, TaskRecord("save", "completed", started + 0.5, started + 0.6, result=1)
            )
        store.run_finished(run_id, "failed" if failing else "completed", started + 0.6)


def test_runs_lists_newest_first_with_filters(cli):
    now = time.time()
    record_run(cli.cwd / ".astrum" / "runs.db", "0a1b2c-old", started=now - 60, failing=True)
    record_run(cli.cwd / ".astrum" / "runs.db", "0a9f3e-new", started=now - 10, resumed_from="0a1b2c-old")
    record_run(cli.cwd / ".astrum" / "runs.db", "77aa00-ml", namespace="ml", started=now - 5)

    listed = cli("runs")
    failed = cli("runs", "--state", "failed")
    etl = cli("runs", "--namespace", "etl", "--limit", "1")

    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == [
        "run",
        "id",
        "namespace",
        "state",
        "started",
        "duration",
        "tasks",
        "failed",
        "resumes",
    ]
    assert [line.split()[0] for line in lines[2:]] == ["77aa00-ml", "0a9f3e-new", "0a1b2c-old"]
    assert lines[3].split()[-1] == "0a1b2c-old"  # the resumed run names the run it resumes
    assert "1/3" in lines[4] and "failed" in lines[4]
    assert [line.split()[0] for line in failed.stdout.splitlines()[2:]] == ["0a1b2c-old"]
    assert [line.split()[0] for line in etl.stdout.splitlines()[2:]] == ["0a9f3e-new"]


def test_runs_without_a_database_says_so_and_creates_nothing(cli):
    result = cli("runs")

    assert result.returncode == 0
    assert "No runs recorded" in result.stdout and ".astrum/runs.db" in result.stdout
    assert not (cli.cwd / ".astrum").exists()


def test_show_prints_tasks_errors_with_traceback_and_critical_path(cli):
    record_run(cli.cwd / ".astrum" / "runs.db", "5e1f0c9d-run", started=time.time() - 30, failing=True)

    result = cli("show", "5e1f")  # a unique prefix is enough

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Run 5e1f0c9d-run  failed")
    rows = {
        line.split()[0]: line.split()
        for line in out.splitlines()
        if line.split()[:1] in (["fetch"], ["clean"], ["save"])
    }
    assert rows["fetch"][1:3] == ["completed", "2"]
    assert rows["clean"][1:3] == ["failed", "1"] and "ValueError: row 7 has no id" in " ".join(rows["clean"])
    assert rows["save"][1:5] == ["skipped", "-", "-", "-"] and "clean" in " ".join(rows["save"])
    assert "attempt 1: ConnectionError: 503" in out  # the retried attempt of fetch
    assert 'File "etl.py", line 12, in clean' in out  # the traceback of the failure
    assert "Critical path: fetch (" in out and "-> clean (" in out


def test_show_names_an_unknown_or_ambiguous_run_id_and_exits_2(cli):
    db = cli.cwd / ".astrum" / "runs.db"
    record_run(db, "abc123", started=time.time() - 20)
    record_run(db, "abd456", started=time.time() - 10)

    unknown = cli("show", "zzz")
    ambiguous = cli("show", "ab")
    elsewhere = cli("show", "abc123", "--db", "other.db")

    assert unknown.returncode == ambiguous.returncode == elsewhere.returncode == 2
    assert "'zzz'" in unknown.stderr and "astrum runs" in unknown.stderr
    assert "'ab'" in ambiguous.stderr and "abc123" in ambiguous.stderr and "abd456" in ambiguous.stderr
    assert "other.db does not exist" in elsewhere.stderr
    assert "Traceback" not in unknown.stderr + ambiguous.stderr + elsewhere.stderr
    assert not (cli.cwd / "other.db").exists()


def test_show_and_runs_call_a_run_whose_process_died_interrupted(cli):
    script = textwrap.dedent(
        """
        import os, sys, time, asyncio
        from astrum.store._base import RunRecord, TaskRecord, TaskShape
        from astrum.store._sqlite import SQLiteStore
        store = SQLiteStore(sys.argv[1])
        shapes = {"a": TaskShape("fa", (), ()), "b": TaskShape("fb", (), ("a",))}
        store.run_started(RunRecord("dead-run", "etl", None, "g", shapes, {}, {}, time.time()))
        store.task_finished("dead-run", TaskRecord("a", "completed", time.time(), time.time(), result=1))
        asyncio.run(store.flush())
        os._exit(0)  # the process ends with the run still running
        """
    )
    db = cli.cwd / ".astrum" / "runs.db"
    subprocess.run([sys.executable, "-c", script, str(db)], check=True, timeout=60)

    listed = cli("runs", "--state", "interrupted")
    shown = cli("show", "dead-run")

    assert listed.stdout.splitlines()[2].split()[:3] == ["dead-run", "etl", "interrupted"]
    assert shown.stdout.startswith("Run dead-run  interrupted")
    assert "Not started: the run was interrupted" in shown.stdout
    assert "Interrupted: the process running this run ended" in shown.stdout
    assert shown.stdout.endswith("Resume it: astrum resume dead-run --app MODULE[:REGISTRY]\n")


def test_prune_deletes_only_runs_older_than_the_age(cli):
    db = cli.cwd / ".astrum" / "runs.db"
    record_run(db, "ancient", started=time.time() - 40 * DAY)
    record_run(db, "recent", started=time.time() - 60)

    pruned = cli("prune", "--older-than", "30d")
    listed = cli("runs")
    bad_age = cli("prune", "--older-than", "30 days")
    missing = cli("prune", "--older-than", "30d", "--db", "none.db")

    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.startswith("Deleted 1 run older than 30d")
    assert [line.split()[0] for line in listed.stdout.splitlines()[2:]] == ["recent"]
    assert bad_age.returncode == 2 and "'30 days' is not an age" in bad_age.stderr
    assert missing.returncode == 0 and "Nothing to prune" in missing.stdout


def test_help_says_a_run_id_prefix_is_accepted(cli):
    result = cli("show", "--help")

    assert result.returncode == 0
    assert "first characters" in result.stdout and ".astrum/runs.db" in result.stdout
