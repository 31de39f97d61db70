"""Deterministic benchmark DAGs.

Every generator returns ``(name, deps)`` pairs listed in a topological order
(each task after all of its dependencies), so any system can register them in
list order. Task ``i`` is always named ``t{i}``. Only the standard library is
used: this module is imported by measurement processes running other projects'
virtual environments too.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "LAYER_WIDTH",
    "LONG_SLEEP",
    "SHORT_SLEEP",
    "WORKLOADS",
    "Workload",
    "chain",
    "critical_path",
    "fanout_fanin",
    "hetero",
    "hetero_durations",
    "layered",
    "level_sync_makespan",
    "make_workload",
    "wide",
]

Tasks = list[tuple[str, list[str]]]

#: ``layered``: tasks per layer, parents per task (at most), and the fixed seed.
LAYER_WIDTH = 100
MAX_PARENTS = 3
LAYERED_SEED = 20240601

#: ``hetero``: the two sleep lengths (seconds) and the branch length.
SHORT_SLEEP = 0.010
LONG_SLEEP = 0.100
BRANCH_LENGTH = 4


def _name(i: int) -> str:
    return f"t{i}"


def wide(n: int) -> Tasks:
    """``n`` independent tasks."""
    return [(_name(i), []) for i in range(n)]


def chain(n: int) -> Tasks:
    """``t_i`` depends on ``t_{i-1}``: one path of length ``n``."""
    return [(_name(i), [_name(i - 1)] if i else []) for i in range(n)]


def layered(n: int, *, width: int = LAYER_WIDTH, seed: int = LAYERED_SEED) -> Tasks:
    """Layers of ``width`` tasks; each task past layer 0 has 1..3 random parents in the previous layer."""
    rng = random.Random(seed)
    tasks: Tasks = []
    previous: list[str] = []
    for start in range(0, n, width):
        layer = [_name(i) for i in range(start, min(start + width, n))]
        for name in layer:
            if previous:
                count = min(rng.randint(1, MAX_PARENTS), len(previous))
                parents = rng.sample(previous, count)
            else:
                parents = []
            tasks.append((name, parents))
        previous = layer
    return tasks


def fanout_fanin(n: int) -> Tasks:
    """One root, ``n - 2`` middle tasks depending on it, one sink depending on all of them."""
    if n < 3:
        raise ValueError("fanout_fanin needs at least 3 tasks")
    root, sink = _name(0), _name(n - 1)
    middle = [_name(i) for i in range(1, n - 1)]
    return [(root, []), *((name, [root]) for name in middle), (sink, middle)]


def hetero(n: int) -> Tasks:
    """Independent branches of 4 chained tasks (the last branch may be shorter)."""
    return [(_name(i), [_name(i - 1)] if i % BRANCH_LENGTH else []) for i in range(n)]


def hetero_durations(n: int) -> dict[str, float]:
    """Sleeps alternate long/short along a branch and are shifted by one in every other branch.

    With two branches ``A: 100, 10, 100, 10`` and ``B: 10, 100, 10, 100`` (ms),
    every level holds a long task, so level-by-level scheduling takes
    4 x 100 = 400 ms while the critical path is 220 ms.
    """
    durations: dict[str, float] = {}
    for i in range(n):
        branch, position = divmod(i, BRANCH_LENGTH)
        durations[_name(i)] = LONG_SLEEP if (branch + position) % 2 == 0 else SHORT_SLEEP
    return durations


@dataclass(frozen=True, slots=True)
class Workload:
    """A benchmark DAG: tasks in topological order, optional per-task sleeps, data passing.

    ``durations`` is ``None`` for no-op workloads; otherwise every task sleeps that
    many seconds. With ``passes_data`` each task receives its (single) parent's
    result where the system supports it (the registry's ``Ref`` annotations).
    """

    name: str
    tasks: Tasks
    durations: dict[str, float] | None = None
    passes_data: bool = False

    @property
    def size(self) -> int:
        return len(self.tasks)

    @property
    def sink(self) -> str:
        return self.tasks[-1][0]


def critical_path(tasks: Tasks, durations: dict[str, float]) -> float:
    """The longest path of sleep durations (the best possible makespan)."""
    finish: dict[str, float] = {}
    for name, deps in tasks:
        finish[name] = durations[name] + max((finish[d] for d in deps), default=0.0)
    return max(finish.values(), default=0.0)


def level_sync_makespan(tasks: Tasks, durations: dict[str, float]) -> float:
    """The makespan of level-by-level scheduling: the sum over levels of the longest task."""
    level: dict[str, int] = {}
    longest: dict[int, float] = {}
    for name, deps in tasks:
        k = 1 + max((level[d] for d in deps), default=-1)
        level[name] = k
        longest[k] = max(longest.get(k, 0.0), durations[name])
    return sum(longest.values())


_GENERATORS: dict[str, Callable[[int], Tasks]] = {
    "wide": wide,
    "chain": chain,
    "layered": layered,
    "fanout_fanin": fanout_fanin,
    "hetero": hetero,
}

#: Workload names in report order.
WORKLOADS: tuple[str, ...] = tuple(_GENERATORS)


def make_workload(name: str, n: int) -> Workload:
    """Build workload ``name`` with ``n`` tasks.

    Raises:
        KeyError: unknown workload name.
        ValueError: ``n`` is too small for the workload.
    """
    tasks = _GENERATORS[name](n)
    durations = hetero_durations(n) if name == "hetero" else None
    return Workload(name=name, tasks=tasks, durations=durations, passes_data=name == "chain")
