"""Measure one system on one workload in this process and print one JSON line.

Usage: ``python benchmarks/_measure.py --system S --workload W --size N [--profile]``

The driver (``run.py``) starts one such process per measurement so that peak
RSS, import state and garbage are never shared between measurements. Errors
are reported in the JSON (``ok: false``), never raised; the exit code is 0
whenever a JSON line was printed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import pstats
import resource
import sys
import time
from pathlib import Path
from typing import Any, TypedDict

from systems import SYSTEMS, Adapter, package_info
from workloads import critical_path, level_sync_makespan, make_workload

__all__ = ["Record", "main", "measure"]

_SRC = Path(__file__).resolve().parent.parent / "src"


class Record(TypedDict, total=False):
    """One measurement, as printed by the child and read by the driver."""

    system: str
    workload: str
    size: int
    ok: bool
    error: str | None
    skipped: str | None
    package: str | None
    python: str
    build_s: float
    run_s: float
    total_s: float
    us_per_task: float
    run_us_per_task: float
    base_rss_mb: float
    peak_rss_mb: float
    makespan_s: float
    critical_path_s: float
    level_sync_s: float


def rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (``ru_maxrss`` is in KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def describe(exc: BaseException) -> str:
    """A one-line, bounded description of an error."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    line = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return line[:300]


async def _timed(adapter: Adapter) -> tuple[float, float]:
    gc.collect()
    t0 = time.perf_counter()
    adapter.build()
    t1 = time.perf_counter()
    await adapter.run()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def _check_isolation(system: str, package: str | None) -> None:
    """A peer system must not measure our own ``src/astrum`` by accident."""
    if SYSTEMS[system].peer and package and str(_SRC) in package:
        raise RuntimeError(f"peer system {system!r} imported the project's own package: {package}")


def _timings(build_s: float, run_s: float, size: int) -> Record:
    total = build_s + run_s
    per = 1e6 / size if size else 0.0
    return Record(
        build_s=build_s,
        run_s=run_s,
        total_s=total,
        us_per_task=total * per,
        run_us_per_task=run_s * per,
    )


def measure(system: str, workload_name: str, size: int, *, profile: bool = False) -> Record:
    """Build and run ``system`` on the workload once; never raises."""
    record = Record(system=system, workload=workload_name, size=size, ok=False, error=None)
    record["python"] = sys.version.split()[0]
    try:
        workload = make_workload(workload_name, size)
        if workload.durations is not None:
            record["critical_path_s"] = critical_path(workload.tasks, workload.durations)
            record["level_sync_s"] = level_sync_makespan(workload.tasks, workload.durations)
        spec = SYSTEMS[system]
        adapter = spec.adapter(workload)
        record["package"] = package_info(spec.adapter.module) if spec.adapter.module else None
        _check_isolation(system, record["package"])
        record["base_rss_mb"] = rss_mb()
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            profiler.enable()
        build_s, run_s = asyncio.run(_timed(adapter))
        if profiler is not None:
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
        record.update(_timings(build_s, run_s, size))
        if workload.durations is not None:
            record["makespan_s"] = run_s
        adapter.check()
        record["ok"] = True
    except Exception as exc:
        record["error"] = describe(exc)
    record["peak_rss_mb"] = rss_mb()
    return record


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", required=True, choices=sorted(SYSTEMS))
    parser.add_argument("--workload", required=True)
    parser.add_argument("--size", required=True, type=int)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions to stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    record: dict[str, Any] = dict(measure(args.system, args.workload, args.size, profile=args.profile))
    print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
