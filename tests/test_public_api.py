"""The public surface: every exported name resolves, and Astrum 0.1's names are all there."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import astrum

# Section 0 of the Astrum 0.1 contract: the root __all__ users rely on.
ASTRUM_01_ROOT = {
    "AstrumConfig", "DynamicScheduler", "ExecutionPlanner", "SchedulerRegistry", "RegisteredTask",
    "DEFAULT_NAMESPACE", "task", "use_namespace", "get_registry", "clear_registry", "active_namespace",
    "build_task_orders", "build_scheduler", "run", "Ref", "From", "To", "F", "T", "ExecutionState",
    "StageStatus", "TaskOrder", "ExecutionPlan", "ExecutionStage", "ExecutionReport", "TaskStageStatistics",
    "TaskAttemptStatistics", "TaskExecutionStatistics", "SchedulerError", "TaskOrderLoopError",
    "TaskOrderNoExitError", "TaskDependencyError", "TaskNotFoundError", "TaskDuplicateExecutionError",
    "TaskRegistrationError",
}  # fmt: skip

# Every name Astrum 0.1 users import from a module path of the package: each module's own classes
# and functions and the astrum names it imports (0.1's private helpers of data_transport excepted).
ASTRUM_01_MODULE_NAMES = {
    "config": {"AstrumConfig"},
    "decorators": {
        "task", "SchedulerRegistry", "RegisteredTask", "DEFAULT_NAMESPACE", "use_namespace", "get_registry",
        "clear_registry", "active_namespace", "build_task_orders", "build_scheduler", "run",
        "AstrumConfig", "DynamicScheduler", "ExecutionPlanner", "TaskData", "TaskOrder",
        "TaskRegistrationError", "auto_generate_data_transports",
    },
    "data_transport": {
        "Ref", "From", "To", "F", "T", "TaskData", "DataItem", "DTRela", "DataRef",
        "auto_generate_data_transports", "TaskOrder",
    },
    "models": {
        "TaskOrder", "ExecutionPlan", "ExecutionStage", "ExecutionReport", "TaskStageStatistics",
        "TaskAttemptStatistics", "TaskExecutionStatistics", "ExecutionState", "StageStatus",
        "SchedulerError", "TaskOrderLoopError", "TaskOrderNoExitError", "TaskDependencyError",
        "TaskNotFoundError", "TaskDuplicateExecutionError", "TaskRegistrationError",
    },
    "planner": {
        "ExecutionPlanner", "ExecutionPlan", "ExecutionStage", "TaskOrder", "TaskDependencyError",
        "TaskOrderLoopError", "TaskOrderNoExitError",
    },
    "scheduler": {
        "DynamicScheduler", "TaskCallable", "ExecutionPlanner", "ExecutionReport", "ExecutionState",
        "StageStatus", "TaskAttemptStatistics", "TaskExecutionStatistics", "TaskStageStatistics",
        "TaskData", "TaskOrder", "TaskDuplicateExecutionError", "TaskNotFoundError",
    },
}  # fmt: skip

PUBLIC_MODULES = [
    "config",
    "decorators",
    "data_transport",
    "models",
    "planner",
    "scheduler",
    "viz",
    "testing",
]


def test_every_name_in_all_resolves() -> None:
    missing = [name for name in astrum.__all__ if not hasattr(astrum, name)]
    assert missing == []


def test_astrum_01_root_names_are_all_exported() -> None:
    assert ASTRUM_01_ROOT - set(astrum.__all__) == set()


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_public_modules_export_what_they_declare(module: str) -> None:
    mod = importlib.import_module(f"astrum.{module}")
    declared = getattr(mod, "__all__", [])
    assert declared, f"astrum.{module} declares no __all__"
    assert [name for name in declared if not hasattr(mod, name)] == []


@pytest.mark.parametrize("module", sorted(ASTRUM_01_MODULE_NAMES))
def test_every_name_of_an_astrum_01_module_path_imports_from_that_path(module: str) -> None:
    namespace: dict[str, object] = {}
    for name in sorted(ASTRUM_01_MODULE_NAMES[module]):
        exec(f"from astrum.{module} import {name}", namespace)  # the statement users write
        if hasattr(astrum, name):
            assert namespace[name] is getattr(astrum, name), f"astrum.{module}.{name} is another object"
    assert ASTRUM_01_MODULE_NAMES[module] <= set(importlib.import_module(f"astrum.{module}").__all__)


def test_astrum_decorators_exposes_task_order_and_config_as_astrum_01_did() -> None:
    from astrum.decorators import AstrumConfig, TaskOrder

    assert TaskOrder("a").task_name == "a"
    assert AstrumConfig(concurrency_limit=2).concurrency_limit == 2


def test_importing_astrum_01_module_paths_does_not_load_pydantic() -> None:
    modules = ", ".join(f"astrum.{m}" for m in sorted(ASTRUM_01_MODULE_NAMES))
    code = f"import sys, {modules}\nprint('pydantic' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"]


def test_importing_astrum_does_not_load_pydantic_until_explicit_data_is_used() -> None:
    code = (
        "import sys, astrum\n"
        "before = 'pydantic' in sys.modules\n"
        "astrum.TaskData\n"
        "print(before, 'pydantic' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


def test_the_version_is_the_development_release() -> None:
    assert astrum.__version__ == "0.2.0.dev0"
