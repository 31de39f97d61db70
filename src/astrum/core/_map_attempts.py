"""The attempts of one instance of a mapped task: retries, per-attempt timeouts, threads, executors.

The rules are a task's (`astrum.core._attempts`), applied to an instance: each instance
has its own attempts, its own retries with backoff (pausing without its concurrency slot), its
own timeout, and runs where the task runs (the event loop, a worker thread, a worker process
or a named executor). Its events and attempt rows carry its own name (``embed_chunk[3]``).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from typing import TYPE_CHECKING, Any

from .._errors import TaskTimeoutError
from ..lifecycle._events import task_event
from ._attempts import _in_thread_then_await, _with_timeout, on_executor, retry_delay
from ._process import run_in_process
from ._program import ASYNC, CANCELLED, COMPLETED, FAILED, SYNC, TIMED_OUT, AttemptRow
from ._rates import RateLimiter
from ._threads import Announced

if TYPE_CHECKING:
    from ._mapping import Fanout

__all__ = ["HELD_POOL", "HELD_SEMAPHORE", "HELD_SLOT", "announce", "emit", "instance_attempts"]

# What an instance holds while it runs (bits).
HELD_POOL, HELD_SLOT, HELD_SEMAPHORE = 1, 2, 4


async def instance_attempts(fanout: Fanout, k: int, kwargs: dict[str, Any]) -> Any:
    """Run instance ``k`` under the task's instance policy; its result, or its last error raised."""
    run = fanout.run
    i = fanout.i
    rec = fanout.rec
    name = rec.name(k)
    policy = fanout.policy
    retry = policy.retry if policy is not None else None
    max_attempts = (policy.retries if policy is not None else 0) + 1
    log: list[AttemptRow] = rec.attempts.setdefault(k, [])
    context_params = run.program.context_params
    params = context_params[i] if context_params is not None else ()
    announced = fanout.kind == SYNC and (
        policy is None or (policy.isolation != "process" and policy.submit is None)
    )
    waited = 0.0
    for attempt in range(1, max_attempts + 1):
        started = run._now()
        for param in params:
            kwargs[param] = run.context.for_task(run.run_id, name, attempt, run.time_remaining, run.stopping)
        fn = fanout.fn
        if run.bus is not None:
            if run._task_context is not None:
                _enter_context(fanout, name, attempt)
            if announced:  # a worker thread announces the start when it takes the job
                fanout.start_due[k] = attempt
                assert run._loop is not None
                fn = Announced(fn, run._loop, functools.partial(announce, fanout), k, attempt)
            else:
                emit(fanout, "task_start", k, attempt)
        try:
            value = await _attempt(fanout, name, fn, kwargs)
        except asyncio.CancelledError as exc:
            fanout.start_due.pop(k, None)  # a body that never began gets no task_start
            withdrawn = i in run._withdrawn  # set by the thread call just now, on this same step
            run._withdrawn.discard(i)
            task = asyncio.current_task()
            if task is not None and task.cancelling() and fanout.stopped:
                if withdrawn and attempt == 1:
                    rec.began[k] = 0  # no worker took its job: its body never ran
                elif not withdrawn:
                    log.append((started, run._now(), CANCELLED, None, waited))
            else:
                log.append((started, run._now(), FAILED, exc, waited))
            raise
        except Exception as exc:
            ended = run._now()
            log.append(
                (started, ended, TIMED_OUT if isinstance(exc, TaskTimeoutError) else FAILED, exc, waited)
            )
            delay = retry_delay(run, name, attempt, retry, max_attempts, exc, ended)
            if delay is None:
                raise
            waited = delay
            if run.bus is not None:
                emit(fanout, "task_retry", k, attempt, error=exc, delay=waited, start=started, end=ended)
            pool = fanout.spec.pool  # the mapped node itself holds no pool: its instances do
            limiter = run._rates[pool] if run._rates is not None and pool >= 0 else None
            if waited > 0 or (limiter is not None and limiter.delay(run._now())):
                waited += await _pause(fanout, k, waited, limiter)
            if limiter is not None:  # each attempt is a start in a rate-limited pool: it takes a token
                waited += await run._wait_for_token(limiter)  # taken meanwhile by another: rare
                limiter.take(run._now())
            continue
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: recorded, then the run stops
            log.append((started, run._now(), FAILED, exc, waited))
            raise
        log.append((started, run._now(), COMPLETED, None, waited))
        return value
    raise AssertionError("unreachable")  # pragma: no cover


