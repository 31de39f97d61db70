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
