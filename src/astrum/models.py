"""Public home of astrum's models: task orders, plans, reports, states and errors."""

from ._errors import SchedulerError as SchedulerError
from ._errors import TaskDependencyError as TaskDependencyError
from ._errors import TaskDuplicateExecutionError as TaskDuplicateExecutionError
from ._errors import TaskNotFoundError as TaskNotFoundError
from ._errors import TaskOrderLoopError as TaskOrderLoopError
from ._errors import TaskOrderNoExitError as TaskOrderNoExitError
from ._errors import TaskRegistrationError as TaskRegistrationError
from .core._graph import TaskOrder as TaskOrder
from .core._states import ExecutionState as ExecutionState
from .core._states import StageStatus as StageStatus
from .core._states import TaskStatus as TaskStatus
from .report._plan import ExecutionPlan as ExecutionPlan
from .report._plan import ExecutionStage as ExecutionStage
from .report._report import ExecutionReport as ExecutionReport
from .report._report import TaskAttemptStatistics as TaskAttemptStatistics
from .report._report import TaskExecutionStatistics as TaskExecutionStatistics
from .report._report import TaskStageStatistics as TaskStageStatistics

__all__ = [
    "ExecutionPlan",
    "ExecutionReport",
    "ExecutionStage",
    "ExecutionState",
    "SchedulerError",
    "StageStatus",
    "TaskAttemptStatistics",
    "TaskDependencyError",
    "TaskDuplicateExecutionError",
    "TaskExecutionStatistics",
    "TaskNotFoundError",
    "TaskOrder",
    "TaskOrderLoopError",
    "TaskOrderNoExitError",
    "TaskRegistrationError",
    "TaskStageStatistics",
    "TaskStatus",
]
