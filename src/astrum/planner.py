"""Public home of the stage planner (the stage view is informational; execution is event-driven)."""

from ._errors import TaskDependencyError as TaskDependencyError
from ._errors import TaskOrderLoopError as TaskOrderLoopError
from ._errors import TaskOrderNoExitError as TaskOrderNoExitError
from .core._graph import TaskOrder as TaskOrder
from .report._plan import ExecutionPlan as ExecutionPlan
from .report._plan import ExecutionPlanner as ExecutionPlanner
from .report._plan import ExecutionStage as ExecutionStage

__all__ = [
    "ExecutionPlan",
    "ExecutionPlanner",
    "ExecutionStage",
    "TaskDependencyError",
    "TaskOrder",
    "TaskOrderLoopError",
    "TaskOrderNoExitError",
]
