"""Public home of the registry layer: ``task``, namespaces and ``SchedulerRegistry``."""

from ._namespaces import active_namespace as active_namespace
from ._namespaces import build_scheduler as build_scheduler
from ._namespaces import build_task_orders as build_task_orders
from ._namespaces import clear_registry as clear_registry
from ._namespaces import get_registry as get_registry
from ._namespaces import run as run
from ._namespaces import task as task
from ._namespaces import use_namespace as use_namespace
from ._registry import DEFAULT_NAMESPACE as DEFAULT_NAMESPACE
from ._registry import RegisteredTask as RegisteredTask
from ._registry import SchedulerRegistry as SchedulerRegistry

__all__ = [
    "DEFAULT_NAMESPACE",
    "RegisteredTask",
    "SchedulerRegistry",
    "active_namespace",
    "build_scheduler",
    "build_task_orders",
    "clear_registry",
    "get_registry",
    "run",
    "task",
    "use_namespace",
]
