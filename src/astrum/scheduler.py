"""Public home of `DynamicScheduler`.

The planner, report, state and model names Astrum 0.1's ``astrum.scheduler``
also exposed stay importable from here.
"""

from typing import TYPE_CHECKING

from ._errors import TaskDuplicateExecutionError as TaskDuplicateExecutionError
from ._errors import TaskNotFoundError as TaskNotFoundError
from .authoring._scheduler import DynamicScheduler as DynamicScheduler
from .authoring._scheduler import TaskCallable as TaskCallable
from .core._graph import TaskOrder as TaskOrder
from .core._states import ExecutionState as ExecutionState
from .core._states import StageStatus as StageStatus
from .report._plan import ExecutionPlanner as ExecutionPlanner
from .report._report import ExecutionReport as ExecutionReport
from .report._report import TaskAttemptStatistics as TaskAttemptStatistics
from .report._report import TaskExecutionStatistics as TaskExecutionStatistics
from .report._report import TaskStageStatistics as TaskStageStatistics

if TYPE_CHECKING:
    from .authoring._taskdata import TaskData as TaskData

__all__ = [
    "DynamicScheduler",
    "ExecutionPlanner",
    "ExecutionReport",
    "ExecutionState",
    "StageStatus",
    "TaskAttemptStatistics",
    "TaskCallable",
    "TaskData",
    "TaskDuplicateExecutionError",
    "TaskExecutionStatistics",
    "TaskNotFoundError",
    "TaskOrder",
    "TaskStageStatistics",
]


def __getattr__(name: str) -> object:
    if name == "TaskData":  # pydantic: loaded on first use
        from .authoring._taskdata import TaskData

        return TaskData
    raise AttributeError(f"module 'astrum.scheduler' has no attribute {name!r}")
