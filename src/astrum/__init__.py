"""astrum: a lightweight, in-process, event-driven async DAG orchestrator."""

from ._errors import AstrumError as AstrumError
from ._errors import SchedulerError as SchedulerError
from ._errors import TaskDependencyError as TaskDependencyError
from ._errors import TaskDuplicateExecutionError as TaskDuplicateExecutionError
from ._errors import TaskNotFoundError as TaskNotFoundError
from ._errors import TaskOrderLoopError as TaskOrderLoopError
from ._errors import TaskOrderNoExitError as TaskOrderNoExitError
from ._errors import TaskRegistrationError as TaskRegistrationError
from ._graph import TaskOrder as TaskOrder
from ._inject import TaskInputError as TaskInputError
from ._plan import ExecutionPlan as ExecutionPlan
from ._plan import ExecutionPlanner as ExecutionPlanner
from ._plan import ExecutionStage as ExecutionStage
from ._report import ExecutionReport as ExecutionReport
from ._report import TaskAttemptStatistics as TaskAttemptStatistics
from ._report import TaskExecutionStatistics as TaskExecutionStatistics
from ._report import TaskStageStatistics as TaskStageStatistics
from ._scheduler import DynamicScheduler as DynamicScheduler
from ._states import ExecutionState as ExecutionState
from ._states import StageStatus as StageStatus
from ._states import TaskStatus as TaskStatus

__version__ = "0.2.0.dev0"

__all__ = [
    "AstrumError",
    "DynamicScheduler",
    "ExecutionPlan",
    "ExecutionPlanner",
    "ExecutionReport",
    "ExecutionStage",
    "ExecutionState",
    "SchedulerError",
    "StageStatus",
    "TaskAttemptStatistics",
    "TaskDependencyError",
    "TaskDuplicateExecutionError",
    "TaskExecutionStatistics",
    "TaskInputError",
    "TaskNotFoundError",
    "TaskOrder",
    "TaskOrderLoopError",
    "TaskOrderNoExitError",
    "TaskRegistrationError",
    "TaskStageStatistics",
    "TaskStatus",
]
