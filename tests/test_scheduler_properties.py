"""Property tests of the engine over random DAGs with random failures and retries.

Every example runs in its own ``asyncio.run`` inside a plain test function: the
tasks append to one event log (start / ok / fail per attempt), and the report
and the log are checked against each other. Further down, astrum is compared
with a one-task-per-node asyncio reference, and no task body may start after
``run()`` has returned.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from astrum import (
    AstrumConfig,
    DynamicScheduler,
    ExecutionReport,
    SchedulerRegistry,
    TaskOrder,
)
from astrum.core import _threads  # the worker pool: its queue shows jobs no worker has taken yet


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


# -- astrum against a one-task-per-node asyncio reference -----------------------------------------
#
# Random DAGs of async and sync tasks, with failures, both failure policies, named pools and
# deadlines, run by astrum and by a plain reference: one asyncio task per node that awaits its
# parents, takes its pool slot, runs its body (a sync body in a thread of its own) and, when the
# run stops, is cancelled. Per the rule both follow, a task whose parents had all completed when
# the run stopped is "cancelled", one whose parents had not is "skipped".
#
# Both run on a virtual clock that moves only when nothing else can happen (no loop callback
# ready, no sync body running, no job waiting for a worker thread), so timings cannot differ:
# async tasks sleep whole ticks plus an offset of their own (no two timers end together), sync
# bodies take no time, and a deadline falls on half a tick. Under failure_policy="cancel" a
# failing task sleeps first, so a failure never races other work of the same instant.

TICK_OFFSET = 2.0**-30  # task i sleeps whole ticks plus TICK_OFFSET * 2**i: every wake-up is unique


class QuietClock:
    """Virtual time that jumps to the next wake-up only once the program is quiet."""

    def __init__(self, busy: Any) -> None:
        self._busy = busy
        self._now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._ticking = False

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        if not self._ticking:
            self._ticking = True
            loop.call_soon(self._tick, loop, 0)
        await future

    def _tick(self, loop: asyncio.AbstractEventLoop, quiet: int) -> None:
        sleepers = self._sleepers
        while sleepers and sleepers[0][2].done():
            heapq.heappop(sleepers)
        if not sleepers:
            self._ticking = False
            return
        if len(loop._ready) or self._busy():  # type: ignore[attr-defined]
            loop.call_later(0.0002, self._tick, loop, 0)
        elif quiet < 3:
            loop.call_later(0.0002, self._tick, loop, quiet + 1)
        else:
            self._now = sleepers[0][0]
            while sleepers and sleepers[0][0] <= self._now:
                future = heapq.heappop(sleepers)[2]
                if not future.done():
                    future.set_result(None)
            loop.call_soon(self._tick, loop, 0)


@dataclass(frozen=True)
class Plan:
    parents: list[list[int]]
    sync: list[bool]
    fails: list[bool]
    ticks: list[int]  # whole ticks an async task sleeps before it returns or raises (0: none)
    pools: list[int]  # pool of each task (-1: none); only roots join pools
    pool_limits: list[int]
    policy: str
    deadline: float | None

    @property
    def size(self) -> int:
        return len(self.parents)

    def delay(self, i: int) -> float:
        return self.ticks[i] + TICK_OFFSET * 2**i if self.ticks[i] else 0.0


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    n = draw(st.integers(1, 10))
    parents = [sorted(draw(st.sets(st.integers(0, i - 1), max_size=3))) if i else [] for i in range(n)]
    policy = draw(st.sampled_from(["cancel", "continue"]))
    sync, fails, ticks = [], [], []
    for _ in range(n):
        fail = draw(st.integers(0, 4)) == 0
        is_sync = draw(st.booleans()) and not (fail and policy == "cancel")
        sync.append(is_sync)
        fails.append(fail)
        if is_sync:
            ticks.append(0)
        else:
            low = 1 if fail and policy == "cancel" else 0
            ticks.append(draw(st.sampled_from([t for t in (0, 0, 1, 2, 3, 40) if t >= low])))
    pool_limits = draw(st.lists(st.integers(1, 2), max_size=2))
    pools = [
        draw(st.integers(-1, len(pool_limits) - 1)) if not parents[i] and pool_limits else -1
        for i in range(n)
    ]
    deadline = draw(st.one_of(st.none(), st.integers(0, 6).map(lambda t: t + 0.5)))
    return Plan(parents, sync, fails, ticks, pools, pool_limits, policy, deadline)


class Bodies:
    """The task bodies of a plan; they record which bodies started."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.clock: QuietClock | None = None
        self.started: list[int] = []
        self.in_sync: list[int] = []  # one entry per sync body running (list ops are atomic)

    def make(self, i: int) -> Any:
        plan = self.plan
        if plan.sync[i]:

            def work() -> str:
                self.in_sync.append(i)
                try:
                    self.started.append(i)
                    if plan.fails[i]:
                        raise Boom(f"t{i}")
                    return f"t{i}"
                finally:
                    self.in_sync.remove(i)

            return work

        async def job() -> str:
            self.started.append(i)
            if plan.ticks[i]:
                assert self.clock is not None
                await self.clock.sleep(plan.delay(i))
            if plan.fails[i]:
                raise Boom(f"t{i}")
            return f"t{i}"

        return job


