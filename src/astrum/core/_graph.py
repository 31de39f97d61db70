"""Task orders and the compiled, validated task graph.

``TaskOrder`` is the user-facing description of one task and its dependencies.
`compile_graph` turns a list of them into a `Graph` of integer
indices, checking duplicates, unknown dependencies and cycles in O(V + E)
without recursion, so graphs of millions of tasks listed in any order validate.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from .._errors import TaskDependencyError, TaskOrderLoopError

__all__ = [
    "Graph",
    "TaskOrder",
    "compile_graph",
    "dependency_name",
    "latest_chain",
    "orders_from_graph",
]


@dataclass(eq=True)
class TaskOrder:
    """One task of a manual DAG and the tasks it waits for.

    Args:
        task_name: the task's id; it must match a name given to ``DynamicScheduler(tasks=...)``.
        dependencies: the ``TaskOrder`` objects (or task names) that must complete first.
    """

    task_name: str
    dependencies: list[TaskOrder | str] = field(default_factory=list)

    @property
    def depend(self) -> TaskOrder | str | None:
        """The first dependency, or ``None``."""
        return self.dependencies[0] if self.dependencies else None

    @depend.setter
    def depend(self, value: TaskOrder | str | None) -> None:
        self.dependencies = [] if value is None else [value]

    def dependency_names(self) -> list[str]:
        """The names of this task's dependencies, in declaration order."""
        deps = self.dependencies
        if not deps:
            return []
        return [dep.task_name if isinstance(dep, TaskOrder) else str(dep) for dep in deps]


def order_entries(orders: Iterable[TaskOrder]) -> Iterator[tuple[str, Sequence[str]]]:
    """``(name, dependency names)`` of each order, for `compile_graph`."""
    for order in orders:
        deps = order.dependencies
        if not deps:
            yield order.task_name, ()
        elif len(deps) == 1:  # the common case, without a list
            dep = deps[0]
            yield order.task_name, (dep.task_name if isinstance(dep, TaskOrder) else str(dep),)
        else:
            yield order.task_name, order.dependency_names()


def dependency_name(dep: TaskOrder | str) -> str:
    """The task name a dependency entry refers to."""
    return dep.task_name if isinstance(dep, TaskOrder) else str(dep)


@dataclass(frozen=True, slots=True)
class Graph:
    """An immutable, validated DAG over task indices.

    ``names[i]`` is task *i*; ``parents[i]`` the tasks it waits for (unique, in
    declaration order); ``children[i]`` the tasks waiting for it; ``topo`` a
    topological order; ``levels[i]`` the length of the longest dependency chain
    above task *i* (its stage id).
    """

    names: tuple[str, ...]
    index: dict[str, int]
    parents: tuple[tuple[int, ...], ...]
    children: tuple[tuple[int, ...], ...]
    topo: Sequence[int]
    levels: Sequence[int]

    def __len__(self) -> int:
        return len(self.names)

    @property
    def edge_count(self) -> int:
        return sum(len(p) for p in self.parents)

    def roots(self) -> list[int]:
        """Tasks with no dependencies, in declaration order."""
        return [i for i, p in enumerate(self.parents) if not p]


def compile_graph(entries: Iterable[tuple[str, Sequence[str]]]) -> Graph:
    """Validate ``(name, dependency names)`` pairs and build a `Graph`.

    Raises:
        TaskDependencyError: a name appears twice, or a dependency is not a listed task.
        TaskOrderLoopError: the dependencies form a cycle; the message shows it.
    """
    names: list[str] = []
    index: dict[str, int] = {}
    parents: list[tuple[int, ...]] = []
    duplicates: set[str] = set()
    # Dependencies listed before their task (the usual order) resolve in the same pass, while
    # the name just indexed is still in the CPU cache; the others wait for the whole index.
    later: list[tuple[int, Sequence[str]]] = []
    ordered = True  # every task listed after its dependencies: the listing is a topological order
    for name, deps in entries:
        i = len(names)
        if index.setdefault(name, i) != i:
            duplicates.add(name)
        names.append(name)
        if not deps:
            parents.append(())
        elif len(deps) == 1:
            j = index.get(deps[0])
            if j is None:
                later.append((i, deps))
                parents.append(())
            else:
                parents.append((j,))
                if j == i:
                    ordered = False  # it depends on itself: Kahn's algorithm reports the cycle
        else:
            resolved: dict[int, None] = {}  # ordered and de-duplicated in O(degree)
            for dep in deps:
                j = index.get(dep)
                if j is None:
                    later.append((i, deps))
                    break
                resolved[j] = None
                if j == i:
                    ordered = False
            parents.append(tuple(resolved))
    if duplicates:
        raise TaskDependencyError(
            f"Duplicate task names in task_order: {sorted(duplicates)}. Give every task a unique name."
        )
    if later:
        ordered = False  # a dependency listed after its task (or unknown)
    missing: list[str] = []
    for i, deps in later:
        resolved = {}
        for dep in deps:
            j = index.get(dep)
            if j is None:
                missing.append(f"{names[i]} -> {dep}")
            else:
                resolved[j] = None
        parents[i] = tuple(resolved)
    if missing:
        raise TaskDependencyError(
            f"Task dependencies are not present in task_order: {missing}. "
            "Add the missing tasks to the graph or remove these dependencies."
        )
    return _from_parents(names, index, parents, ordered=ordered)


