"""``make demo``: an order-fulfilment workflow, drawn, planned, run, reported and recorded.

The workflow (``examples/fulfilment.py``): nine tasks with simulated latencies, two of them
blocking functions that astrum runs in worker threads, and a carrier API call that fails once
and recovers through ``retry=2``.

    receive_order ─┬─ screen_fraud ── capture_payment ── render_invoice* ─┐
                   ├─ reserve_stock ── pack_parcel* ─┐                     ├─ email_customer
                   └─ quote_shipping (retry=2) ──────┴── book_courier ─────┘
                                                           (* = sync, blocking)

It prints the graph as Mermaid (``registry.to_mermaid()``). With rich installed
(``pip install "astrum[viz]"``) it also prints the DAG with its data transport and the stage
view, draws the run live while it goes (on a terminal: ``AstrumConfig(progress=True)``), and
prints the "why was it slow" report with the critical path (``report.render()``); without
rich it prints the same report as plain text (``print(report)``).

The run is recorded in ``.astrum/runs.db`` (``--db PATH`` for another file) and its HTML run
page is written next to it (``last-run.html``, ``report.to_html(path)``); the demo ends with
the ``astrum show`` and ``astrum resume`` commands for it.
"""

import argparse
import asyncio
import os
import shlex
import shutil
import sys
import threading
from dataclasses import replace
from pathlib import Path

import fulfilment  # examples/fulfilment.py: the app, importable as `--app examples/fulfilment.py:registry`

from astrum import AstrumConfig, ExecutionReport, SQLiteStore

INSTALL_HINT = 'pip install "astrum[viz]"'
DEFAULT_DB = ".astrum/runs.db"


def rich_available() -> bool:
    """Whether the optional ``rich`` dependency can be imported."""
    try:
        import rich.console  # noqa: F401
    except ImportError:
        return False
    return True


def check(report: ExecutionReport, carrier: fulfilment.FlakyCarrier) -> None:
    """The outcome the demo promises (raises ``AssertionError`` otherwise)."""
    assert report.execution_state == "completed", report.error_summary
    assert report.successful_tasks == report.total_tasks == 9
    stats = {s.task_name: s for s in report.task_statistics}
    assert stats["quote_shipping"].attempt_count == 2
    assert carrier.calls == 2
    assert report.results["pack_parcel"]["thread"] != threading.main_thread().name
    assert report.results["email_customer"].endswith("track your parcel with 3SPOSTNL301")


def parallelism_line(report: ExecutionReport) -> str:
    """Makespan against the sum of task durations."""
    busy = sum(s.duration for s in report.task_statistics)
    makespan = report.total_duration
    saved = busy - makespan
    return (
        f"Makespan {makespan:.2f} s for {busy:.2f} s of task time: running independent tasks side by side "
        f"saved {saved:.2f} s ({saved / busy:.0%})."
    )


def astrum_command() -> list[str]:
    """How to call the ``astrum`` command line from here: ``astrum`` if it is on PATH, else its path."""
    script = Path(sys.executable).parent / "astrum"
    if not script.exists():
        return [os.path.relpath(sys.executable), "-m", "astrum"]
    on_path = shutil.which("astrum")
    if on_path is not None and Path(on_path).resolve() == script.resolve():
        return ["astrum"]
    return [os.path.relpath(script)]


def follow_up(run_id: str, db: str) -> list[str]:
    """The commands that show the recorded run and resume it from ``book_courier``."""
    astrum = shlex.join(astrum_command())
    app = shlex.quote(f"{os.path.relpath(fulfilment.__file__)}:registry")
    db_words = "" if db == DEFAULT_DB else f" --db {shlex.quote(db)}"
    return [
        f"Recorded as run {run_id} in {db}. See it, or run book_courier and what follows it again:",
        f"  {astrum} show {shlex.quote(run_id)}{db_words}",
        f"  {astrum} resume {shlex.quote(run_id)} --app {app} --from book_courier{db_words}",
    ]


async def main(db: str = DEFAULT_DB) -> int:
    """Build, show, run, report and record the workflow; return the process exit code."""
    has_rich = rich_available()
    if not has_rich:
        print(f"rich is not installed: {INSTALL_HINT} for the DAG tree, stage table and timeline.")
        print("Running with a plain summary instead.\n")
    registry = fulfilment.registry
    config = AstrumConfig(silence=True, silence_warnings=True)
    print(f"Build: {registry.name} ({len(registry)} tasks)")
    print("The graph as Mermaid (paste it into Markdown on GitHub, or https://mermaid.live):")
    print(registry.to_mermaid())
    plan = registry.build_scheduler(config=replace(config, visualize=has_rich)).get_execute_timeline()
    note = "The stage view groups tasks by depth; at run time each task starts as soon as its own inputs are ready."
    with SQLiteStore(db) as store:
        if has_rich:
            from rich.console import Console

            from astrum.viz import print_plan

            console = Console()
            print_plan(plan, console)
            console.print(note)
            # progress=True draws the run live when the output is a terminal (not when piped)
            report = await registry.run(config=replace(config, progress=True), store=store)
            console.print()
            report.render(console)
        else:
            print(plan.get_visualization_table())
            print(note)
            report = await registry.run(config=config, store=store)
            print()
            print(report)
    print(parallelism_line(report))
    page = report.to_html(Path(db).parent / "last-run.html")
    print(f"Run page (Gantt, graph, task table): {page}")
    try:
        check(report, fulfilment.carrier)
    except AssertionError as exc:
        print(f"demo: unexpected outcome: {exc}", file=sys.stderr)
        return 1
    print()
    print("\n".join(follow_up(report.run_id, db)))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Run the order-fulfilment demo and record it.")
    parser.add_argument(
        "--db", default=DEFAULT_DB, help=f"the run store to record into (default: {DEFAULT_DB})"
    )
    sys.exit(asyncio.run(main(parser.parse_args().db)))
