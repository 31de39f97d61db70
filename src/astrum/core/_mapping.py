"""Running a mapped task: one instance per item, concurrently, gathered in item order.

`run_map` is a mapped task's body: the engine calls it where another task's policy
runs its attempts. It checks the mapped lists, then a `Fanout` starts the instances,
each in an asyncio task of its own. An instance takes its slots as a task does, through the
same counters: a slot of the task's named pool (`_take_pool_slot`,
parked in the pool's queue as a `PoolTicket` while it is full),
then a concurrency slot (`_acquire_slot`) and the run's
semaphore, if any. The mapped task itself gives its own slot up while its instances run. At
most ``max_parallel`` instances (and never more than the run or the pool can run) are in
flight at once, so a map of a million items never holds a million asyncio tasks.

Each instance runs its own attempts (`astrum.core._map_attempts`), emits its own events
and leaves its records in `InstanceRecords`. A failed
instance fails the gather (`MappedTaskError`): at once under
``failure_policy="cancel"`` (the other instances are cancelled), once every instance ended
otherwise. When consumers ask for partial results, `gather_partially` lets them run.
"""

from __future__ import annotations

import asyncio
import math
import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._errors import MappedInputError, MappedTaskError, TaskTimeoutError
from ._map_attempts import HELD_POOL, HELD_SEMAPHORE, HELD_SLOT, emit, instance_attempts
from ._map_records import InstanceRecords, MapSpec, TaskFailure
from ._program import ASYNC, COMPLETED, CONTINUE, FAILED, TIMED_OUT

if TYPE_CHECKING:
    from ._engine import Run

__all__ = ["Fanout", "gather_partially", "run_map"]

_EAGER = sys.version_info >= (3, 12)
_BATCH = 2048  # instances started per loop turn (as the run's own pump does)


async def run_map(run: Run, i: int, args: list[Any], kwargs: dict[str, Any]) -> list[Any]:
    """The body of mapped task ``i``: fan out over its mapped lists, return the results in item order.

    Raises:
        MappedInputError: a mapped parameter received no list, or zipped lists differ in length.
        MappedTaskError: an instance failed (with ``partial`` set when consumers accept partial results).
    """
    policy = run.program.policies[i]
    assert policy is not None
    spec: MapSpec = policy.fanout
    if run.bus is not None:
        run._task_event("task_start", i, 1)
    columns = _columns(run.names[i], spec.params, kwargs)
    n = len(columns[0][1])
    if not n:
        return []
    fanout = Fanout(run, i, spec, args, kwargs, columns, n)
    if run.mapped is None:
        run.mapped = {}
    run.mapped[i] = fanout.rec
    _give_up_slot(run, i)
    fanout.fill()
    run._pump()  # the slot given up may start a ready task
    try:
        if not fanout.ended.done():
            await fanout.ended
    except asyncio.CancelledError:
        await fanout.stop()
        raise
    if fanout.early:
        await fanout.stop()  # failed fast: the other instances are cancelled first
    if fanout.failed:
        raise _gather_error(fanout)
    return list(fanout.rec.values)


def _columns(task: str, params: tuple[str, ...], kwargs: dict[str, Any]) -> list[tuple[str, list[Any]]]:
    """The mapped lists, taken out of ``kwargs`` (what stays there is shared by every instance)."""
    columns: list[tuple[str, list[Any]]] = []
    for param in params:
        value = kwargs.pop(param)
        if type(value) is not list:
            if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
                raise MappedInputError(
                    f"Task '{task}' maps over parameter '{param}', which received {type(value).__name__}, "
                    f"not a list. Feed it a list (or another sequence) of items, or remove '{param}' from map=."
                )
            value = list(value)
        columns.append((param, value))
    if len(columns) > 1:
        lengths = {len(items) for _, items in columns}
        if len(lengths) > 1:
            listed = ", ".join(f"'{param}' has {len(items)}" for param, items in columns)
            raise MappedInputError(
                f"Task '{task}' zips its mapped parameters, but their lists differ in length: {listed} "
                "items. Feed it lists of equal length, or map over one parameter only."
            )
    return columns


