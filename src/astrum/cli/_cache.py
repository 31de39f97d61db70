"""``astrum cache list`` and ``astrum cache clear``: the result cache kept in the run store."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..store._sqlite import SQLiteStore
from ._commands import DEFAULT_DB
from ._output import Column, Output
from ._views import command, format_time

__all__ = ["add_cache_commands", "clear", "entries"]


def _open(args: argparse.Namespace) -> tuple[Path, SQLiteStore | None]:
    path = DEFAULT_DB if args.db is None else Path(args.db)
    return path, SQLiteStore(path) if path.exists() else None


def _db_words(args: argparse.Namespace) -> list[str]:
    return [] if args.db is None else ["--db", args.db]


def entries(args: argparse.Namespace, out: Output) -> int:
    """``astrum cache list``: the cached results, newest first."""
    path, store = _open(args)
    if store is None:
        out.line(f"No cache entries: {path} does not exist yet.")
        return 0
    try:
        found = store.cache_entries(args.task)
    finally:
        store.close()
    if not found:
        out.line(f"No cache entries{' of task ' + repr(args.task) if args.task else ''} in {path}.")
        return 0
    rows: list[list[str]] = [
        [entry.task_id, format_time(entry.created), entry.run_id or "", entry.key[:16]] for entry in found
    ]
    out.table([Column("task"), Column("stored"), Column("by run"), Column("key")], rows)
    return 0


def clear(args: argparse.Namespace, out: Output) -> int:
    """``astrum cache clear``: delete the cached results (of one task with ``--task``)."""
    path, store = _open(args)
    if store is None:
        out.line(f"Nothing to clear: {path} does not exist.")
        return 0
    try:
        deleted = store.cache_clear(args.task)
    finally:
        store.close()
    whose = f" of task {args.task!r}" if args.task else ""
    out.line(
        f"Deleted {deleted} cache entr{'y' if deleted == 1 else 'ies'}{whose} from {path}; "
        f"the next run computes them again. List the rest with {command('astrum', 'cache', 'list', *_db_words(args))}."
    )
    return 0


def add_cache_commands(commands: argparse._SubParsersAction, db: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """``astrum cache list|clear [--task ID] [--db PATH]``."""
    cache = commands.add_parser(
        "cache",
        help="list or clear the results cached by @task(cache=...)",
        description="list or clear the results cached by @task(cache=...) in the run store",
    )
    actions = cache.add_subparsers(title="actions", metavar="ACTION", required=True)
    for name, handler, text in (
        ("list", entries, "list the cached results, newest first"),
        ("clear", clear, "delete cached results: every one, or those of --task"),
    ):
        action = actions.add_parser(name, parents=[db], help=text, description=text)
        action.set_defaults(handler=handler)
        action.add_argument("--task", metavar="ID", help="only the entries of this task")
