"""What a mapped task is, and what its instances leave behind.

A mapped task (``@task(map="chunk")``) stays one node of the compiled program; its policy
carries a `MapSpec`. When it runs, each instance (``embed_chunk[3]``) is recorded in
the task's `InstanceRecords`, flat per-instance arrays like the run's own, which the
report, the events and the store read. A failed instance is handed to consumers that ask
for partial results as a `TaskFailure`.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._program import CANCELLED, COMPLETED, NO_RESULT, AttemptRow

if TYPE_CHECKING:
    from ._policies import TaskPolicy

__all__ = ["InstanceRecords", "MapSpec", "TaskFailure", "instance_name"]


@dataclass(frozen=True, slots=True)
class TaskFailure:
    """Stands in for a failed instance of a mapped task in a consumer's partial results.

    A consumer annotated ``Ref[list[Vector | TaskFailure], F("embed_chunk")]`` receives one in
    place of each instance that failed, and runs although the gather failed.

    Attributes:
        task_name: the instance, e.g. ``"embed_chunk[3]"``.
        index: its position in the mapped list.
        error: the exception it failed with (its last attempt's).
        status: ``"failed"``, or ``"timed_out"`` when its last attempt ran out of time.
    """

    task_name: str
    index: int
    error: BaseException
    status: str


@dataclass(frozen=True, slots=True)
class MapSpec:
    """How a mapped task fans out (kept in its `TaskPolicy`).

    Attributes:
        params: the mapped keyword parameters, zipped item by item.
        max_parallel: the most instances of this task running at once (``None``: no own limit).
        instance: each instance's policy (retries, timeout, isolation, executor), ``None``: a plain call.
        pool: index of the named pool every instance takes a slot of (-1: none).
        partial: indices of consumer tasks that accept ``TaskFailure`` items (partial results).
        reuse: instance results a resumed run reuses instead of running them, by item index.
    """

    params: tuple[str, ...]
    max_parallel: int | None = None
    instance: TaskPolicy | None = None
    pool: int = -1
    partial: frozenset[int] = frozenset()
    reuse: Mapping[int, Any] | None = None


def instance_name(task: str, index: int) -> str:
    """``embed_chunk[3]``: how reports, events and stores name an instance."""
    return f"{task}[{index}]"


_ZEROS = (0.0,)


class InstanceRecords:
    """The outcome of each instance of one mapped task in one run (per-instance arrays)."""

    __slots__ = (
        "attempts",
        "began",
        "end_at",
        "exceptions",
        "finished",
        "n",
        "pool_wait",
        "ready_at",
        "retries",
        "reused",
        "start_at",
        "status",
        "task",
        "values",
    )

    def __init__(self, task: str, n: int, ready_at: float, retries: int) -> None:
        self.task = task
        self.n = n
        self.ready_at = ready_at  # every instance is ready when the task fans out
        self.retries = retries
        self.status: list[str | None] = [None] * n
        self.values: list[Any] = [NO_RESULT] * n
        self.start_at = array("d", _ZEROS) * n
        self.end_at = array("d", _ZEROS) * n
        self.began = bytearray(n)
        self.finished: list[int] = []  # in the order instances ended
        self.attempts: dict[int, list[AttemptRow]] = {}
        self.exceptions: dict[int, BaseException] = {}
        self.pool_wait: dict[int, float] = {}
        self.reused: list[int] = []

    def name(self, k: int) -> str:
        return instance_name(self.task, k)

    def cancelled(self, k: int, now: float) -> None:
        """Instance ``k`` was cancelled by the stopping run (once); one that never began gets no attempt."""
        if self.status[k] is not None:
            return
        self.end_at[k] = now
        if not self.began[k]:
            self.start_at[k] = now
        self.status[k] = CANCELLED
        self.finished.append(k)

    def attempt_rows(self, k: int) -> list[AttemptRow] | tuple[AttemptRow, ...]:
        """The attempts of instance ``k``: recorded ones, or the single implied one (none if it never began)."""
        log = self.attempts.get(k)
        if log is not None:
            return log
        status = self.status[k]
        if status is None or not self.began[k]:
            return ()
        return ((self.start_at[k], self.end_at[k], status, self.exceptions.get(k), 0.0),)

    def results(self) -> dict[str, Any]:
        """``{instance name: result}`` of the completed instances, in the order they ended."""
        status, values, task = self.status, self.values, self.task
        return {f"{task}[{k}]": values[k] for k in self.finished if status[k] is COMPLETED}

    def count(self, status: str) -> int:
        return self.status.count(status)