Outcome = tuple[dict[str, str], dict[str, Any], str, list[int]]  # statuses, results, state, started


def run_with_astrum(plan: Plan) -> Outcome:
    bodies = Bodies(plan)
    queue = _threads.worker_pool()._jobs
    clock = bodies.clock = QuietClock(lambda: bool(bodies.in_sync) or not queue.empty())
    registry = SchedulerRegistry("differential")
    for i in range(plan.size):
        registry.register(
            bodies.make(i),
            f"t{i}",
            depends_on=[f"t{p}" for p in plan.parents[i]],
            pool=f"p{plan.pools[i]}" if plan.pools[i] >= 0 else None,
        )
    config = AstrumConfig(
        failure_policy=plan.policy,
        deadline=plan.deadline,
        clock=clock,
        pools={f"p{k}": limit for k, limit in enumerate(plan.pool_limits)},
    )

    async def main() -> ExecutionReport:
        report = await asyncio.wait_for(registry.run(config=config), 10)
        assert asyncio.all_tasks() == {asyncio.current_task()}, "a task outlived run()"
        return report

    report = asyncio.run(main())
    statuses = {s.task_name: s.status for s in report.task_statistics}
    return statuses, dict(report.results), report.execution_state, sorted(bodies.started)


def run_with_reference(plan: Plan) -> Outcome:
    """One asyncio task per node; the rule for a stopped run applied by hand."""
    bodies = Bodies(plan)
    threads_pending = [0]
    clock = bodies.clock = QuietClock(lambda: threads_pending[0] > 0)
    n = plan.size
    status: list[str | None] = [None] * n
    results: dict[str, Any] = {}

    async def main() -> str:
        loop = asyncio.get_running_loop()
        completed = [loop.create_future() for _ in range(n)]  # True: completed; False: did not
        slots = list(plan.pool_limits)
        waiting: list[deque[asyncio.Future[None]]] = [deque() for _ in plan.pool_limits]
        stopped = [False]
        nodes: list[asyncio.Task[Any]] = []

        async def in_thread(fn: Any) -> Any:
            future: asyncio.Future[Any] = loop.create_future()
            threads_pending[0] += 1

            def target() -> None:
                try:
                    outcome: tuple[bool, Any] = (True, fn())
                except Exception as exc:
                    outcome = (False, exc)
                loop.call_soon_threadsafe(settle, outcome)

            def settle(outcome: tuple[bool, Any]) -> None:
                threads_pending[0] -= 1
                if outcome[0]:
                    future.set_result(outcome[1])
                else:
                    future.set_exception(outcome[1])

            threading.Thread(target=target, daemon=True).start()
            try:
                return await asyncio.shield(future)
            except asyncio.CancelledError:
                await asyncio.wait([future])  # a running sync body is awaited, its outcome discarded
                if not future.cancelled():
                    future.exception()
                raise

        async def acquire(pool: int) -> None:
            if slots[pool] and not waiting[pool]:
                slots[pool] -= 1
                return
            waiter: asyncio.Future[None] = loop.create_future()
            waiting[pool].append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    release(pool)
                raise

        def release(pool: int) -> None:
            while waiting[pool]:
                waiter = waiting[pool].popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the slot passes straight on
                    return
            slots[pool] += 1

        def stop() -> None:
            if stopped[0]:
                return
            stopped[0] = True
            for j, node in enumerate(nodes):
                if status[j] is None:
                    ready = all(completed[p].done() and completed[p].result() for p in plan.parents[j])
                    status[j] = "cancelled" if ready else "skipped"
                    node.cancel()

        async def node(i: int) -> None:
            for p in plan.parents[i]:
                if not await asyncio.shield(completed[p]):  # cancelling this node leaves p's alone
                    status[i] = "skipped"
                    completed[i].set_result(False)
                    return
            pool = plan.pools[i]
            try:
                if pool >= 0:
                    await acquire(pool)
                try:
                    fn = bodies.make(i)
                    value = await (in_thread(fn) if plan.sync[i] else fn())
                finally:
                    if pool >= 0:
                        release(pool)
            except asyncio.CancelledError:
                completed[i].set_result(False)
                raise
            except Boom:
                status[i] = "failed"
                completed[i].set_result(False)
                if plan.policy == "cancel":
                    stop()
                return
            status[i] = "completed"
            results[f"t{i}"] = value
            completed[i].set_result(True)

        async def watchdog(seconds: float) -> None:
            await clock.sleep(seconds)
            stop()

        nodes.extend(loop.create_task(node(i)) for i in range(n))
        guard = loop.create_task(watchdog(plan.deadline)) if plan.deadline is not None else None
        await asyncio.wait(nodes)
        deadline_hit = guard is not None and guard.done()
        if guard is not None:
            guard.cancel()
            await asyncio.wait([guard])
        return "failed" if deadline_hit or "failed" in status else "completed"

    state = asyncio.run(main())
    statuses = {f"t{i}": s or "skipped" for i, s in enumerate(status)}
    return statuses, results, state, sorted(bodies.started)


