"""The five commands: ``run``, ``runs``, ``show``, ``resume`` and ``prune``.

Each takes the parsed arguments and an `Output`, and returns the exit status: 0 when
it did what was asked (a run that completed), 1 for a run that did not complete. Mistakes in
the input raise `UsageError` (or an astrum error), which ``main`` turns into one
message and status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import warnings
from pathlib import Path

from .._errors import UnknownRunError
from ..authoring._config import AstrumConfig
from ..store._base import UnstorableResultWarning
from ..store._sqlite import SQLiteStore
from ._app import UsageError, load_registry
from ._output import Output
from ._views import command, print_run, print_runs, print_summary

__all__ = ["DEFAULT_DB", "prune", "resume", "run", "runs", "show"]

#: The CLI's run store, under the current directory.
DEFAULT_DB = Path(".astrum") / "runs.db"


def _db_path(args: argparse.Namespace) -> Path:
    return DEFAULT_DB if args.db is None else Path(args.db)


def _db_words(args: argparse.Namespace) -> list[str]:
    """``--db PATH`` to repeat in the commands printed for the user (none for the default)."""
    return [] if args.db is None else ["--db", args.db]


def _open_existing(args: argparse.Namespace) -> SQLiteStore | None:
    """The store at ``--db``, or ``None`` when the file does not exist (reading never creates it)."""
    path = _db_path(args)
    return SQLiteStore(path) if path.exists() else None


def _no_store(args: argparse.Namespace, run_id: str) -> UsageError:
    return UsageError(
        f"no run '{run_id}': {_db_path(args)} does not exist (`astrum run` records runs there; "
        "--db PATH reads another file)."
    )


def resolve_run_id(store: SQLiteStore, run_id: str) -> str:
    """The full id of the run ``run_id`` names: the id itself, or the unique run id it starts.

    Raises:
        UnknownRunError: no run has that id or an id starting with it.
        UsageError: several runs start with it.
    """
    try:
        store.run(run_id)
        return run_id
    except UnknownRunError:
        pass
    matches = (
        [s.run_id for s in store.runs(limit=sys.maxsize) if s.run_id.startswith(run_id)] if run_id else []
    )
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UnknownRunError(run_id, str(store.path))
    shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
    raise UsageError(f"run id prefix '{run_id}' matches {len(matches)} runs ({shown}); give more of the id.")


def run(args: argparse.Namespace, out: Output) -> int:
    """``astrum run MODULE[:REGISTRY]``: run the registry, recorded in the store."""
    registry = load_registry(args.app)
    store = SQLiteStore(_db_path(args))
    try:
        config = AstrumConfig(progress=True) if args.progress else None
        report = asyncio.run(registry.run(args.target or None, config, store=store))
    finally:
        store.close()
    print_summary(out, report, namespace=registry.name, app=args.app, db=_db_words(args))
    return 0 if report.execution_state == "completed" else 1


def resume(args: argparse.Namespace, out: Output) -> int:
    """``astrum resume RUN_ID --app MODULE[:REGISTRY]``: a new run reusing the completed tasks."""
    store = _open_existing(args)
    if store is None:
        raise _no_store(args, args.run_id)
    try:
        run_id = resolve_run_id(store, args.run_id)
        registry = load_registry(args.app)
        report = asyncio.run(
            registry.resume(run_id, from_tasks=args.from_tasks or None, store=store, allow_changed=args.force)
        )
    finally:
        store.close()
    print_summary(out, report, namespace=registry.name, app=args.app, db=_db_words(args))
    return 0 if report.execution_state == "completed" else 1


def runs(args: argparse.Namespace, out: Output) -> int:
    """``astrum runs``: the recorded runs, newest first."""
    store = _open_existing(args)
    if store is None:
        out.line(f"No runs recorded: {_db_path(args)} does not exist yet.")
        return 0
    try:
        found = store.runs(namespace=args.namespace, state=args.state, limit=args.limit)
    finally:
        store.close()
    if not found:
        filters = [
            f"{name} {value}"
            for name, value in (("namespace", args.namespace), ("state", args.state))
            if value
        ]
        out.line(f"No runs{' with ' + ' and '.join(filters) if filters else ''} in {_db_path(args)}.")
        return 0
    print_runs(out, found)
    return 0


def show(args: argparse.Namespace, out: Output) -> int:
    """``astrum show RUN_ID``: the task table, errors with tracebacks and the critical path."""
    store = _open_existing(args)
    if store is None:
        raise _no_store(args, args.run_id)
    try:
        run_id = resolve_run_id(store, args.run_id)
        record = store.run(run_id)
        with warnings.catch_warnings():  # results are not shown: no need to say which cannot be loaded
            warnings.simplefilter("ignore", UnstorableResultWarning)
            report = store.report(run_id)
    finally:
        store.close()
    if args.gantt:
        out.line(report.to_mermaid_gantt().rstrip("\n"))
    elif args.html:
        out.line(f"Run page of {run_id} written to {report.to_html(args.html)}")
    else:
        print_run(out, record, report, db=_db_words(args))
    return 0


def prune(args: argparse.Namespace, out: Output) -> int:
    """``astrum prune --older-than AGE``: delete finished runs older than AGE."""
    store = _open_existing(args)
    if store is None:
        out.line(f"Nothing to prune: {_db_path(args)} does not exist.")
        return 0
    try:
        deleted = store.prune(older_than=args.older_than)
    finally:
        store.close()
    out.line(
        f"Deleted {deleted} run{'' if deleted == 1 else 's'} older than {args.older_than} "
        f"from {_db_path(args)}; list the rest with {command('astrum', 'runs', *_db_words(args))}."
    )
    return 0