def _gather_error(fanout: Fanout) -> MappedTaskError:
    """The gather's failure: every failed instance, and the partial results if consumers take them."""
    rec = fanout.rec
    failures = [
        TaskFailure(rec.name(k), k, rec.exceptions[k], rec.status[k] or FAILED) for k in sorted(fanout.failed)
    ]
    partial = None
    if fanout.spec.partial and not fanout.early:
        partial = list(rec.values)
        for failure in failures:
            partial[failure.index] = failure
    error = MappedTaskError(rec.task, failures, fanout.n, partial)
    error.__cause__ = failures[0].error
    return error


def _give_up_slot(run: Run, i: int) -> None:
    """The mapped task holds no concurrency slot (or semaphore) while its instances run."""
    run._slotless.add(i)
    run._release_slot()
    semaphore = run.program.semaphore
    if semaphore is not None:
        semaphore.release()
        run._semaphore_released.add(i)


class Fanout:
    """The instances of one mapped task in one run: starting them, their slots, their outcomes."""

    __slots__ = (
        "_filling",
        "args",
        "cap",
        "columns",
        "early",
        "ended",
        "fail_fast",
        "failed",
        "fn",
        "i",
        "in_flight",
        "kind",
        "left",
        "n",
        "next",
        "paused",
        "policy",
        "rec",
        "run",
        "shared",
        "simple",
        "spec",
        "start_due",
        "stopped",
        "tasks",
    )

    def __init__(
        self,
        run: Run,
        i: int,
        spec: MapSpec,
        args: list[Any],
        shared: dict[str, Any],
        columns: list[tuple[str, list[Any]]],
        n: int,
    ) -> None:
        program = run.program
        self.run = run
        self.i = i
        self.spec = spec
        self.args = args
        self.shared = shared
        self.columns = columns
        self.n = n
        self.policy = policy = spec.instance
        self.rec = InstanceRecords(run.names[i], n, run._now(), policy.retries if policy is not None else 0)
        self.fn = program.fns[i]
        self.kind = program.kinds[i]
        limit = program.concurrency_limit
        caps = [c for c in (spec.max_parallel, limit) if c is not None]
        if spec.pool >= 0 and program.pool_limits[spec.pool] != math.inf:  # a rate-only pool has no size
            caps.append(int(program.pool_limits[spec.pool]))
        self.cap = min(caps) if caps else n
        context_params = program.context_params
        # An async call with nothing around it: no attempt log, no events, no slots to wait for.
        self.simple = (
            policy is None
            and self.kind == ASYNC
            and run.bus is None
            and limit is None
            and program.semaphore is None
            and spec.pool < 0
            and (context_params is None or not context_params[i])
        )
        children = program.graph.children[i]
        partial_only = bool(children) and all(c in spec.partial for c in children)
        self.fail_fast = program.failure_policy != CONTINUE and not partial_only
        assert run._loop is not None
        self.ended: asyncio.Future[None] = run._loop.create_future()
        self.next = 0  # the next item to start
        self.in_flight = 0
        self.left = n  # instances not ended yet
        self.tasks: dict[int, asyncio.Task[Any]] = {}
        self.failed: list[int] = []
        self.stopped = False
        self.early = False  # failed fast: the rest is cancelled
        self.paused: dict[int, int] = {}  # instance pausing between attempts -> what it holds meanwhile
        self.start_due: dict[int, int] = {}  # sync instance -> attempt whose start a worker announces
        self._filling = False

    # -- starting instances ------------------------------------------------------------------

    def fill(self) -> None:
        """Start instances while fewer than ``cap`` are in flight (at most ``_BATCH`` per loop turn)."""
        if self._filling:
            return
        self._filling = True
        run = self.run
        loop = run._loop
        assert loop is not None
        base = run._base_context
        reuse = self.spec.reuse
        instance = self._instance
        budget = _BATCH
        try:
            while self.next < self.n and self.in_flight < self.cap and not self.stopped and not run._failed:
                if not budget:
                    loop.call_soon(self.fill)
                    break
                budget -= 1
                k = self.next
                self.next = k + 1
                if reuse is not None and k in reuse:
                    self._reused(k, reuse[k])
                    continue
                self.in_flight += 1
                if _EAGER:
                    task = asyncio.Task(  # type: ignore[call-arg]
                        instance(k), loop=loop, eager_start=True, context=base.copy()
                    )
                else:
                    task = asyncio.Task(instance(k), loop=loop, context=base.copy())
                if not task.done():
                    self.tasks[k] = task
        finally:
            self._filling = False
        if not self.left and not self.ended.done():
            self.ended.set_result(None)

    def kwargs(self, k: int) -> dict[str, Any]:
        """Instance ``k``'s keyword arguments: the shared ones and its items."""
        kwargs = self.shared.copy()
        for param, items in self.columns:
            kwargs[param] = items[k]
        return kwargs

    async def _instance(self, k: int) -> None:
        run = self.run
        rec = self.rec
        held = 0
        try:
            if self.simple:
                run._active += 1
                held = HELD_SLOT
                rec.start_at[k] = run._now()
                rec.began[k] = 1
                value = await self.fn(*self.args, **self.kwargs(k))
            else:
                pool = self.spec.pool
                if pool >= 0:
                    wait = await run._wait_pool_slot(pool)
                    held = HELD_POOL
                    if wait is not None:
                        rec.pool_wait[k] = wait
                limit = run.program.concurrency_limit
                if limit is None or run._active < limit:
                    run._active += 1
                else:
                    await run._acquire_slot()
                held |= HELD_SLOT
                semaphore = run.program.semaphore
                if semaphore is not None:
                    await semaphore.acquire()
                    held |= HELD_SEMAPHORE
                rec.start_at[k] = run._now()
                rec.began[k] = 1
                value = await instance_attempts(self, k, self.kwargs(k))
        except asyncio.CancelledError as exc:
            now = run._now()
            task = asyncio.current_task()
            if task is not None and task.cancelling() and self.stopped:
                rec.cancelled(k, now)  # cancelled by the stop, not a failure of its own
            else:
                rec.end_at[k] = now
                self.failure(k, exc)
        except Exception as exc:
            rec.end_at[k] = run._now()
            self.failure(k, exc)
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: the run stops, then re-raises it
            rec.end_at[k] = run._now()
            if run.fatal is None:
                run.fatal = exc
            self.failure(k, exc)
        else:
            rec.end_at[k] = run._now()
            self._success(k, value)
        finally:
            if k in self.paused:  # between attempts it gave its concurrency slot and semaphore up
                held = (held & HELD_POOL) | self.paused.pop(k)
            self._release(held)
            self._ended(k)

    def _release(self, held: int) -> None:
        run = self.run
        if held & HELD_SEMAPHORE:
            run.program.semaphore.release()  # type: ignore[union-attr]
        if held & HELD_SLOT:
            run._release_slot()
        if held & HELD_POOL:
            run._release_pool_slot(self.spec.pool)
        if run._ready:
            run._pump()

    def _ended(self, k: int) -> None:
        self.in_flight -= 1
        self.left -= 1
        if self.tasks:
            self.tasks.pop(k, None)
        if self.stopped:
            return
        if self.next < self.n:
            self.fill()  # one more may start
        elif not self.left and not self.ended.done():
            self.ended.set_result(None)

    # -- outcomes ----------------------------------------------------------------------------

    def _success(self, k: int, value: Any) -> None:
        rec = self.rec
        rec.values[k] = value
        rec.status[k] = COMPLETED
        rec.finished.append(k)
        if self.run.bus is not None:
            emit(self, "task_success", k, 0, start=rec.start_at[k], end=rec.end_at[k], result=value)

    def failure(self, k: int, exc: BaseException) -> None:
        """Instance ``k`` failed for good (its last attempt failed, or its arguments could not be made)."""
        rec = self.rec
        rec.status[k] = TIMED_OUT if isinstance(exc, TaskTimeoutError) else FAILED
        rec.exceptions[k] = exc
        rec.finished.append(k)
        run = self.run
        if run.bus is not None:
            start = rec.start_at[k] if rec.began[k] else None
            emit(self, "task_failure", k, 0, error=exc, start=start, end=rec.end_at[k])
        run.error_summary.append(f"Task '{rec.name(k)}' failed during execution: {exc}")
        self.failed.append(k)
        if (self.fail_fast or run.fatal is not None) and not self.early:
            self.early = True
            if not self.ended.done():
                self.ended.set_result(None)

    def _reused(self, k: int, value: Any) -> None:
        """A resumed run reuses instance ``k``'s stored result."""
        rec = self.rec
        now = self.run._now()
        rec.start_at[k] = rec.end_at[k] = now
        rec.began[k] = 1
        rec.reused.append(k)
        self.left -= 1
        if self.run.bus is not None:
            emit(self, "task_start", k, 1)
        self._success(k, value)

    # -- stopping ----------------------------------------------------------------------------

    async def stop(self) -> None:
        """Cancel every instance in flight and wait for them; those never started are cancelled too."""
        self.stopped = True
        rec = self.rec
        now = self.run._now()
        for k in range(self.next, self.n):
            rec.cancelled(k, now)  # never started: no attempt
        self.next = self.n
        while True:
            pending = [t for t in self.tasks.values() if not t.done()]
            if not pending:
                break
            for task in pending:
                if not task.cancelling():
                    task.cancel()
            try:
                await asyncio.wait(pending)
            except asyncio.CancelledError:
                continue  # cancelled again: the instances still end before the task does
        now = self.run._now()
        for k, status in enumerate(rec.status):
            if status is None:  # its asyncio task was cancelled before its first step: it never began
                rec.cancelled(k, now)


