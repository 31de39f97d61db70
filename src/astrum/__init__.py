"""astrum: a lightweight, in-process, event-driven async DAG orchestrator."""

import logging as _logging
from typing import TYPE_CHECKING

from ._errors import AstrumError as AstrumError
from ._errors import CacheKeyError as CacheKeyError
from ._errors import ConfigurationError as ConfigurationError
from ._errors import ConfigurationTypeError as ConfigurationTypeError
from ._errors import MappedInputError as MappedInputError
from ._errors import MappedTaskError as MappedTaskError
from ._errors import ResumeError as ResumeError
from ._errors import RunStoreError as RunStoreError
from ._errors import SchedulerError as SchedulerError
from ._errors import TaskDependencyError as TaskDependencyError
from ._errors import TaskDuplicateExecutionError as TaskDuplicateExecutionError
from ._errors import TaskNotFoundError as TaskNotFoundError
from ._errors import TaskOrderLoopError as TaskOrderLoopError
from ._errors import TaskOrderNoExitError as TaskOrderNoExitError
from ._errors import TaskRegistrationError as TaskRegistrationError
from ._errors import TaskTimeoutError as TaskTimeoutError
from ._errors import UnknownRunError as UnknownRunError
from .authoring import _build as _build  # the build pipeline, loaded up front so a first run pays no import
from .authoring._config import AstrumConfig as AstrumConfig
from .authoring._inject import TaskInputError as TaskInputError
from .authoring._namespaces import active_namespace as active_namespace
from .authoring._namespaces import build_scheduler as build_scheduler
from .authoring._namespaces import build_task_orders as build_task_orders
from .authoring._namespaces import clear_registry as clear_registry
from .authoring._namespaces import get_registry as get_registry
from .authoring._namespaces import resume as resume
from .authoring._namespaces import run as run
from .authoring._namespaces import stream as stream
from .authoring._namespaces import task as task
from .authoring._namespaces import to_mermaid as to_mermaid
from .authoring._namespaces import use_namespace as use_namespace
from .authoring._registry import DEFAULT_NAMESPACE as DEFAULT_NAMESPACE
from .authoring._registry import RegisteredTask as RegisteredTask
from .authoring._registry import SchedulerRegistry as SchedulerRegistry
from .authoring._scheduler import DynamicScheduler as DynamicScheduler
from .authoring._transport import F as F
from .authoring._transport import From as From
from .authoring._transport import Ref as Ref
from .authoring._transport import T as T
from .authoring._transport import To as To
from .core._cache import Cache as Cache
from .core._graph import TaskOrder as TaskOrder
from .core._map_records import TaskFailure as TaskFailure
from .core._policies import Retry as Retry
from .core._process import ProcessTaskError as ProcessTaskError
from .core._states import ExecutionState as ExecutionState
from .core._states import StageStatus as StageStatus
from .core._states import TaskStatus as TaskStatus
from .lifecycle._context import RunContext as RunContext
from .lifecycle._events import RunEvent as RunEvent
from .lifecycle._events import RunHook as RunHook
from .lifecycle._events import TaskEvent as TaskEvent
from .lifecycle._events import fn_hook as fn_hook
from .report._plan import ExecutionPlan as ExecutionPlan
from .report._plan import ExecutionPlanner as ExecutionPlanner
from .report._plan import ExecutionStage as ExecutionStage
from .report._report import ExecutionReport as ExecutionReport
from .report._report import TaskAttemptStatistics as TaskAttemptStatistics
from .report._report import TaskExecutionStatistics as TaskExecutionStatistics
from .report._report import TaskStageStatistics as TaskStageStatistics

if TYPE_CHECKING:
    from .authoring._taskdata import DataItem as DataItem
    from .authoring._taskdata import DataItemError as DataItemError
    from .authoring._taskdata import DTRela as DTRela
    from .authoring._taskdata import TaskData as TaskData
    from .store._base import AttemptRecord as AttemptRecord
    from .store._base import CacheEntry as CacheEntry
    from .store._base import PickleSerializerWarning as PickleSerializerWarning
    from .store._base import RunRecord as RunRecord
    from .store._base import RunStore as RunStore
    from .store._base import RunStoreWarning as RunStoreWarning
    from .store._base import RunSummary as RunSummary
    from .store._base import TaskRecord as TaskRecord
    from .store._base import TaskShape as TaskShape
    from .store._base import UnstorableResultWarning as UnstorableResultWarning
    from .store._memory import MemoryStore as MemoryStore
    from .store._rebuild import StoredTaskError as StoredTaskError
    from .store._sqlite import SQLiteStore as SQLiteStore

__version__ = "0.2.0.dev0"

_LAZY = {"DataItem", "DataItemError", "DTRela", "TaskData"}  # pydantic models: loaded on first use
# The run store (sqlite3 and the result codec): loaded when a store is first named.
_LAZY_STORE = {
    "AttemptRecord": "_base",
    "CacheEntry": "_base",
    "MemoryStore": "_memory",
    "PickleSerializerWarning": "_base",
    "RunRecord": "_base",
    "RunStore": "_base",
    "RunStoreWarning": "_base",
    "RunSummary": "_base",
    "SQLiteStore": "_sqlite",
    "StoredTaskError": "_rebuild",
    "TaskRecord": "_base",
    "TaskShape": "_base",
    "UnstorableResultWarning": "_base",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from .authoring import _taskdata

        return getattr(_taskdata, name)
    module = _LAZY_STORE.get(name)
    if module is not None:
        import importlib

        return getattr(importlib.import_module(f".store.{module}", __name__), name)
    raise AttributeError(f"module 'astrum' has no attribute {name!r}")


# Library etiquette: log through "astrum", print nothing unless the application configures logging.
_logging.getLogger("astrum").addHandler(_logging.NullHandler())

__all__ = [
    "DEFAULT_NAMESPACE",
    "AstrumConfig",
    "AstrumError",
    "AttemptRecord",
    "Cache",
    "CacheEntry",
    "CacheKeyError",
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
    "MappedInputError",
    "MappedTaskError",
    "MemoryStore",
    "PickleSerializerWarning",
    "ProcessTaskError",
    "Ref",
    "RegisteredTask",
    "ResumeError",
    "Retry",
    "RunContext",
    "RunEvent",
    "RunHook",
    "RunRecord",
    "RunStore",
    "RunStoreError",
    "RunStoreWarning",
    "RunSummary",
    "SQLiteStore",
    "SchedulerError",
    "SchedulerRegistry",
    "StageStatus",
    "StoredTaskError",
    "T",
    "TaskAttemptStatistics",
    "TaskData",
    "TaskDependencyError",
    "TaskDuplicateExecutionError",
    "TaskEvent",
    "TaskExecutionStatistics",
    "TaskFailure",
    "TaskInputError",
    "TaskNotFoundError",
    "TaskOrder",
    "TaskOrderLoopError",
    "TaskOrderNoExitError",
    "TaskRecord",
    "TaskRegistrationError",
    "TaskShape",
    "TaskStageStatistics",
    "TaskStatus",
    "TaskTimeoutError",
    "To",
    "UnknownRunError",
    "UnstorableResultWarning",
    "active_namespace",
    "build_scheduler",
    "build_task_orders",
    "clear_registry",
    "fn_hook",
    "get_registry",
    "resume",
    "run",
    "stream",
    "task",
    "to_mermaid",
    "use_namespace",
]
