"""Graph validation: task orders, duplicates, unknown dependencies, cycles, huge graphs."""

from __future__ import annotations

import itertools
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import astrum
from astrum import (
    ExecutionPlanner,
    SchedulerError,
    TaskDependencyError,
    TaskOrder,
    TaskOrderLoopError,
    TaskOrderNoExitError,
)
from astrum.core._graph import compile_graph, dependency_name

# -- TaskOrder ------------------------------------------------------------------------------


def test_depend_property_reads_and_replaces_the_first_dependency():
    a = TaskOrder("a")
    b = TaskOrder("b", dependencies=[a, "x"])
    assert b.depend is a
    assert TaskOrder("c").depend is None

    b.depend = "z"
    assert b.dependencies == ["z"]
    b.depend = None
    assert b.dependencies == []


def test_dependencies_may_mix_task_orders_and_names():
    a = TaskOrder("a")
    c = TaskOrder("c", dependencies=[a, "b"])
    assert c.dependency_names() == ["a", "b"]
    assert dependency_name(a) == "a"
    assert dependency_name("b") == "b"


def test_task_orders_do_not_share_a_default_dependency_list():
    first, second = TaskOrder("a"), TaskOrder("b")
    first.dependencies.append("x")
    assert second.dependencies == []


# -- compile_graph ---------------------------------------------------------------------------


def test_graph_keeps_parents_and_children_in_declaration_order():
    graph = compile_graph([("c", ["b", "a"]), ("a", []), ("b", ["a"])])
    assert graph.names == ("c", "a", "b")
    assert graph.index == {"c": 0, "a": 1, "b": 2}
    assert graph.parents == ((2, 1), (), (1,))
    assert graph.children == ((), (0, 2), (0,))
    assert graph.roots() == [1]
    assert graph.edge_count == 3
    assert len(graph) == 3


def test_levels_are_the_longest_dependency_chain_above_each_task():
    # a -> b -> c and a -> c: c sits below b, not next to it
    graph = compile_graph([("a", []), ("b", ["a"]), ("c", ["a", "b"]), ("x", [])])
    assert list(graph.levels) == [0, 1, 2, 0]


def test_a_repeated_dependency_counts_once():
    graph = compile_graph([("a", []), ("b", ["a", "a"])])
    assert graph.parents[1] == (0,)
    assert graph.children[0] == (1,)
    assert graph.edge_count == 1


def test_a_listing_in_dependency_order_is_its_own_topological_order():
    graph = compile_graph([("a", []), ("b", ["a"]), ("c", ["a", "b"])])
    assert list(graph.topo) == [0, 1, 2]
    assert graph.parents == ((), (0,), (0, 1))


def test_dependencies_listed_after_their_task_resolve_in_declaration_order():
    graph = compile_graph([("c", ["b", "a", "b"]), ("a", []), ("b", ["a"])])
    assert graph.parents == ((2, 1), (), (1,))
    assert list(graph.topo) == [1, 2, 0]
    assert list(graph.levels) == [2, 0, 1]


def test_unknown_dependencies_are_listed_in_task_then_declaration_order():
    entries = [("a", ["b", "ghost"]), ("b", []), ("c", ["b", "phantom", "a", "spook"])]
    with pytest.raises(TaskDependencyError) as info:
        compile_graph(entries)
    assert "['a -> ghost', 'c -> phantom', 'c -> spook']" in str(info.value)


def test_duplicate_task_names_are_rejected_with_their_sorted_names():
    orders = [TaskOrder("b"), TaskOrder("a"), TaskOrder("b"), TaskOrder("a"), TaskOrder("c")]
    with pytest.raises(TaskDependencyError) as info:
        ExecutionPlanner(orders).validate()
    assert "Duplicate task names in task_order: ['a', 'b']" in str(info.value)


def test_unknown_dependencies_are_rejected_listing_every_missing_edge():
    orders = [TaskOrder("a", ["ghost"]), TaskOrder("b", ["a", "phantom"])]
    with pytest.raises(TaskDependencyError) as info:
        ExecutionPlanner(orders).validate()
    assert "Task dependencies are not present in task_order: ['a -> ghost', 'b -> phantom']" in str(
        info.value
    )


