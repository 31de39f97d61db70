"""Public home of the registry layer: ``task``, namespaces and ``SchedulerRegistry``.

The configuration, scheduler, planner and model names Astrum 0.1's
``astrum.decorators`` also exposed stay importable from here.
"""

from typing import TYPE_CHECKING

from ._config import AstrumConfig as AstrumConfig
from ._errors import TaskRegistrationError as TaskRegistrationError
from ._graph import TaskOrder as TaskOrder
from ._namespaces import active_namespace as active_namespace
from ._namespaces import build_scheduler as build_scheduler
from ._namespaces import build_task_orders as build_task_orders
from ._namespaces import clear_registry as clear_registry
from ._namespaces import get_registry as get_registry
from ._namespaces import run as run
from ._namespaces import task as task
from ._namespaces import use_namespace as use_namespace
from ._plan import ExecutionPlanner as ExecutionPlanner
from ._registry import DEFAULT_NAMESPACE as DEFAULT_NAMESPACE
from ._registry import RegisteredTask as RegisteredTask
from ._registry import SchedulerRegistry as SchedulerRegistry
from ._scheduler import DynamicScheduler as DynamicScheduler

if TYPE_CHECKING:
    from ._autogen import auto_generate_data_transports as auto_generate_data_transports
    from ._taskdata import TaskData as TaskData

__all__ = [
    "DEFAULT_NAMESPACE",
    "AstrumConfig",
    "DynamicScheduler",
    "ExecutionPlanner",
    "RegisteredTask",
    "SchedulerRegistry",
    "TaskData",
    "TaskOrder",
    "TaskRegistrationError",
    "active_namespace",
    "auto_generate_data_transports",
    "build_scheduler",
    "build_task_orders",
    "clear_registry",
    "get_registry",
    "run",
    "task",
    "use_namespace",
]


def __getattr__(name: str) -> object:
    if name in ("TaskData", "auto_generate_data_transports"):  # pydantic: loaded on first use
        from . import data_transport

        return getattr(data_transport, name)
    raise AttributeError(f"module 'astrum.decorators' has no attribute {name!r}")