@given(plans())
@example(  # the recipe of the compatibility rule: a fails at once, its ready sibling b is cancelled
    Plan([[], [], [1]], [False] * 3, [True, False, False], [1, 40, 0], [-1] * 3, [], "cancel", None)
)
@example(  # a deadline while a root waits for its pool: it was ready, so it is cancelled
    Plan([[], [], [1]], [False, True, False], [False] * 3, [40, 0, 0], [0, 0, -1], [1], "cancel", 2.5)
)
@settings(max_examples=60, deadline=None)
def test_astrum_reports_what_a_one_task_per_node_reference_reports(plan: Plan):
    statuses, results, state, started = run_with_astrum(plan)
    expected = run_with_reference(plan)

    assert statuses == expected[0]
    assert results == expected[1]
    assert state == expected[2]
    assert started == expected[3]  # the same bodies ran (each once)
    skipped = {name for name, status in statuses.items() if status == "skipped"}
    assert skipped == {name for name, status in expected[0].items() if status == "skipped"}


# -- no task body starts after run() returns -----------------------------------------------------


@dataclass(frozen=True)
class StopCase:
    parents: list[list[int]]
    sync: list[bool]
    fails: list[bool]
    retries: list[int]
    seconds: list[float]  # how long each body takes (sync: time.sleep; async: asyncio.sleep)
    policy: str
    deadline: float | None
    cancel_after: float | None  # the caller gives up on the run after this many seconds


@st.composite
def stop_cases(draw: st.DrawFn) -> StopCase:
    n = draw(st.integers(1, 12))
    parents = [sorted(draw(st.sets(st.integers(0, i - 1), max_size=2))) if i else [] for i in range(n)]
    return StopCase(
        parents,
        [draw(st.booleans()) for _ in range(n)],
        [draw(st.integers(0, 4)) == 0 for _ in range(n)],
        [draw(st.integers(0, 1)) for _ in range(n)],
        [draw(st.sampled_from([0.0, 0.001, 0.003])) for _ in range(n)],
        draw(st.sampled_from(["cancel", "continue"])),
        draw(st.sampled_from([None, 0.002, 0.006])),
        draw(st.sampled_from([None, None, 0.004])),
    )


@given(stop_cases())
@settings(max_examples=40, deadline=None)
def test_no_task_body_starts_after_run_returns(case: StopCase):
    starts: list[int] = []
    late: list[int] = []
    returned = threading.Event()

    def make(i: int) -> Any:
        def record() -> None:
            starts.append(i)
            if returned.is_set():
                late.append(i)

        if case.sync[i]:

            def work() -> None:
                record()
                time.sleep(case.seconds[i])
                if case.fails[i]:
                    raise Boom(f"t{i}")

            return work

        async def job() -> None:
            record()
            await asyncio.sleep(case.seconds[i])
            if case.fails[i]:
                raise Boom(f"t{i}")

        return job

    registry = SchedulerRegistry("late_starts")
    for i in range(len(case.parents)):
        registry.register(
            make(i), f"t{i}", depends_on=[f"t{p}" for p in case.parents[i]], retry=case.retries[i]
        )
    config = AstrumConfig(failure_policy=case.policy, deadline=case.deadline)

    async def main() -> ExecutionReport | None:
        try:
            report = await asyncio.wait_for(registry.run(config=config), case.cancel_after or 10)
        except TimeoutError:
            report = None
        returned.set()
        assert asyncio.all_tasks() == {asyncio.current_task()}, "a task outlived run()"
        await asyncio.sleep(0.03)  # queued jobs would start now: two workers, bodies of <= 3 ms
        return report

    saved = _threads._pool
    _threads._pool = _threads.WorkerPool(max_workers=2)  # few workers: jobs wait in the queue
    try:
        report = asyncio.run(main())
    finally:
        _threads._pool = saved

    assert late == [], f"bodies started after run() returned: {late}"
    if report is not None:  # each body that ran is an attempt; nothing else is
        attempts = sum(stat.attempt_count for stat in report.task_statistics)
        assert attempts == len(starts)
