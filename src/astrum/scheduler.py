"""Public home of :class:`DynamicScheduler`."""

from ._errors import TaskDuplicateExecutionError as TaskDuplicateExecutionError
from ._errors import TaskNotFoundError as TaskNotFoundError
from ._scheduler import DynamicScheduler as DynamicScheduler
from ._scheduler import TaskCallable as TaskCallable

__all__ = ["DynamicScheduler", "TaskCallable", "TaskDuplicateExecutionError", "TaskNotFoundError"]