def test_a_dependency_given_as_an_unlisted_task_order_is_unknown():
    stray = TaskOrder("stray")
    with pytest.raises(TaskDependencyError, match="a -> stray"):
        ExecutionPlanner([TaskOrder("a", [stray])]).validate()


def test_two_task_cycle_is_reported_with_the_cycle_path():
    a = TaskOrder("a", ["b"])
    b = TaskOrder("b", ["a"])
    with pytest.raises(TaskOrderLoopError) as info:
        ExecutionPlanner([a, b]).validate()
    err = info.value
    assert str(err) == "Cycle detected: a -> b -> a"
    assert err.cycle == ["a", "b", "a"]
    assert err.errors == ["Cycle detected: a -> b -> a"]


def test_a_task_depending_on_itself_is_a_cycle():
    with pytest.raises(TaskOrderLoopError) as info:
        ExecutionPlanner([TaskOrder("root"), TaskOrder("a", ["a"])]).validate()
    assert info.value.cycle == ["a", "a"]
    assert "Cycle detected: a -> a" in str(info.value)


def test_the_reported_cycle_leaves_out_tasks_that_only_hang_below_it():
    # d waits for a, which is on the cycle a -> b -> c -> a; d itself is not on it
    orders = [TaskOrder("d", ["a"]), TaskOrder("a", ["b"]), TaskOrder("b", ["c"]), TaskOrder("c", ["a"])]
    with pytest.raises(TaskOrderLoopError) as info:
        ExecutionPlanner(orders).validate()
    cycle = info.value.cycle
    assert cycle[0] == cycle[-1]
    assert sorted(cycle[:-1]) == ["a", "b", "c"]
    assert "d" not in cycle
    # every arrow of the reported path is a real dependency edge
    deps = {o.task_name: o.dependency_names() for o in orders}
    assert all(nxt in deps[cur] for cur, nxt in itertools.pairwise(cycle))


def test_detect_cycle_is_silent_for_a_dag():
    assert ExecutionPlanner([TaskOrder("a"), TaskOrder("b", ["a"])]).detect_cycle() is None


def test_a_100k_task_ring_is_reported_without_recursion():
    n = 100_000
    orders = [TaskOrder(f"t{i}", [f"t{(i + 1) % n}"]) for i in range(n)]
    with pytest.raises(TaskOrderLoopError) as info:
        ExecutionPlanner(orders).validate()
    assert len(info.value.cycle) == n + 1
    assert info.value.cycle[0] == info.value.cycle[-1]


def test_million_task_chain_listed_sink_first_validates_without_recursion():
    n = 1_000_000
    names = [f"t{i}" for i in range(n)]
    # t{i} depends on t{i-1}; listed from the sink t{n-1} down to the root t0
    orders = [TaskOrder(names[i], [names[i - 1]]) for i in range(n - 1, 0, -1)]
    orders.append(TaskOrder(names[0]))
    assert ExecutionPlanner(orders).validate() is None


def test_long_chain_listed_sink_first_gets_a_topological_order_and_levels():
    n = 200_000
    graph = compile_graph((f"t{i}", [f"t{i - 1}"] if i else []) for i in range(n - 1, -1, -1))
    position = {node: k for k, node in enumerate(graph.topo)}
    assert len(position) == n
    assert all(position[p] < position[i] for i in range(n) for p in graph.parents[i])
    assert graph.levels[graph.index["t0"]] == 0
    assert graph.levels[graph.index[f"t{n - 1}"]] == n - 1


def _validation_seconds(orders: list[TaskOrder]) -> float:
    start = time.perf_counter()
    ExecutionPlanner(orders).validate()
    return time.perf_counter() - start


