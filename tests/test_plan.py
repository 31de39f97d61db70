"""The stage view: Astrum's level stages, kept for inspection (execution never waits on them)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astrum import (
    DynamicScheduler,
    ExecutionPlan,
    ExecutionPlanner,
    ExecutionStage,
    TaskDependencyError,
    TaskOrder,
    TaskOrderLoopError,
)
from astrum.report._plan import build_plan, graph_from_orders, stage_parallelism


async def _noop() -> None:
    return None


def _timeline(*orders: TaskOrder) -> ExecutionPlan:
    return ExecutionPlanner(list(orders)).get_execute_timeline()


def test_two_roots_and_a_join_make_two_stages():
    a, b = TaskOrder("a"), TaskOrder("b")
    c = TaskOrder("c", [a, b])
    plan = _timeline(a, b, c)
    assert plan.total_tasks == 3
    assert plan.max_parallelism == 2
    assert len(plan.stages) == 2
    assert plan.stages[0].start_tasks == ["a", "b"]
    assert plan.stages[0].wait_for_tasks == []
    assert plan.stages[1].wait_for_tasks == ["a", "b"]
    assert plan.stages[1].start_tasks == ["c"]
    assert [s.stage_id for s in plan.stages] == [0, 1]


def test_scheduler_timeline_is_the_planner_timeline():
    a, b = TaskOrder("a"), TaskOrder("b")
    c = TaskOrder("c", [a, b])
    scheduler = DynamicScheduler([(n, _noop) for n in "abc"], [a, b, c])
    plan = scheduler.get_execute_timeline()
    assert plan.stages == _timeline(a, b, c).stages
    assert plan.original_tasks == [a, b, c]


def test_a_task_sits_at_the_stage_of_its_longest_dependency_chain():
    # a -> b -> c, and a -> c directly: c can only start after b
    plan = _timeline(TaskOrder("c", ["a", "b"]), TaskOrder("b", ["a"]), TaskOrder("a"))
    assert [s.start_tasks for s in plan.stages] == [["a"], ["b"], ["c"]]
    assert plan.stages[2].wait_for_tasks == ["a", "b"]


def test_start_tasks_keep_task_order_within_a_stage():
    plan = _timeline(
        TaskOrder("z"), TaskOrder("m"), TaskOrder("a"), TaskOrder("k", ["z"]), TaskOrder("b", ["a"])
    )
    assert plan.stages[0].start_tasks == ["z", "m", "a"]
    assert plan.stages[1].start_tasks == ["k", "b"]
    assert plan.stages[1].wait_for_tasks == ["z", "a"]


def test_parallel_tasks_are_unwaited_earlier_tasks_then_this_stages_starts():
    plan = _timeline(TaskOrder("a"), TaskOrder("b", ["a"]), TaskOrder("c", ["b"]), TaskOrder("x"))
    assert plan.stages[0].parallel_tasks == ["a", "x"]
    assert plan.stages[1].parallel_tasks == ["x", "b"]
    assert plan.stages[2].parallel_tasks == ["x", "c"]
    assert plan.max_parallelism == 2


def test_wait_for_tasks_are_unique_even_if_shared_by_several_starts():
    plan = _timeline(TaskOrder("a"), TaskOrder("b", ["a"]), TaskOrder("c", ["a", "a"]))
    assert plan.stages[1].wait_for_tasks == ["a"]
    assert plan.stages[1].start_tasks == ["b", "c"]


def test_an_empty_order_has_no_stages():
    plan = _timeline()
    assert plan.stages == []
    assert plan.total_tasks == 0
    assert plan.max_parallelism == 0
    assert plan.get_visualization_table() == "No execution stages."
    assert plan.get_dependency_graph_info() == "No task dependency information."
    assert stage_parallelism(graph_from_orders([])) == (0, 0)


def test_stages_are_frozen():
    stage = _timeline(TaskOrder("a")).stages[0]
    assert isinstance(stage, ExecutionStage)
    with pytest.raises(AttributeError):
        stage.stage_id = 3  # type: ignore[misc]


def test_visualization_table_lists_each_stage():
    plan = _timeline(TaskOrder("a"), TaskOrder("b"), TaskOrder("c", ["a", "b"]))
    assert plan.get_visualization_table() == (
        "Execution plan (2 stages):\n"
        "- stage 0: start=['a', 'b'], wait=[], parallel=['a', 'b']\n"
        "- stage 1: start=['c'], wait=['a', 'b'], parallel=['c']"
    )


def test_dependency_graph_info_and_full_visualization():
    plan = _timeline(TaskOrder("a"), TaskOrder("b"), TaskOrder("c", ["a", "b"]))
    info = plan.get_dependency_graph_info()
    assert info == "Task dependency graph:\n- a: depends on none\n- b: depends on none\n- c: depends on a, b"
    assert plan.get_full_visualization() == f"{info}\n\n{plan.get_visualization_table()}"


def test_set_original_tasks_copies_the_orders():
    plan = ExecutionPlan(stages=[], total_tasks=0, max_parallelism=0)
    orders = [TaskOrder("a")]
    plan.set_original_tasks(orders)
    orders.append(TaskOrder("b"))
    assert [o.task_name for o in plan.original_tasks] == ["a"]


def test_timeline_reports_a_cycle_even_when_every_task_has_a_dependency():
    # "no entry point" without a cycle is impossible; the precise error is the cycle
    with pytest.raises(TaskOrderLoopError, match="Cycle detected: a -> b -> a"):
        _timeline(TaskOrder("a", ["b"]), TaskOrder("b", ["a"]))


def test_timeline_with_only_unknown_dependencies_reports_them():
    with pytest.raises(TaskDependencyError, match="a -> ghost"):
        _timeline(TaskOrder("a", ["ghost"]))


def test_scheduler_detect_cycle_raises_loop_error():
    scheduler = DynamicScheduler([("a", _noop), ("b", _noop)], [TaskOrder("a", ["b"]), TaskOrder("b", ["a"])])
    with pytest.raises(TaskOrderLoopError):
        scheduler.detect_cycle()


def test_long_chain_listed_sink_first_has_one_stage_per_task():
    n = 20_000
    orders = [TaskOrder(f"t{i}", [f"t{i - 1}"] if i else []) for i in range(n - 1, -1, -1)]
    plan = ExecutionPlanner(orders).get_execute_timeline()
    assert len(plan.stages) == n
    assert plan.max_parallelism == 1
    assert plan.stages[0].start_tasks == ["t0"]
    assert plan.stages[-1].start_tasks == [f"t{n - 1}"]
    assert plan.stages[-1].wait_for_tasks == [f"t{n - 2}"]


_PLAN_SCRIPT = textwrap.dedent(
    """
    from astrum import ExecutionPlanner, TaskOrder

    orders = []
    for i in range(60):
        deps = [f"task_{j}" for j in range(i) if (i * 7 + j * 3) % 11 == 0]
        orders.append(TaskOrder(f"task_{i}", deps))
    plan = ExecutionPlanner(orders).get_execute_timeline()
    print(plan.get_full_visualization())
    print(plan.max_parallelism)
    """
)


def _plan_output(seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-c", _PLAN_SCRIPT], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def test_stage_view_is_the_same_under_any_hash_seed():
    first = _plan_output("0")
    second = _plan_output("4242")
    third = _plan_output("987654321")
    assert "Execution plan (" in first
    assert first == second == third


# -- property: stage view over random DAGs ----------------------------------------------------


@st.composite
def task_orders(draw: st.DrawFn) -> list[TaskOrder]:
    n = draw(st.integers(1, 25))
    orders = []
    for i in range(n):
        parents = draw(st.lists(st.integers(0, i - 1), max_size=4)) if i else []
        orders.append(TaskOrder(f"n{i}", [f"n{p}" for p in parents]))
    return [orders[k] for k in draw(st.permutations(range(n)))]


@given(task_orders())
@settings(max_examples=100, deadline=None)
def test_stage_view_starts_every_task_once_after_its_dependencies(orders):
    plan = ExecutionPlanner(orders).get_execute_timeline()
    deps = {o.task_name: set(o.dependency_names()) for o in orders}
    stage_of: dict[str, int] = {}
    for stage in plan.stages:
        assert stage.start_tasks, "no empty stages"
        for name in stage.start_tasks:
            assert name not in stage_of
            stage_of[name] = stage.stage_id
        expected_wait = list(
            dict.fromkeys(d for name in stage.start_tasks for d in orders_deps(orders, name))
        )
        assert stage.wait_for_tasks == expected_wait
        assert stage.parallel_tasks[-len(stage.start_tasks) :] == stage.start_tasks
    assert sorted(stage_of) == sorted(deps)
    for name, parents in deps.items():
        expected = 1 + max(stage_of[p] for p in parents) if parents else 0
        assert stage_of[name] == expected
    assert plan.total_tasks == len(orders)
    assert plan.max_parallelism == max(len(s.parallel_tasks) for s in plan.stages)
    assert stage_parallelism(graph_from_orders(orders)) == (len(plan.stages), plan.max_parallelism)
    assert build_plan(graph_from_orders(orders)).stages == plan.stages


def orders_deps(orders: list[TaskOrder], name: str) -> list[str]:
    return next(o.dependency_names() for o in orders if o.task_name == name)
