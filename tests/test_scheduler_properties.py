"""Property tests of the engine over random DAGs with random failures and retries.

Every example runs in its own ``asyncio.run`` inside a plain test function: the
tasks append to one event log (start / ok / fail per attempt), and the report
and the log are checked against each other.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import dataclass
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from astrum import DynamicScheduler, ExecutionReport, TaskOrder


class Boom(Exception):
    """The planned failure of one attempt."""


@dataclass(frozen=True)
class Case:
    parents: list[list[int]]  # parents[i]: indices < i that task i depends on
    retries: list[int]
    failures: list[int]  # task i's first failures[i] attempts raise
    yields: list[int]  # asyncio.sleep(0) calls per attempt before it decides
    order: list[int]  # position of each task in task_order

    @property
    def size(self) -> int:
        return len(self.parents)

    def name(self, i: int) -> str:
        return f"t{i}"

    def finally_fails(self, i: int) -> bool:
        return self.failures[i] > self.retries[i]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    n = draw(st.integers(1, 25))
    parents = [sorted(draw(st.sets(st.integers(0, i - 1), max_size=3))) if i else [] for i in range(n)]
    retries = [draw(st.integers(0, 2)) for _ in range(n)]
    # mostly healthy tasks; some recover by retrying, some fail for good
    failures = [draw(st.one_of(st.just(0), st.just(0), st.integers(0, r + 1))) for r in retries]
    yields = [draw(st.integers(0, 2)) for _ in range(n)]
    order = draw(st.permutations(range(n)))
    return Case(parents, retries, failures, yields, list(order))


def run_case(case: Case) -> tuple[ExecutionReport, list[tuple[str, str, int]]]:
    log: list[tuple[str, str, int]] = []  # (event, task, attempt)
    calls: Counter[str] = Counter()

    def make(i: int):
        name = case.name(i)

        async def body() -> tuple[str, int]:
            calls[name] += 1
            attempt = calls[name]
            log.append(("start", name, attempt))
            for _ in range(case.yields[i]):
                await asyncio.sleep(0)
            if attempt <= case.failures[i]:
                log.append(("fail", name, attempt))
                raise Boom(f"{name} attempt {attempt}")
            log.append(("ok", name, attempt))
            return name, attempt

        return body

    orders = [TaskOrder(case.name(i), [case.name(p) for p in case.parents[i]]) for i in range(case.size)]
    scheduler = DynamicScheduler(
        [(case.name(i), make(i)) for i in range(case.size)],
        [orders[i] for i in case.order],
        task_retries={case.name(i): r for i, r in enumerate(case.retries) if r},
    )

    async def main() -> ExecutionReport:
        report = await asyncio.wait_for(scheduler.execute(), 10)
        assert asyncio.all_tasks() == {asyncio.current_task()}, "a task outlived execute()"
        return report

    return asyncio.run(main()), log


@given(cases())
@example(  # three roots launched together; the middle one fails before the third has begun (cancelled)
    Case(parents=[[], [], []], retries=[0, 0, 0], failures=[0, 1, 0], yields=[0, 0, 0], order=[0, 1, 2])
)
@settings(max_examples=150, deadline=None)
def test_random_dags_with_failures_and_retries_keep_the_engine_invariants(case: Case):
    report, log = run_case(case)
    names = [case.name(i) for i in range(case.size)]
    index = {name: i for i, name in enumerate(names)}
    retries = {case.name(i): r for i, r in enumerate(case.retries)}

    # each body runs at most 1 + retries times
    starts = Counter(name for event, name, _ in log if event == "start")
    for name in names:
        assert starts[name] <= 1 + retries[name]

    # no task starts before all its dependencies completed
    completed_at: dict[str, int] = {}
    for seq, (event, name, _) in enumerate(log):
        if event == "start":
            for p in case.parents[index[name]]:
                assert case.name(p) in completed_at, f"{name} started before {case.name(p)} completed"
                assert completed_at[case.name(p)] < seq
        elif event == "ok":
            completed_at[name] = seq

    # nothing new starts after the first final failure
    final = [
        seq
        for seq, (event, name, attempt) in enumerate(log)
        if event == "fail" and attempt == 1 + retries[name]
    ]
    first_final = final[0] if final else None
    if first_final is not None:
        late = [entry for entry in log[first_final + 1 :] if entry[0] == "start"]
        assert late == [], f"started after the final failure of {log[first_final][1]}: {late}"

    # every task appears exactly once in task_statistics
    stats = report.task_statistics
    assert sorted(s.task_name for s in stats) == sorted(names)
    status = {s.task_name: s.status for s in stats}

    # status counts add up
    counts = Counter(status.values())
    assert set(counts) <= {"completed", "failed", "cancelled", "skipped"}
    assert sum(counts.values()) == case.size == report.total_tasks
    assert report.successful_tasks == counts["completed"]
    assert report.failed_tasks == counts["failed"]

    # the run fails exactly when some task fails for good
    assert (first_final is not None) == any(case.finally_fails(i) for i in range(case.size))
    if first_final is None:
        assert report.execution_state == "completed"
        assert counts["completed"] == case.size
        assert report.exceptions == {}
    else:
        culprit = log[first_final][1]
        assert report.execution_state == "failed"
        assert report.error_summary[0].startswith(
            f"Execution interrupted; task '{culprit}' failed: {culprit} attempt"
        )

    # each status agrees with what the task's body did
    ended_ok = {name for event, name, _ in log if event == "ok"}
    for stat in stats:
        name = stat.task_name
        i = index[name]
        if stat.status == "completed":
            assert starts[name] == case.failures[i] + 1
            assert report.results[name] == (name, starts[name])
            assert stat.attempt_count == starts[name]
            assert stat.caused_by is None
        elif stat.status == "failed":
            assert case.finally_fails(i)
            assert starts[name] == 1 + retries[name]
            assert isinstance(stat.exception, Boom)
            assert report.exceptions[name] is stat.exception
            assert stat.attempt_count == starts[name]
            assert [a.status for a in stat.attempt_statistics] == ["failed"] * starts[name]
        elif stat.status == "cancelled":
            # running when the run stopped, or ready to start (then its body never ran)
            assert name not in ended_ok
            assert all(case.name(p) in ended_ok for p in case.parents[i])
            assert stat.attempt_count == starts[name]
            assert stat.caused_by == log[first_final][1]  # type: ignore[index]
        else:
            assert starts[name] == 0
            assert stat.attempt_count == 0
            assert not all(case.name(p) in ended_ok for p in case.parents[i])  # it never became ready
            assert stat.caused_by == log[first_final][1]  # type: ignore[index]
        assert name not in report.results or stat.status == "completed"


@given(cases())
@settings(max_examples=40, deadline=None)
def test_random_dags_without_failures_complete_in_dependency_order(case: Case):
    healthy = Case(case.parents, case.retries, [0] * case.size, case.yields, case.order)
    report, _ = run_case(healthy)
    assert report.execution_state == "completed"
    assert report.error_summary == []
    assert report.results == {healthy.name(i): (healthy.name(i), 1) for i in range(healthy.size)}
    path = report.critical_path
    assert path, "a completed run has a critical path"
    # the critical path is a dependency chain ending at a task that finished last
    for earlier, later in itertools.pairwise(path):
        assert int(earlier[1:]) in healthy.parents[int(later[1:])]
    assert not healthy.parents[int(path[0][1:])]
    ends: dict[str, Any] = {s.task_name: s.end_time for s in report.task_statistics}
    assert ends[path[-1]] == max(ends.values())