def test_validation_cost_is_linear_in_edges_for_a_wide_fan_in():
    # Same number of tasks and edges: a chain, and one sink depending on every other task.
    n = 30_000
    chain = [TaskOrder(f"t{i}", [f"t{i - 1}"] if i else []) for i in range(n)]
    fan_in = [TaskOrder(f"t{i}") for i in range(n - 1)]
    fan_in.append(TaskOrder("sink", [f"t{i}" for i in range(n - 1)]))
    chain_seconds = min(_validation_seconds(chain) for _ in range(2))
    fan_in_seconds = _validation_seconds(fan_in)
    # O(V + E) means both cost about the same; allow a wide margin for noise.
    assert fan_in_seconds < 0.5 + 10 * chain_seconds, (fan_in_seconds, chain_seconds)


# -- errors -----------------------------------------------------------------------------------


def test_every_graph_error_is_a_scheduler_error():
    for cls in (TaskOrderLoopError, TaskOrderNoExitError, TaskDependencyError):
        assert issubclass(cls, SchedulerError)
    assert astrum.AstrumError is SchedulerError
    assert issubclass(astrum.TaskRegistrationError, ValueError)


def test_loop_error_accepts_a_single_message():
    err = TaskOrderLoopError("Cycle detected: x -> x", cycle=["x", "x"])
    assert err.errors == ["Cycle detected: x -> x"]
    assert str(err) == "Cycle detected: x -> x"
    assert err.cycle == ["x", "x"]


def test_not_found_and_duplicate_errors_name_the_task():
    nf = astrum.TaskNotFoundError("load")
    dup = astrum.TaskDuplicateExecutionError("load")
    assert str(nf) == "Task 'load' not found in task list."
    assert str(dup) == "Task 'load' is already scheduled for execution."
    assert nf.task_name == dup.task_name == "load"


# -- property: any DAG compiles to a consistent graph --------------------------------------------


@st.composite
def dag_entries(draw: st.DrawFn) -> list[tuple[str, list[str]]]:
    n = draw(st.integers(0, 30))
    entries = []
    for i in range(n):
        parents = draw(st.lists(st.integers(0, i - 1), max_size=4)) if i else []
        entries.append((f"n{i}", [f"n{p}" for p in parents]))
    order = draw(st.permutations(range(n)))
    return [entries[k] for k in order]


@given(dag_entries())
@settings(max_examples=100, deadline=None)
def test_any_dag_compiles_to_consistent_parents_children_topo_and_levels(entries):
    graph = compile_graph(entries)
    assert list(graph.names) == [name for name, _ in entries]
    for i, (_, deps) in enumerate(entries):
        assert [graph.names[p] for p in graph.parents[i]] == list(dict.fromkeys(deps))
        for p in graph.parents[i]:
            assert i in graph.children[p]
    assert sum(len(c) for c in graph.children) == graph.edge_count
    position = {node: k for k, node in enumerate(graph.topo)}
    assert sorted(position) == list(range(len(entries)))
    for i, parents in enumerate(graph.parents):
        assert all(position[p] < position[i] for p in parents)
        expected_level = 1 + max(graph.levels[p] for p in parents) if parents else 0
        assert graph.levels[i] == expected_level


@given(dag_entries(), st.data())
@settings(max_examples=60, deadline=None)
def test_adding_a_back_edge_to_any_dag_path_is_reported_as_a_cycle(entries, data):
    graph = compile_graph(entries)
    with_parents = [i for i, p in enumerate(graph.parents) if p]
    if not with_parents:
        return
    # walk up from a task with a dependency, then make the top of the walk depend on the start
    start = data.draw(st.sampled_from(with_parents))
    node = start
    while graph.parents[node]:
        node = data.draw(st.sampled_from(graph.parents[node]))
    top = graph.names[node]
    bad = [(name, [*deps, graph.names[start]] if name == top else deps) for name, deps in entries]
    with pytest.raises(TaskOrderLoopError) as info:
        compile_graph(bad)
    cycle = info.value.cycle
    deps_of = {name: set(deps) for name, deps in bad}
    assert cycle[0] == cycle[-1]
    assert all(nxt in deps_of[cur] for cur, nxt in itertools.pairwise(cycle))
    assert str(info.value) == "Cycle detected: " + " -> ".join(cycle)
