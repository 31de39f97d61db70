"""Running one task under its policy: a result cache, retries with backoff, per-attempt timeouts,
process isolation.

Only tasks with a `TaskPolicy` come here; plain calls never do.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._errors import TaskTimeoutError
from ._policies import Retry, TaskPolicy
from ._process import run_in_process
from ._program import ASYNC, CANCELLED, COMPLETED, FAILED, TIMED_OUT
from ._rates import RateLimiter

if TYPE_CHECKING:
    from ._engine import Run

__all__ = ["run_attempts"]


async def run_attempts(run: Run, i: int, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Run a task under its policy: its cache, timeouts, isolation, retries with backoff."""
    policy = run.program.policies[i]
    assert policy is not None
    if policy.cache is not None:  # served from the run's store, or the attempts below and then stored
        return await policy.cache.serve(
            run, i, args, kwargs, lambda: _attempts(run, i, name, args, kwargs, policy)
        )
    return await _attempts(run, i, name, args, kwargs, policy)


async def _attempts(
    run: Run, i: int, name: str, args: list[Any], kwargs: dict[str, Any], policy: TaskPolicy
) -> Any:
    """Every attempt of a task under its policy, until one completes or the last one fails."""
    retry = policy.retry
    max_attempts = policy.retries + 1
    log = run.attempts.setdefault(i, [])
    waited = 0.0
    context_params = run.program.context_params
    for attempt in range(1, max_attempts + 1):
        started = run._now()
        if context_params is not None and context_params[i]:
            run._inject_context(i, kwargs, attempt)
        if run.bus is not None:
            run._start_event(i, attempt)
        try:
            value = await _attempt(run, i, name, args, kwargs, policy)
        except asyncio.CancelledError as exc:
            run._start_due.pop(i, None)  # a body that never began gets no task_start
            task = asyncio.current_task()
            if task is not None and task.cancelling() and run.stopping():
                if i not in run._withdrawn:  # withdrawn before a worker took it: no attempt ran
                    log.append((started, run._now(), CANCELLED, None, waited))
            else:  # raised by the task itself or cancelled by someone else: failed, never retried
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
                run._task_event("task_retry", i, attempt, error=exc, delay=waited, start=started, end=ended)
            # In a rate-limited pool each attempt is a start and takes a token; the wait for it
            # counts as waited before the attempt, like the backoff.
            limiter = run._limiter_of(i) if run._rates is not None else None
            if waited > 0 or (limiter is not None and limiter.delay(run._now())):
                waited += await _pause_without_slot(run, i, waited, limiter)
            if limiter is not None:
                waited += await run._wait_for_token(limiter)  # taken meanwhile by another task: rare
                limiter.take(run._now())
            continue
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: recorded, then stop the run
            log.append((started, run._now(), FAILED, exc, waited))
            raise
        log.append((started, run._now(), COMPLETED, None, waited))
        return value
    raise AssertionError("unreachable")  # pragma: no cover


def retry_delay(
    run: Run,
    name: str,
    attempt: int,
    retry: Retry | None,
    max_attempts: int,
    exc: BaseException,
    ended: float,
) -> float | None:
    """After ``attempt`` of task (or instance) ``name`` failed with ``exc`` at ``ended``: the
    seconds to wait before the next attempt, or ``None`` when there is none (it was the last, its
    policy does not retry that error, or the next would start after the run deadline). The
    run's error summary gets the line that says which."""
    text = str(exc)  # upstream's lines end with the message alone
    retries = max_attempts - 1
    if attempt == max_attempts:
        if retries:
            run.error_summary.append(
                f"Task '{name}' exhausted {retries} retries after {max_attempts} attempts: {text}"
            )
        return None
    assert retry is not None
    if not retry.retries_error(exc):
        run.error_summary.append(
            f"Task '{name}' attempt {attempt}/{max_attempts} failed with {type(exc).__name__}, "
            f"which its retry policy does not retry (on={tuple(t.__name__ for t in retry.on)}): {text}"
        )
        return None
    delay = retry.delay_before(attempt + 1)
    if run.deadline_at is not None and ended + delay >= run.deadline_at:
        run.error_summary.append(
            f"Task '{name}' attempt {attempt}/{max_attempts} failed; not retried: the next attempt "
            f"would start after the run deadline: {text}"
        )
        return None
    run.error_summary.append(
        f"Task '{name}' attempt {attempt}/{max_attempts} failed; retrying with "
        f"{max_attempts - attempt} retries left: {text}"
    )
    return delay


