"""Lifecycle enums shared by the scheduler and its reports."""

from __future__ import annotations

from enum import Enum

__all__ = ["ExecutionState", "StageStatus", "TaskStatus"]


class ExecutionState(str, Enum):
    """Lifecycle of a scheduler run: NONE -> PLANNING -> RUNNING -> COMPLETED | FAILED | CANCELLED."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    PLANNING = "planning"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NONE = "none"


class StageStatus(str, Enum):
    """Status of one stage of the (informational) stage view."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TaskStatus(str, Enum):
    """Final status of one task in a report (``TaskExecutionStatistics.status``).

    ``completed``: returned a value. ``failed``: raised on its last attempt.
    ``cancelled``: was running, or ready to start, when the run stopped.
    ``skipped``: its inputs never became ready, because another task failed
    first (``caused_by`` names it) or the run stopped.
    """

    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
