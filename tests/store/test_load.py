"""Nothing lost under load: many runs from one loop, threads and another process into one SQLite file."""

from __future__ import annotations

import asyncio
import importlib
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from astrum import ExecutionReport, SQLiteStore

# A 200-task DAG: 10 layers of 20; each task past the first layer reads two tasks of the layer
# before and returns their sum plus one. Run as a script, it records RUNS runs into DB and
# prints their ids.
DAG = textwrap.dedent(
    """
    import asyncio
    import sys

    from astrum import F, Ref, SchedulerRegistry, SQLiteStore  # F, Ref: the string annotations use them

    LAYERS, WIDTH = 10, 20
    registry = SchedulerRegistry("load")


    def make(layer, k):
        if layer == 0:
            async def root():
                return k
            return root

        async def node(left, right):
            return left + right + 1

        return node


    for layer in range(LAYERS):
        for k in range(WIDTH):
            fn = make(layer, k)
            if layer:
                left, right = f"t{layer - 1}_{k}", f"t{layer - 1}_{(k + 1) % WIDTH}"
                fn.__annotations__ = {"left": f"Ref[int, F({left!r})]", "right": f"Ref[int, F({right!r})]"}
            registry.task(f"t{layer}_{k}")(fn)


    async def main(path, runs):
        store = SQLiteStore(path)
        reports = await asyncio.gather(*(registry.run(store=store) for _ in range(runs)))
        await store.flush()
        store.close()
        print(" ".join(r.run_id for r in reports if r.execution_state == "completed"), flush=True)


    if __name__ == "__main__":
        asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    """
)


def check_recorded(store: SQLiteStore, report: ExecutionReport) -> None:
    assert report.execution_state == "completed" and report.run_id is not None
    stored = store.report(report.run_id)
    assert stored.execution_state == "completed"
    assert stored.results == report.results and len(stored.results) == 200
    assert sorted(s.task_name for s in stored.task_statistics) == sorted(report.results)
    assert sum(s.attempt_count for s in stored.task_statistics) == 200


async def test_runs_from_one_loop_four_threads_and_another_process_are_all_recorded_in_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "load_dag.py").write_text(DAG)
    db = tmp_path / "runs.db"
    monkeypatch.syspath_prepend(str(tmp_path))
    dag: Any = importlib.import_module("load_dag")
    store = SQLiteStore(db)
    other = subprocess.Popen(
        [sys.executable, str(tmp_path / "load_dag.py"), str(db), "3"], stdout=subprocess.PIPE, text=True
    )
    from_threads: list[ExecutionReport] = []
    errors: list[BaseException] = []

    def in_a_thread() -> None:
        async def two_runs() -> list[ExecutionReport]:
            return list(await asyncio.gather(dag.registry.run(store=store), dag.registry.run(store=store)))

        try:
            from_threads.extend(asyncio.run(two_runs()))
        except BaseException as exc:  # reported below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=in_a_thread) for _ in range(4)]
        for thread in threads:
            thread.start()
        in_loop = await asyncio.gather(*(dag.registry.run(store=store) for _ in range(20)))
        for thread in threads:
            thread.join(timeout=60)
        out, _ = other.communicate(timeout=60)
        assert errors == [] and other.returncode == 0
        await store.flush()

        ours = [*in_loop, *from_threads]
        assert len(ours) == 28
        for report in ours:
            check_recorded(store, report)
        theirs = out.split()
        assert len(theirs) == 3
        summaries = {s.run_id: s for s in store.runs(namespace="load", limit=100)}
        assert set(summaries) == {r.run_id for r in ours} | set(theirs)
        for summary in summaries.values():
            assert (summary.state, summary.total, summary.completed, summary.failed) == (
                "completed",
                200,
                200,
                0,
            )
        for run_id in theirs:  # the other process computed the same values
            assert store.results(run_id) == in_loop[0].results
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
        store.close()
        sys.modules.pop("load_dag", None)
