"""astrum: a lightweight, in-process, event-driven async DAG orchestrator."""

import logging as _logging
from typing import TYPE_CHECKING

from . import _build as _build  # the build pipeline, loaded up front so a first run pays no import
from ._config import AstrumConfig as AstrumConfig
from ._context import RunContext as RunContext
from ._errors import AstrumError as AstrumError
from ._errors import ConfigurationError as ConfigurationError
from ._errors import ConfigurationTypeError as ConfigurationTypeError
from ._errors import SchedulerError as SchedulerError
from ._errors import TaskDependencyError as TaskDependencyError
from ._errors import TaskDuplicateExecutionError as TaskDuplicateExecutionError
from ._errors import TaskNotFoundError as TaskNotFoundError
from ._errors import TaskOrderLoopError as TaskOrderLoopError
from ._errors import TaskOrderNoExitError as TaskOrderNoExitError
from ._errors import TaskRegistrationError as TaskRegistrationError
from ._errors import TaskTimeoutError as TaskTimeoutError
from ._events import RunEvent as RunEvent
from ._events import RunHook as RunHook
from ._events import TaskEvent as TaskEvent
from ._events import fn_hook as fn_hook
from ._graph import TaskOrder as TaskOrder
from ._inject import TaskInputError as TaskInputError
from ._namespaces import active_namespace as active_namespace
from ._namespaces import build_scheduler as build_scheduler
from ._namespaces import build_task_orders as build_task_orders
from ._namespaces import clear_registry as clear_registry
from ._namespaces import get_registry as get_registry
from ._namespaces import run as run
from ._namespaces import stream as stream
from ._namespaces import task as task
from ._namespaces import use_namespace as use_namespace
from ._plan import ExecutionPlan as ExecutionPlan
from ._plan import ExecutionPlanner as ExecutionPlanner
from ._plan import ExecutionStage as ExecutionStage
from ._policies import Retry as Retry
from ._process import ProcessTaskError as ProcessTaskError
from ._registry import DEFAULT_NAMESPACE as DEFAULT_NAMESPACE
from ._registry import RegisteredTask as RegisteredTask
from ._registry import SchedulerRegistry as SchedulerRegistry
from ._report import ExecutionReport as ExecutionReport
from ._report import TaskAttemptStatistics as TaskAttemptStatistics
from ._report import TaskExecutionStatistics as TaskExecutionStatistics
from ._report import TaskStageStatistics as TaskStageStatistics
from ._scheduler import DynamicScheduler as DynamicScheduler
from ._states import ExecutionState as ExecutionState
from ._states import StageStatus as StageStatus
from ._states import TaskStatus as TaskStatus
from ._transport import F as F
from ._transport import From as From
from ._transport import Ref as Ref
from ._transport import T as T
from ._transport import To as To

if TYPE_CHECKING:
    from ._taskdata import DataItem as DataItem
    from ._taskdata import DataItemError as DataItemError
    from ._taskdata import DTRela as DTRela
    from ._taskdata import TaskData as TaskData

__version__ = "0.2.0.dev0"

_LAZY = {"DataItem", "DataItemError", "DTRela", "TaskData"}  # pydantic models: loaded on first use


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from . import _taskdata

        return getattr(_taskdata, name)
    raise AttributeError(f"module 'astrum' has no attribute {name!r}")


# Library etiquette: log through "astrum", print nothing unless the application configures logging.
_logging.getLogger("astrum").addHandler(_logging.NullHandler())

__all__ = [
    "DEFAULT_NAMESPACE",
    "AstrumConfig",
    "AstrumError",
    "ConfigurationError",
    "ConfigurationTypeError",
    "DTRela",
    "DataItem",
    "DataItemError",
    "DynamicScheduler",
    "ExecutionPlan",
    "ExecutionPlanner",
    "ExecutionReport",
    "ExecutionStage",
    "ExecutionState",
    "F",
    "From",
    "ProcessTaskError",
    "Ref",
    "RegisteredTask",
    "Retry",
    "RunContext",
    "RunEvent",
    "RunHook",
    "SchedulerError",
    "SchedulerRegistry",
    "StageStatus",
    "T",
    "TaskAttemptStatistics",
    "TaskData",
    "TaskDependencyError",
    "TaskDuplicateExecutionError",
    "TaskEvent",
    "TaskExecutionStatistics",
    "TaskInputError",
    "TaskNotFoundError",
    "TaskOrder",
    "TaskOrderLoopError",
    "TaskOrderNoExitError",
    "TaskRegistrationError",
    "TaskStageStatistics",
    "TaskStatus",
    "TaskTimeoutError",
    "To",
    "active_namespace",
    "build_scheduler",
    "build_task_orders",
    "clear_registry",
    "fn_hook",
    "get_registry",
    "run",
    "stream",
    "task",
    "use_namespace",
]