async def _attempt(fanout: Fanout, name: str, fn: Any, kwargs: dict[str, Any]) -> Any:
    """One attempt: where the task runs, bounded by the policy's timeout."""
    run = fanout.run
    args = fanout.args
    policy = fanout.policy
    if policy is not None:
        timeout = policy.timeout
        work: Any = None
        expired: list[bool] | None = None
        if policy.submit is not None:
            return await on_executor(run, name, fn, args, kwargs, policy)
        if policy.isolation == "process":
            work = run_in_process(fn, args, kwargs)
        elif timeout is not None:
            if fanout.kind == ASYNC:
                work = fn(*args, **kwargs)
            else:
                expired = []  # holds True once the timeout fired: only then is the worker thread given up
                work = _in_thread_then_await(run, fanout.i, fn, args, kwargs, expired)
        if work is not None:
            if timeout is None:
                return await work
            return await _with_timeout(run, name, work, timeout, policy.isolation, expired)
    if fanout.kind == ASYNC:
        return await fn(*args, **kwargs)
    value = await run._in_thread(fanout.i, fn, args, kwargs)
    if inspect.isawaitable(value):
        value = await value
    return value


async def _pause(fanout: Fanout, k: int, seconds: float, limiter: RateLimiter | None) -> float:
    """Sleep between attempts, then until ``limiter`` (if any) has a free token, without holding
    a concurrency slot or the run's semaphore; return the seconds slept for the token."""
    run = fanout.run
    semaphore = run.program.semaphore
    fanout.paused[k] = 0  # what it holds meanwhile (its pool slot is kept, as a task keeps its own)
    run._release_slot()
    if semaphore is not None:
        semaphore.release()
    run._pump()  # the freed slot can start a ready task right away
    if seconds > 0:
        await run.program.clock.sleep(seconds)
    paced = await run._wait_for_token(limiter) if limiter is not None else 0.0
    if semaphore is not None:
        await semaphore.acquire()
        fanout.paused[k] = HELD_SEMAPHORE
    await run._acquire_slot()
    del fanout.paused[k]
    return paced


def emit(fanout: Fanout, kind: str, k: int, attempt: int, **fields: Any) -> None:
    """Emit a task event of instance ``k`` (``attempt`` 0: its last attempt)."""
    run = fanout.run
    assert run.bus is not None
    if fanout.start_due and kind != "task_start" and k in fanout.start_due:
        announce(fanout, k, fanout.start_due[k])  # it began, but the worker's word of it is not here yet
    if attempt == 0:
        log = fanout.rec.attempts.get(k)
        attempt = len(log) if log else 1
    wall = run.wall
    start, end = fields.get("start"), fields.get("end")
    run.bus.emit(
        task_event(
            kind,
            run.run_id,
            fanout.rec.name(k),
            attempt,
            wall(run._now()),
            wall(start) if start is not None else None,
            wall(end) if end is not None else None,
            fields.get("error"),
            fields.get("delay", 0.0),
            fields.get("result"),
        )
    )


def announce(fanout: Fanout, k: int, attempt: int) -> None:
    """On the loop: a worker took instance ``k``'s job for ``attempt`` (its start is due once)."""
    if fanout.start_due.get(k) == attempt:
        del fanout.start_due[k]
        emit(fanout, "task_start", k, attempt)


def _enter_context(fanout: Fanout, name: str, attempt: int) -> None:
    """A hook's ``task_context`` as an instance's attempt begins, in the instance's own context."""
    run = fanout.run
    assert run._task_context is not None
    program = run.program
    pool = program.pool_names[fanout.spec.pool] if fanout.spec.pool >= 0 else None
    event = task_event(
        "task_start", run.run_id, name, attempt, run.wall(run._now()), None, None, None, 0.0, None
    )
    run._task_context(event, pool)