def gather_partially(run: Run, i: int, exc: MappedTaskError) -> bool:
    """Mapped task ``i`` failed, and consumers accept partial results: let the run go on.

    The consumers that accept ``TaskFailure`` items receive the gathered list; the others (and
    what depends on them) are skipped. Returns ``False`` when the failure must stop the run
    as any other would (``failure_policy="cancel"`` and a consumer that takes no partial results).
    """
    program = run.program
    policy = program.policies[i]
    assert policy is not None
    assert exc.partial is not None
    accepting: frozenset[int] = policy.fanout.partial
    children = program.graph.children[i]
    if run.fatal is not None or (
        program.failure_policy != CONTINUE and not all(c in accepting for c in children)
    ):
        return False
    run.values[i] = exc.partial
    if program.failure_policy == CONTINUE:
        if run.first_failure is None:
            run.first_failure = i
    elif run.tail_failure is None:
        run.tail_failure = i  # the run went on: it ends failed, as when only a tail task failed
    tails = program.tails
    cause = run.skip_cause
    stack = [c for c in children if c not in accepting]
    while stack:  # consumers that take no partial results are skipped, with what depends on them
        j = stack.pop()
        if j in cause:
            continue
        cause[j] = i
        if j not in tails:
            run._unfinished -= 1
        else:
            run._tails_to_start -= 1
        stack.extend(program.graph.children[j])
    end = run.end_at[i]
    for child in children:
        if child in accepting:
            run._remaining[child] -= 1
            if run._remaining[child] == 0:
                run._ready.append(child)
                run.ready_at[child] = end
    if i not in tails:
        run._unfinished -= 1
    if run._unfinished <= 0 and not run._tails_to_start:
        done = run._done
        if done is not None and not done.done():
            done.set_result(None)
    run._pump()
    return True
