"""Benchmark driver: every measurement in its own process, one markdown table per workload.

Usage (from the repository root)::

    .venv/bin/python benchmarks/run.py [--sizes 1000,10000] [--workloads wide,chain]
        [--systems baseline,scheduler] [--quick] [--repeat K] [--out PATH] [--timeout S]

Each measurement runs ``benchmarks/_measure.py`` in a fresh interpreter: ours
(``sys.executable``) for our systems, ``benchmarks/.peers/<peer>/bin/python``
for the peer systems (skipped when that venv does not exist). The report is
printed and written to ``benchmarks/results/latest.md`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import cast

from _measure import Record, describe
from _table import render_report
from systems import PEERS_DIR, SYSTEMS, SystemSpec
from workloads import WORKLOADS

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
MEASURE = BENCH_DIR / "_measure.py"
DEFAULT_OUT = BENCH_DIR / "results" / "latest.md"
DEFAULT_SIZES = (1000, 10000)
QUICK_SIZES = (10000,)


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in _csv(text)]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=_sizes, default=list(DEFAULT_SIZES), help="comma-separated task counts"
    )
    parser.add_argument("--workloads", type=_csv, default=list(WORKLOADS), help=f"from {','.join(WORKLOADS)}")
    parser.add_argument("--systems", type=_csv, default=list(SYSTEMS), help=f"from {','.join(SYSTEMS)}")
    parser.add_argument("--quick", action="store_true", help="only 10,000 tasks (overrides --sizes)")
    parser.add_argument("--repeat", type=int, default=1, help="measure K times, keep the fastest")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per measurement process")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the markdown report")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = list(QUICK_SIZES)
    unknown = [s for s in args.systems if s not in SYSTEMS] + [
        w for w in args.workloads if w not in WORKLOADS
    ]
    if unknown:
        parser.error(f"unknown systems/workloads: {', '.join(unknown)}")
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    # The baseline is measured first in every group: ratios are taken against it.
    args.systems = sorted(dict.fromkeys(args.systems), key=lambda s: s != "baseline")
    return args


def peer_python(spec: SystemSpec) -> Path | None:
    """The interpreter of a peer system's venv (``None`` for our own systems)."""
    return REPO / PEERS_DIR / spec.peer / "bin" / "python" if spec.peer else None


def skip_reason(spec: SystemSpec, size: int, workload: str | None = None) -> str | None:
    if spec.workloads is not None and workload is not None and workload not in spec.workloads:
        return f"skipped ({', '.join(spec.workloads)} only)"
    python = peer_python(spec)
    if python is not None and not python.exists():
        return f"skipped (no {PEERS_DIR}/{spec.peer} venv; see benchmarks/README.md)"
    if spec.max_size is not None and size > spec.max_size:
        return "skipped (too slow)"
    return None


def _command(spec: SystemSpec, workload: str, size: int) -> list[str]:
    python = peer_python(spec)
    # -E -s: a peer interpreter must see neither PYTHONPATH nor user site-packages (no path to our src).
    prefix = [str(python), "-E", "-s"] if python else [sys.executable]
    return [*prefix, str(MEASURE), "--system", spec.name, "--workload", workload, "--size", str(size)]


def _failure(spec: SystemSpec, workload: str, size: int, error: str) -> Record:
    return Record(system=spec.name, workload=workload, size=size, ok=False, error=error)


def measure_once(spec: SystemSpec, workload: str, size: int, timeout: float) -> Record:
    """Run one measurement process and parse its JSON line."""
    try:
        proc = subprocess.run(
            _command(spec, workload, size),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return _failure(spec, workload, size, f"timeout after {timeout:g} s")
    except OSError as exc:
        return _failure(spec, workload, size, describe(exc))
    lines = proc.stdout.strip().splitlines()
    try:
        parsed = json.loads(lines[-1])
    except (IndexError, ValueError):
        parsed = None
    if not isinstance(parsed, dict):
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit code {proc.returncode}, no output"]
        return _failure(spec, workload, size, f"measurement process failed: {tail[0]}")
    return cast(Record, parsed)


def measure_best(spec: SystemSpec, workload: str, size: int, repeat: int, timeout: float) -> Record:
    """Measure ``repeat`` times and keep the fastest successful run (else the last failure)."""
    reason = skip_reason(spec, size, workload)
    if reason:
        return Record(system=spec.name, workload=workload, size=size, ok=False, skipped=reason)
    best: Record | None = None
    last: Record | None = None
    for _ in range(repeat):
        last = measure_once(spec, workload, size, timeout)
        if last.get("ok") and (best is None or last["total_s"] < best["total_s"]):
            best = last
        if not last.get("ok"):
            break
    assert last is not None
    return best or last


def _progress(record: Record) -> str:
    head = f"{record['workload']:>12} {record['size']:>8,} {record['system']:<18}"
    if record.get("skipped"):
        return f"{head} {record['skipped']}"
    if not record.get("ok"):
        return f"{head} error: {record.get('error')}"
    build, run, per_task = record["build_s"], record["run_s"], record["us_per_task"]
    return f"{head} build {build:.3f} s  run {run:.3f} s  {per_task:.1f} µs/task"


def _nproc() -> int:
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def _revision() -> str:
    """The measured source tree's commit, marked ``-dirty`` when it has uncommitted changes."""
    try:
        proc = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--exclude", "*"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return proc.stdout.strip() or "unknown"


def _load() -> str:
    """The 1-minute load average: other processes on the machine skew the timings."""
    getloadavg = getattr(os, "getloadavg", None)
    return f"{getloadavg()[0]:.2f}" if getloadavg else "n/a"


def preamble(argv: list[str], load_before: str) -> list[str]:
    """Machine description and the exact command."""
    command = " ".join(["python benchmarks/run.py", *argv])
    return [
        "# astrum benchmarks",
        "",
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: `nproc` = {_nproc()}, {platform.platform()}, {platform.machine()}",
        f"- python: {platform.python_implementation()} {platform.python_version()}",
        f"- command: `{command}`",
        f"- source revision: {_revision()}",
        f"- 1-minute load average: {load_before} before, {_load()} after (other processes skew timings)",
        "- times are wall-clock seconds, best of --repeat runs; µs/task = (build + run) / N;",
        "  × baseline = (build + run) / the asyncio baseline's (build + run) in this invocation.",
    ]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    load_before = _load()
    records: list[Record] = []
    for workload in args.workloads:
        for size in args.sizes:
            for name in args.systems:
                record = measure_best(SYSTEMS[name], workload, size, args.repeat, args.timeout)
                print(_progress(record), file=sys.stderr, flush=True)
                records.append(record)
    report = render_report(records, preamble(argv, load_before))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(report)
    print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
