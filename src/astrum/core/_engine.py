"""The event-driven run loop.

A `Run` executes a `Program` once: each task starts the moment its last
dependency completes (no stages, no polling), values live in the run's own
``results`` dict, and the run's outcome is kept in flat per-task arrays from
which the report is built.

Invariants kept by `Run`:

* a task is launched at most once, and only after every dependency completed;
* after the first final failure nothing new is launched; tasks that were ready then
  (waiting for a slot or a pool, or queued for a worker thread) are cancelled without running;
* every launched task either finishes by itself or is cancelled *and awaited*
  before `Run.execute` returns or re-raises.

`Run` is composed of parts that share one ``self`` (declared in
`RunData`), each in a module of its own:

* `_run_launch`: the ready queue and the pump, inline first steps, spares;
* `_run_threads`: the thread lane, thread results, awaited thread calls;
* `_run_slots`: concurrency slots and named pools;
* `_run_outcome`: completion, failure, skip and cancel; stop and deadline;
* `_run_data`: the shared state, the results view and attempt rows.

This module drives the run (`Run.execute`) and runs one task in its asyncio task
(`Run._node`). The hot path reads straight through ``_pump`` (launch),
``_node`` or ``_drain_threads`` (a task's end) and ``_complete`` (outcome), which pumps again.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any

from ..lifecycle._events import RunEvent
from ._attempts import run_attempts
from ._mapping import run_map
from ._program import ASYNC, SYNC, Binder, Program, callable_kind
from ._rates import shared_limiters
from ._run_data import attempt_rows
from ._run_launch import RunLaunch
from ._run_outcome import RunOutcome
from ._run_slots import RunSlots
from ._run_threads import RunThreads
from ._threads import worker_pool

__all__ = ["Binder", "Program", "Run", "attempt_rows", "callable_kind"]


class _InjectionError(Exception):
    """Wraps an error raised while building a task's arguments (never retried)."""

    def __init__(self, original: BaseException) -> None:
        self.original = original


class Run(RunLaunch, RunThreads, RunOutcome, RunSlots):
    """One execution of a `Program`. Use `execute` once."""

    # -- driving -----------------------------------------------------------------------

    async def execute(self) -> None:
        """Run every task; return once all non-tail tasks ended (or the run failed).

        Raises:
            asyncio.CancelledError: the caller cancelled; every task was cancelled and awaited first.
            BaseException: a task raised ``KeyboardInterrupt`` or ``SystemExit``; re-raised after cleanup.
        """
        loop = asyncio.get_running_loop()
        self._loop = loop
        program = self.program
        if program.pool_rates is not None:  # one limiter per rate, shared by the runs on this loop
            self._rates = shared_limiters(loop, program.clock, program.pool_names, program.pool_rates)
        self._pool = worker_pool()
        self._done = loop.create_future()
        self.epoch0 = time.time()
        self.perf0 = self._now()
        roots = self.program.graph.roots()
        for i in roots:
            self.ready_at[i] = self.perf0
        self._ready.extend(roots)
        if self._unfinished <= 0 and not self._tails_to_start:
            self._done.set_result(None)
        if self.bus is not None:
            self.bus.start()
            started = RunEvent(
                "run_start",
                self.run_id,
                self.epoch0,
                total_tasks=len(self.names),
                namespace=self.bus.namespace,
            )
            self.bus.emit(started)
            if self._task_context is not None:
                self._task_context(started, None)
        watchdog = None
        if self.program.deadline is not None:
            self.deadline_at = self.perf0 + self.program.deadline
            watchdog = loop.create_task(self._watch_deadline(self.program.deadline))
        self._pump()
        try:
            if not self._done.done():
                await self._done
            if self._failed:
                await self._stop(include_tails=self.deadline_hit)
        except asyncio.CancelledError:
            await self._stop_despite_cancellation()
            self.perf_end = self._now()
            raise
        finally:
            if watchdog is not None:
                watchdog.cancel()
                await asyncio.wait([watchdog])
            if self._rate_timers:
                await self._stop_rate_timers()
            spares = list(self._retired)
            if self._spare is not None:
                self._spare.dispose()
                spares.append(self._spare)
                self._spare = None
            if spares:
                await asyncio.wait([spare.task for spare in spares])
            self._returned = True
        self.perf_end = self._now()
        if self.fatal is not None:
            raise self.fatal

    # -- one task ------------------------------------------------------------------------

    async def _node(self, i: int) -> Any:
        if self._failed and i not in self.program.tails:
            # Launched together with a task that failed first: never begin (reported cancelled).
            if self.status[i] is None:
                self.end_at[i] = self._now()
                self._cancelled(i)
            self._leave(i)
            return None
        program = self.program
        name = self.names[i]
        semaphore = program.semaphore
        acquired = False
        try:
            if semaphore is not None:
                await semaphore.acquire()
                acquired = True
            try:
                args, kwargs = self._start(i)
                binder = program.binders[i]
                if binder is not None and binder.needs_await:
                    await binder.resolve(args, kwargs)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise _InjectionError(exc) from None
            if program.policies[i] is None:
                if program.context_params is not None and program.context_params[i]:
                    self._inject_context(i, kwargs, 1)
                if self.bus is not None:
                    self._start_event(i, 1)
            policy = program.policies[i]
            if policy is not None:
                if policy.fanout is None:
                    value = await run_attempts(self, i, name, args, kwargs)
                else:
                    value = await run_map(self, i, args, kwargs)  # a mapped task: its instances, gathered
            elif program.kinds[i] == ASYNC:
                value = await program.fns[i](*args, **kwargs)
            else:
                value = await self._call(i, args, kwargs)
        except asyncio.CancelledError as exc:
            self.end_at[i] = self._now()
            task = asyncio.current_task()
            # Cancelled by the run, or (a tail task) by whoever holds it after the run returned.
            if task is not None and task.cancelling() and (self._failed or self._returned):
                self._cancelled(i)  # a cancellation between attempts belongs to the task, not to an attempt
                self._leave(i)
                raise
            # The task raised CancelledError itself, or something other than the run cancelled it:
            # a failure, never a completion.
            self._final_failure(i, name, exc)
            return
        except _InjectionError as wrapped:
            self.end_at[i] = self._now()
            self._final_failure(i, name, wrapped.original)
            return
        except Exception as exc:
            self.end_at[i] = self._now()
            self._final_failure(i, name, exc)
            if i in program.tails:
                raise  # whoever awaits the tail task sees its error
            return None
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: stop the run, re-raise later
            self.end_at[i] = self._now()
            if self.fatal is None:
                self.fatal = exc
            self._final_failure(i, name, exc)
            return
        finally:
            if acquired:
                if self._semaphore_released and i in self._semaphore_released:
                    self._semaphore_released.discard(i)  # ended while pausing without it
                else:
                    semaphore.release()  # type: ignore[union-attr]
        self.end_at[i] = self._now()
        self._complete(i, value)
        return value

    async def _call(self, i: int, args: list[Any], kwargs: dict[str, Any]) -> Any:
        program = self.program
        kind = program.kinds[i]
        fn = program.fns[i]
        if kind == ASYNC:
            return await fn(*args, **kwargs)
        if kind == SYNC:
            value = await self._in_thread(i, fn, args, kwargs)
        else:
            value = fn(*args, **kwargs)
        if inspect.isawaitable(value):
            value = await value
        return value
