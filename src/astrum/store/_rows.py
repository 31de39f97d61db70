"""The store's records as SQLite rows and back.

Records become rows on the writer thread; rows become records, and a stored state the state
to show (``interrupted`` for a running run whose process is gone), for the readers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from ..report._report import to_json_safe
from ._base import AttemptRecord, RunRecord, TaskShape
from ._owner import Owner, owner_alive

__all__ = [
    "INSERT_ATTEMPT",
    "INSERT_RUN",
    "INSERT_TASK",
    "RUN_COLUMNS",
    "TASK_COLUMNS",
    "attempt_row",
    "present",
    "run_record",
    "run_row",
    "task_row",
]

RUN_COLUMNS: Final = (
    "run_id, namespace, targets, graph_fingerprint, tasks, config, metadata, start_time, resumed_from, "
    "state, end_time, owner_host, owner_pid, owner_token, reused"
)
TASK_COLUMNS: Final = (
    "task_id, status, start_time, end_time, error_type, error_message, traceback, caused_by, "
    "queued_duration, pool_queued_duration, cache"
)

INSERT_RUN: Final = (
    "INSERT OR IGNORE INTO runs (run_id, namespace, targets, graph_fingerprint, tasks, total, config, "
    "metadata, state, start_time, resumed_from, owner_host, owner_pid, owner_token, reused) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)"
)
INSERT_ATTEMPT: Final = (
    "INSERT OR REPLACE INTO attempts (run_id, task_id, attempt, status, start_time, end_time, error_type, "
    "error_message, traceback, delay_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_TASK: Final = (
    "INSERT OR REPLACE INTO tasks (run_id, task_id, status, start_time, end_time, codec, result, unstorable, "
    "error_type, error_message, traceback, caused_by, queued_duration, pool_queued_duration, cache) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _json(value: Any) -> str:
    return json.dumps(to_json_safe(value), separators=(",", ":"))


# The JSON of the last graph written, by the identity of its mapping: runs of one build share
# it, and a 10,000-task graph takes milliseconds to encode. (A tuple: read and set atomically.)
_last_graph: tuple[Any, str] = (None, "")


def _graph_json(tasks: Mapping[str, TaskShape]) -> str:
    global _last_graph
    known, text = _last_graph
    if known is tasks:
        return text
    shapes = {
        name: [s.fingerprint, [list(i) for i in s.inputs], list(s.depends_on)] for name, s in tasks.items()
    }
    text = json.dumps(shapes, separators=(",", ":"), default=repr)  # strings only: the C encoder
    _last_graph = (tasks, text)
    return text


def run_row(run: RunRecord, owner: Owner) -> tuple[Any, ...]:
    return (
        run.run_id,
        run.namespace,
        None if run.targets is None else _json(list(run.targets)),
        run.graph_fingerprint,
        _graph_json(run.tasks),
        len(run.tasks),
        _json(dict(run.config)),
        _json(dict(run.metadata)),
        run.start_time,
        run.resumed_from,
        owner.host,
        owner.pid,
        owner.token,
        _json(list(run.reused)) if run.reused else None,
    )


def attempt_row(run_id: str, a: AttemptRecord) -> tuple[Any, ...]:
    return (
        run_id, a.task_id, a.attempt, a.status, a.start_time, a.end_time,
        a.error_type, a.error_message, a.traceback, a.delay_before,
    )  # fmt: skip


def task_row(item: tuple[Any, ...]) -> tuple[Any, ...]:
    _, run_id, t, codec, payload, unstorable = item
    return (
        run_id, t.task_id, t.status, t.start_time, t.end_time, codec, payload, unstorable,
        t.error_type, t.error_message, t.traceback, t.caused_by, t.queued_duration, t.pool_queued_duration,
        t.cache,
    )  # fmt: skip


def present(state: str, host: str, pid: int, token: str | None) -> str:
    """A stored ``running`` run whose owning process is gone is ``interrupted``."""
    if state == "running" and not owner_alive(Owner(host, pid, token)):
        return "interrupted"
    return state


def run_record(row: tuple[Any, ...]) -> RunRecord:
    run_id, namespace, targets, fingerprint, tasks, config, metadata, start_time, resumed_from = row[:9]
    shapes = {
        name: TaskShape(fp, tuple((p, s, loc) for p, s, loc in inputs), tuple(deps))
        for name, (fp, inputs, deps) in json.loads(tasks).items()
    }
    return RunRecord(
        run_id=run_id,
        namespace=namespace,
        targets=None if targets is None else tuple(json.loads(targets)),
        graph_fingerprint=fingerprint,
        tasks=shapes,
        config=json.loads(config),
        metadata=json.loads(metadata),
        start_time=start_time,
        resumed_from=resumed_from,
        reused=tuple(json.loads(row[14])) if row[14] else (),
    )