async def _attempt(
    run: Run, i: int, name: str, args: list[Any], kwargs: dict[str, Any], policy: TaskPolicy
) -> Any:
    """One attempt: in a worker process if isolated, bounded by the policy's timeout."""
    fn = run.program.fns[i]
    timeout = policy.timeout
    expired: list[bool] | None = None
    if policy.submit is not None:
        return await on_executor(run, name, fn, args, kwargs, policy)
    if policy.isolation == "process":
        work = run_in_process(fn, args, kwargs)
    elif timeout is None:
        return await run._call(i, args, kwargs)
    elif run.program.kinds[i] == ASYNC:
        work = fn(*args, **kwargs)
    else:
        expired = []  # holds True once the timeout fired: only then is the worker thread given up
        work = _in_thread_then_await(run, i, fn, args, kwargs, expired)
    if timeout is None:
        return await work
    return await _with_timeout(run, name, work, timeout, policy.isolation, expired)


async def on_executor(
    run: Run, name: str, fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any], policy: TaskPolicy
) -> Any:
    """One attempt on the policy's named executor (cancelling it withdraws a queued job); a process
    worker stops a running job at the attempt's timeout or the run deadline."""
    assert policy.submit is not None
    timeout = policy.timeout
    remaining = run.time_remaining()
    stop_after = remaining if timeout is None else timeout if remaining is None else min(timeout, remaining)
    work = policy.submit(fn, args, kwargs, stop_after)
    if timeout is None:
        return await work
    note = f"its job on executor '{policy.executor}' was cancelled"
    if policy.executor_stops:
        note += " (and stopped in its worker process if it had started)"
    return await _with_timeout(run, name, work, timeout, "executor", None, note)


async def _in_thread_then_await(
    run: Run, i: int, fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any], expired: list[bool]
) -> Any:
    value = await run._in_thread(i, fn, args, kwargs, expired)
    if inspect.isawaitable(value):
        value = await value
    return value


async def _with_timeout(
    run: Run,
    name: str,
    work: Any,
    timeout: float,
    isolation: str,
    expired: list[bool] | None = None,
    executor_note: str | None = None,
) -> Any:
    """Await ``work`` for at most ``timeout`` seconds of the run's clock (``expired`` is told when
    the timeout fires)."""
    loop = run._loop
    assert loop is not None
    job = loop.create_task(work)
    timer = loop.create_task(run.program.clock.sleep(timeout))
    try:
        await asyncio.wait([job, timer], return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        job.cancel()
        timer.cancel()
        await asyncio.wait([job, timer])
        raise
    if job.done():
        timer.cancel()
        return job.result()
    if expired is not None:
        expired.append(True)
    job.cancel()
    await asyncio.wait([job])
    if not job.cancelled():
        job.exception()  # retrieved: the attempt already counts as timed out
    if isolation == "process":
        note = "its worker process was killed"
    elif executor_note is not None:
        note = executor_note
    elif expired is None:  # an async body (a sync one in a thread is told through ``expired``)
        note = "it was cancelled"
    else:
        note = "its worker thread cannot be stopped and runs on; its late result is discarded"
    raise TaskTimeoutError(name, timeout, note)


async def _pause_without_slot(run: Run, i: int, seconds: float, limiter: RateLimiter | None = None) -> float:
    """Sleep between attempts without holding a concurrency slot: ``seconds``, then until
    ``limiter`` (if given) has a free token. Return the seconds slept for the token."""
    semaphore = run.program.semaphore
    run._slotless.add(i)
    run._release_slot()
    if semaphore is not None:
        semaphore.release()
        run._semaphore_released.add(i)
    run._pump()  # the freed slot can start a ready task right away
    if seconds > 0:
        await run.program.clock.sleep(seconds)
    paced = await run._wait_for_token(limiter) if limiter is not None else 0.0
    if semaphore is not None:
        await semaphore.acquire()
        run._semaphore_released.discard(i)
    await run._acquire_slot()
    run._slotless.discard(i)
    return paced