def _from_parents(
    names: Sequence[str], index: dict[str, int], parents: list[tuple[int, ...]], *, ordered: bool
) -> Graph:
    """Finish a graph from resolved, de-duplicated parent indices: children, order, levels.

    ``ordered`` says every task is listed after its parents (the order is then used as
    it is); otherwise Kahn's algorithm sorts the tasks and reports a cycle.

    Raises:
        TaskOrderLoopError: the dependencies form a cycle.
    """
    n = len(names)
    children = _children(parents, n)

    if ordered:
        topo: Sequence[int] = range(n)
    else:
        indegree = [len(ps) for ps in parents]
        found = [i for i in range(n) if indegree[i] == 0]
        remaining = indegree[:]
        head = 0
        while head < len(found):
            i = found[head]
            head += 1
            for c in children[i]:
                remaining[c] -= 1
                if remaining[c] == 0:
                    found.append(c)
        if len(found) < n:
            cycle = _find_cycle(names, parents, remaining)
            raise TaskOrderLoopError(
                [f"Cycle detected: {' -> '.join(cycle)}"],
                cycle=cycle,
            )
        topo = tuple(found)

    levels = array("q", bytes(8 * n))  # unboxed: a million-task chain needs no million int objects
    for i in topo:
        ps = parents[i]
        if ps:
            levels[i] = 1 + (levels[ps[0]] if len(ps) == 1 else max([levels[p] for p in ps]))
    return Graph(
        names=tuple(names),
        index=index,
        parents=tuple(parents),
        children=children,
        topo=topo,
        levels=levels,
    )


def _children(parents: list[tuple[int, ...]], n: int) -> tuple[tuple[int, ...], ...]:
    """Child tuples in task order, without a list per task (most tasks have at most one child).

    A one-child tuple ``(k,)`` reuses an equal one-parent tuple: a chain keeps one per task.
    """
    first = [-1] * n  # the first child of each task
    more: dict[int, list[int]] = {}  # the other children of tasks with several
    single: list[tuple[int, ...] | None] = [None] * n  # a tuple ``(k,)`` already made, per k
    for i, ps in enumerate(parents):
        if len(ps) == 1:
            single[ps[0]] = ps
        for p in ps:
            if first[p] < 0:
                first[p] = i
            else:
                kids = more.get(p)
                if kids is None:
                    more[p] = [i]
                else:
                    kids.append(i)
    empty: tuple[int, ...] = ()
    if not more:
        return tuple(empty if f < 0 else (single[f] or (f,)) for f in first)
    return tuple(
        empty if f < 0 else ((f, *more[p]) if p in more else (single[f] or (f,))) for p, f in enumerate(first)
    )


def orders_from_graph(graph: Graph) -> list[TaskOrder]:
    """One `TaskOrder` per task of ``graph``, with ``TaskOrder`` objects as dependencies."""
    orders = [TaskOrder(name) for name in graph.names]
    for order, parents in zip(orders, graph.parents, strict=True):
        if parents:
            order.dependencies = [orders[p] for p in parents]
    return orders


def latest_chain(graph: Graph, last: int, end_of: Callable[[int], float]) -> list[str]:
    """The names of the chain ending at task ``last``, each step back to the parent that ended last.

    Started from the task that ended last, this is a run's critical path.
    """
    node = last
    path = [node]
    while graph.parents[node]:
        node = max(graph.parents[node], key=end_of)
        path.append(node)
    path.reverse()
    return [graph.names[i] for i in path]


def _find_cycle(names: Sequence[str], parents: list[tuple[int, ...]], remaining: list[int]) -> list[str]:
    """Walk dependency edges among the tasks Kahn's algorithm could not order.

    Every such task still waits for at least one other such task, so following
    the first waiting parent repeatedly must revisit a task: that loop is a cycle.
    The result reads in dependency direction: ``a -> b`` means *a depends on b*.
    """
    start = next(i for i, r in enumerate(remaining) if r > 0)
    seen: dict[int, int] = {}
    path: list[int] = []
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = next(p for p in parents[node] if remaining[p] > 0)
    loop = [*path[seen[node] :], node]
    return [names[i] for i in loop]
