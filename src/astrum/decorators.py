"""Public home of the registry layer: ``task``, namespaces and ``SchedulerRegistry``.

The configuration, scheduler, planner and model names Astrum 0.1's
``astrum.decorators`` also exposed stay importable from here.
"""

from typing import TYPE_CHECKING

from ._errors import TaskRegistrationError as TaskRegistrationError
from .authoring._config import AstrumConfig as AstrumConfig
from .authoring._namespaces import active_namespace as active_namespace
from .authoring._namespaces import build_scheduler as build_scheduler
from .authoring._namespaces import build_task_orders as build_task_orders
from .authoring._namespaces import clear_registry as clear_registry
from .authoring._namespaces import get_registry as get_registry
from .authoring._namespaces import run as run
from .authoring._namespaces import task as task
from .authoring._namespaces import use_namespace as use_namespace
from .authoring._registry import DEFAULT_NAMESPACE as DEFAULT_NAMESPACE
from .authoring._registry import RegisteredTask as RegisteredTask
from .authoring._registry import SchedulerRegistry as SchedulerRegistry
from .authoring._scheduler import DynamicScheduler as DynamicScheduler
from .core._graph import TaskOrder as TaskOrder
from .report._plan import ExecutionPlanner as ExecutionPlanner

if TYPE_CHECKING:
    from .authoring._autogen import auto_generate_data_transports as auto_generate_data_transports
    from .authoring._taskdata import TaskData as TaskData

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
