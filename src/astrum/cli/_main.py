"""``astrum``: the command line's arguments, and the one place errors become exit statuses.

Exit statuses: 0 done (a run that completed), 1 a run that failed or was cancelled, 2 a
mistake in the input (unknown module, registry, run id or task; a changed graph without
``--force``; a file that is not a run store), 130 interrupted with Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from .._errors import SchedulerError
from ..store._base import RUN_STATES, age_seconds
from . import _commands, _graph
from ._app import UsageError
from ._cache import add_cache_commands
from ._output import Output

__all__ = ["build_parser", "main"]

_APP_HELP = (
    "a module name (importable from the current directory) or the path of a .py file, then "
    "optionally :NAME of the SchedulerRegistry in it; without :NAME, the tasks module-level "
    "@task registered (the 'default' namespace)"
)
_RUN_ID_HELP = "a run id, or its first characters if no other run id starts with them"


def _age(text: str) -> str:
    try:
        age_seconds(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an age; write a number and a unit (s, m, h, d or w): 30d, 12h, 90m"
        ) from None
    return text


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of runs (0 or more)")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``astrum`` argument parser, one subcommand per command."""
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument(
        "--db",
        metavar="PATH",
        help=f"the run store, a SQLite file (default: {_commands.DEFAULT_DB} under the current directory)",
    )
    parser = argparse.ArgumentParser(
        prog="astrum",
        description="Run astrum task registries with their runs recorded, list and show past runs, "
        "resume a run that failed or was interrupted, draw a registry's graph, list or clear cached results.",
        epilog="Runs are recorded in .astrum/runs.db under the current directory unless --db says "
        "otherwise. See docs/durable-runs.md.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    def add(
        name: str, handler: Callable[[argparse.Namespace, Output], int], help: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[db], help=help, description=help)
        sub.set_defaults(handler=handler)
        return sub

    run = add("run", _commands.run, "run a registry, record the run, print how to show or resume it")
    run.add_argument("app", metavar="MODULE[:REGISTRY]", help=_APP_HELP)
    run.add_argument(
        "--target",
        metavar="TASK",
        action="extend",
        nargs="+",
        help="run only these tasks and what they need (repeatable; default: every task)",
    )
    run.add_argument(
        "--progress",
        action="store_true",
        help="draw the run live on a terminal: counts by status, running tasks, retries (needs astrum[viz])",
    )

    runs = add("runs", _commands.runs, "list the recorded runs, newest first")
    runs.add_argument("--namespace", metavar="N", help="only the runs of this namespace (registry name)")
    runs.add_argument(
        "--state", metavar="S", choices=RUN_STATES, help=f"only runs in this state: {', '.join(RUN_STATES)}"
    )
    runs.add_argument("--limit", metavar="K", type=_limit, default=50, help="at most K runs (default: 50)")

    show = add("show", _commands.show, "show a run: its tasks, errors with tracebacks, critical path")
    show.add_argument("run_id", metavar="RUN_ID", help=_RUN_ID_HELP)
    picture = show.add_mutually_exclusive_group()
    picture.add_argument("--gantt", action="store_true", help="print the run as a Mermaid gantt instead")
    picture.add_argument(
        "--html",
        metavar="PATH",
        help="write the run's self-contained HTML page (Gantt, graph, tasks) to PATH",
    )

    drawing = commands.add_parser(
        "graph",
        help="print a registry's task graph (nothing runs)",
        description="print a registry's task graph",
    )
    drawing.set_defaults(handler=_graph.graph)
    drawing.add_argument("app", metavar="MODULE[:REGISTRY]", help=_APP_HELP)
    drawing.add_argument(
        "--target", metavar="TASK", action="extend", nargs="+", help="only these tasks and what they need"
    )
    drawing.add_argument(
        "--format",
        choices=_graph.FORMATS,
        default="mermaid",
        help="a Mermaid flowchart (default) or a text tree",
    )

    resume = add(
        "resume",
        _commands.resume,
        "run again what a run did not complete, reusing the results of its completed tasks",
    )
    resume.add_argument("run_id", metavar="RUN_ID", help=_RUN_ID_HELP)
    resume.add_argument(
        "--app", required=True, metavar="MODULE[:REGISTRY]", help=f"the registry to run: {_APP_HELP}"
    )
    resume.add_argument(
        "--from",
        dest="from_tasks",
        metavar="TASK",
        action="extend",
        nargs="+",
        help="also run these tasks again, and every task that depends on them (repeatable)",
    )
    resume.add_argument(
        "--force",
        action="store_true",
        help="resume even if tasks changed since the run: run the changed tasks and their dependants again",
    )

    prune = add("prune", _commands.prune, "delete finished runs older than an age")
    prune.add_argument(
        "--older-than",
        metavar="AGE",
        required=True,
        type=_age,
        help="an age such as 30d, 12h, 90m, 45s or 2w; runs still running are never deleted",
    )
    add_cache_commands(commands, db)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``astrum`` command line; return its exit status."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.handler(args, Output())
        sys.stdout.flush()
        return status
    except (UsageError, SchedulerError) as exc:
        sys.stdout.flush()
        print(f"astrum: {exc}", file=sys.stderr)
        details = getattr(exc, "details", "")
        if details:
            print(details, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "astrum: interrupted; a run in progress is recorded as cancelled (`astrum runs` lists it)",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:  # `astrum runs | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
