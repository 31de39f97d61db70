"""Result cache benchmark: the cost per task of a cache miss and of a cache hit.

Usage (from the repository root)::

    .venv/bin/python benchmarks/cache.py [--tasks 500] [--repeat 3]

A wide DAG: one root task and N async tasks that each receive the root's small dict and
return a small dict. Prints markdown rows, in microseconds per task of the run phase: the
same tasks without ``cache=`` (recorded into the same kind of store), with ``cache=`` on a
fresh store (every task a miss: key, lookup, claim, attempt, put), and again on that store
(every task a hit: key and lookup, no attempt).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from astrum import Cache, F, MemoryStore, Ref, SchedulerRegistry, SQLiteStore


def wide(n: int, cached: bool) -> SchedulerRegistry:
    registry = SchedulerRegistry(f"cache_bench_{cached}")

    async def root() -> dict[str, int]:
        return {"rows": 3, "batch": 7}

    registry.register(root, "root")
    for i in range(n):

        async def leaf(config: Ref[dict, F("root")], i: int = i) -> dict[str, int]:
            return {"task": i, "rows": config["rows"]}

        registry.register(leaf, f"leaf{i}", cache=Cache() if cached else None)
    return registry


async def _timed(registry: SchedulerRegistry, store: Any) -> float:
    started = time.perf_counter()
    report = await registry.run(store=store)
    took = time.perf_counter() - started
    assert report.execution_state == "completed", report.error_summary
    return took


async def measure(n: int, make_store: Callable[[], Any]) -> tuple[float, float, float]:
    """Seconds of a run without cache, a run of misses and a run of hits (each on its own store)."""
    plain, cached = wide(n, False), wide(n, True)
    plain.validate()
    cached.validate()
    store = make_store()
    try:
        uncached = await _timed(plain, store)
    finally:
        store.close()
    store = make_store()
    try:
        misses = await _timed(cached, store)
        hits = await _timed(cached, store)
    finally:
        store.close()
    return uncached, misses, hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.tasks
    folder = Path(tempfile.mkdtemp(prefix="astrum-cache-bench-"))
    count = iter(range(10**6))
    stores: dict[str, Callable[[], Any]] = {
        "MemoryStore": MemoryStore,
        "SQLiteStore": lambda: SQLiteStore(folder / f"runs{next(count)}.db"),
    }
    print(f"| store | no cache | miss | hit | ({n} tasks, µs per task, best of {args.repeat}) |")
    print("|---|---:|---:|---:|---|")
    for name, make in stores.items():
        best = [float("inf")] * 3
        for _ in range(args.repeat):
            for k, seconds in enumerate(asyncio.run(measure(n, make))):
                best[k] = min(best[k], seconds)
        cells = " | ".join(f"{seconds / n * 1e6:.0f}" for seconds in best)
        print(f"| {name} | {cells} | |")


if __name__ == "__main__":
    main()
