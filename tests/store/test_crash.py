"""A run killed with SIGKILL mid-flight: the store opens, the run is interrupted, resume finishes it."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from astrum import SQLiteStore

# The pipeline module, imported by the recording subprocess and by the test (to resume).
# Every task body appends its name to the counter file when it runs; ``slow`` first waits
# until what ran before it is committed, then sleeps ASTRUM_CRASH_SLEEP seconds.
PIPELINE = textwrap.dedent(
    """
    import asyncio
    import os

    from astrum import F, Ref, SchedulerRegistry, SQLiteStore

    registry = SchedulerRegistry("crash")
    STORE = None


    def note(name):
        with open(os.environ["ASTRUM_CRASH_COUNTER"], "a") as counter:
            counter.write(name + "\\n")


    @registry.task()
    async def fetch() -> list[int]:
        note("fetch")
        return [1, 2, 3]


    @registry.task()
    def double(values: Ref[list[int], F("fetch")]) -> list[int]:
        note("double")
        return [v * 2 for v in values]


    @registry.task()
    async def count(values: Ref[list[int], F("fetch")]) -> dict[str, int]:
        note("count")
        return {"n": len(values)}


    @registry.task()
    async def slow(values: Ref[list[int], F("double")], n: Ref[int, F("count", "n")]) -> int:
        if STORE is not None:
            await STORE.flush()
        note("slow")
        await asyncio.sleep(float(os.environ.get("ASTRUM_CRASH_SLEEP", "0")))
        return sum(values) + n


    @registry.task()
    async def publish(total: Ref[int, F("slow")]) -> str:
        note("publish")
        return f"total {total}"


    async def main(path):
        global STORE
        STORE = SQLiteStore(path)
        await registry.run(store=STORE)
    """
)


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


async def test_a_killed_run_is_interrupted_and_resume_finishes_it_without_rerunning_completed_tasks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "crash_pipeline.py").write_text(PIPELINE)
    db, counter = tmp_path / "runs.db", tmp_path / "counter.txt"
    env = {**os.environ, "ASTRUM_CRASH_COUNTER": str(counter), "ASTRUM_CRASH_SLEEP": "60"}
    code = "import asyncio, sys, crash_pipeline; asyncio.run(crash_pipeline.main(sys.argv[1]))"
    proc = subprocess.Popen([sys.executable, "-c", code, str(db)], cwd=tmp_path, env=env)
    try:
        deadline = time.monotonic() + 30
        while len(lines(counter)) < 4 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sorted(lines(counter)) == ["count", "double", "fetch", "slow"]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    monkeypatch.setenv("ASTRUM_CRASH_COUNTER", str(counter))
    monkeypatch.delenv("ASTRUM_CRASH_SLEEP", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("crash_pipeline")
    try:
        with SQLiteStore(db) as store:
            [summary] = store.runs()
            assert summary.state == "interrupted"
            assert store.runs(state="interrupted") == [summary]
            killed = store.report(summary.run_id)
            statuses = {stat.task_name: stat.status for stat in killed.task_statistics}
            assert statuses == {
                "fetch": "completed",
                "double": "completed",
                "count": "completed",
                "slow": "skipped",
                "publish": "skipped",
            }

            report = await module.registry.resume(summary.run_id, store=store)

            assert report.execution_state == "completed"
            assert report.results["publish"] == "total 15"
            assert report.reused_tasks == ("fetch", "double", "count")
            assert Counter(lines(counter)) == {"fetch": 1, "double": 1, "count": 1, "slow": 2, "publish": 1}
            assert store.runs()[0].resumed_from == summary.run_id
    finally:
        sys.modules.pop("crash_pipeline", None)
