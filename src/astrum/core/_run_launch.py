"""Launching ready tasks: the pump, inline first steps and spare tasks.

`RunLaunch._pump` takes ready tasks off the queue, at most ``_LAUNCH_BATCH`` per
loop turn, and starts each the cheapest way it can: a thread-lane sync task goes to a
worker thread, an async task on Python 3.11 runs its first step inline in a spare asyncio
task (see `astrum.core._inline`), any other becomes an asyncio task running
`_node` (eagerly on 3.12+).
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from ._inline import Resumed, Spare, cancel_suspended, enter_task, leave_task
from ._program import CANCELLED, is_fatal
from ._run_data import _EAGER, _LAUNCH_BATCH, RunData

__all__ = ["RunLaunch"]

_BURST = 512  # ready tasks from which a launch burst pauses the cyclic collector


def _consume_tail_outcome(task: asyncio.Future[Any]) -> None:
    """Mark a tail task's exception retrieved: the report or the log tells about it, and
    whoever awaits ``report.tail_tasks[name]`` still gets it."""
    if not task.cancelled():
        task.exception()


class RunLaunch(RunData):
    """The ready queue and the ways a task starts (a part of `Run`)."""

    def _pump(self) -> None:
        """Launch ready tasks (iteratively: eager tasks that finish at once only enqueue).

        At most ``_LAUNCH_BATCH`` tasks start per loop turn; the rest follow on the next
        turn, after the launched ones took their first step, so a million ready no-op tasks
        never exist as a million asyncio tasks at once.
        """
        if self._pumping:
            return
        self._pumping = True
        # A large burst of launches allocates many long-lived task objects at once; the cyclic
        # collector would rescan all of them again and again, so it waits until the burst is done.
        paused = len(self._ready) > _BURST and gc.isenabled()
        if paused:
            gc.disable()
        try:
            ready = self._ready
            limit = self.program.concurrency_limit
            loop = self._loop
            tails = self.program.tails
            threaded = self._threaded_fast
            pools = self.program.pools
            node = self._node
            running = self.running
            budget = self._budget
            inline = self._inline
            current = asyncio.current_task(loop) if inline is not None else None
            base_context = self._base_context  # every task runs in a copy of the caller's context
            suspending = self.program.suspending
            fns = self.program.fns
            while ready and not self._failed:
                if limit is not None and self._active >= limit:
                    break
                if not budget:
                    if not self._pump_scheduled:
                        self._pump_scheduled = True
                        loop.call_soon(self._pump_again)  # type: ignore[union-attr]
                    break
                budget -= 1
                i = ready.popleft()
                if pools is not None and pools[i] >= 0 and not self._take_pool_slot(i, pools[i]):
                    continue  # parked until its pool has a free slot; holds no global slot meanwhile
                self._active += 1
                if threaded[i]:
                    self._launch_in_thread(i)
                    continue
                if (
                    inline is not None
                    and inline[i]
                    and (not suspending or getattr(fns[i], "__code__", None) not in suspending)
                ):
                    self._launch_inline(i, loop, current)  # type: ignore[arg-type]
                    continue
                if _EAGER:
                    task = asyncio.Task(  # type: ignore[call-arg]
                        node(i), loop=loop, eager_start=True, context=base_context.copy()
                    )
                else:
                    task = asyncio.Task(node(i), loop=loop, context=base_context.copy())
                if not task.done():
                    running[i] = task
                if i in tails:
                    self._tail_started(i, task)
            self._budget = budget
        finally:
            self._pumping = False
            if paused:
                gc.enable()

    def _tail_started(self, i: int, task: asyncio.Task[Any]) -> None:
        self.tail_tasks[i] = task
        task.add_done_callback(_consume_tail_outcome)
        self._tails_to_start -= 1
        if not self._tails_to_start and self._unfinished <= 0:
            done = self._done
            if done is not None and not done.done():
                done.set_result(None)

    def _pump_again(self) -> None:
        self._pump_scheduled = False
        self._budget = _LAUNCH_BATCH
        self._pump()

    # -- a task's start ---------------------------------------------------------------------

    def _start(self, i: int) -> tuple[list[Any], dict[str, Any]]:
        """Mark task ``i`` started; return its call arguments (raises what binding raises)."""
        self.start_at[i] = self._now()
        self.began[i] = 1
        binder = self.program.binders[i]
        if binder is None:
            return [], {}
        return binder.bind(self.values)

    def _begin(self, i: int) -> tuple[list[Any], dict[str, Any]] | None:
        """Start task ``i`` outside an asyncio task of its own: its arguments, or ``None`` if
        binding them failed (the task is then reported failed)."""
        try:
            args, kwargs = self._start(i)
        except Exception as exc:
            self.end_at[i] = self._now()
            self._final_failure(i, self.names[i], exc)
            return None
        program = self.program
        context_params = program.context_params
        if context_params is not None and context_params[i]:
            self._inject_context(i, kwargs, 1)
        return args, kwargs

    # -- async tasks whose first step runs inline (Python 3.11) ------------------------------

    def _launch_inline(
        self, i: int, loop: asyncio.AbstractEventLoop, current: asyncio.Task[Any] | None
    ) -> None:
        call = self._begin(i)
        if call is None:
            return
        args, kwargs = call
        if self.bus is not None:
            self._task_event("task_start", i, 1)
        program = self.program
        name = self.names[i]
        spare = self._spare
        if spare is None:
            spare = self._spare = Spare(loop, self._base_context.copy(), self._adopt, self._orphaned)
        try:
            coro = program.fns[i](*args, **kwargs)
            if not hasattr(coro, "send"):  # an awaitable that is not a coroutine
                self._await_in_task(i, coro)
                return
            if current is not None:
                leave_task(loop, current)
            enter_task(loop, spare.task)
            try:
                yielded = spare.context.run(coro.send, None)
            finally:
                leave_task(loop, spare.task)
                if current is not None:
                    enter_task(loop, current)
        except StopIteration as stop:
            self.end_at[i] = self._now()
            self._keep_spare(spare)
            self._complete(i, stop.value)
            return
        except BaseException as exc:  # raised in its first step (a CancelledError too: nobody cancelled it)
            self.end_at[i] = self._now()
            self._keep_spare(spare)
            if is_fatal(exc) and self.fatal is None:
                self.fatal = exc
            self._final_failure(i, name, exc)
            return
        # Suspended: the spare task adopts the coroutine and drives it on. Tasks running the same
        # code will most likely suspend too: they start as plain asyncio tasks from now on.
        code = getattr(program.fns[i], "__code__", None)
        if code is not None:
            program.suspending.add(code)
        self._spare = None
        cancelled = spare.task.cancelling() or spare.task.done()  # it cancelled its own task, then waited
        if cancelled:
            self._retired.add(spare)
            spare = Spare(loop, spare.context, self._adopt, self._orphaned)
        spare.hand_over((i, coro, yielded, None))
        self._handed[i] = spare
        self.running[i] = spare.task
        if cancelled:
            spare.task.cancel()  # as asyncio would: the task ends cancelled at its first wait

    def _keep_spare(self, spare: Spare) -> None:
        """After a first step that finished: keep the spare unless the step changed it."""
        if spare.task.cancelling() or spare.task.done() or spare.context != self._base_context:
            self._spare = None  # it set context variables or cancelled its task: start afresh
            spare.dispose()
            self._retired.add(spare)

    def _orphaned(self, spare: Spare) -> None:
        """A spare task ended without adopting: retired, disposed, or cancelled before it could run."""
        self._retired.discard(spare)
        adoption = spare.take_orphan()
        if adoption is None:
            return
        i, coro, yielded, _ = adoption
        self._handed.pop(i, None)
        cancel_suspended(coro, yielded, spare.context)
        self.end_at[i] = self._now()
        if not self._failed:  # not cancelled by the run (the task cancelled itself): a failure
            self._final_failure(i, self.names[i], asyncio.CancelledError())
            return
        self.status[i] = CANCELLED
        self.finished.append(i)
        self._leave(i)

    async def _adopt(self, spare: Spare) -> Any:
        adoption, cancelled = await spare.wait()
        if adoption is None:
            return None  # disposed unused
        i, coro, yielded, throw = adoption
        self._handed.pop(i, None)
        if cancelled and throw is None:
            throw = asyncio.CancelledError()
        return await self._finish(i, Resumed(coro, yielded, throw))

    async def _finish(self, i: int, awaitable: Any) -> Any:
        """Await what task ``i`` still has to do (in its own asyncio task), then record its end."""
        try:
            value = await awaitable
        except asyncio.CancelledError as exc:
            self.end_at[i] = self._now()
            task = asyncio.current_task()
            if task is not None and task.cancelling() and self._failed:
                self.status[i] = CANCELLED
                self.finished.append(i)
                self._leave(i)
                raise
            self._final_failure(i, self.names[i], exc)  # not cancelled by the run: a failure
            return None
        except BaseException as exc:
            self.end_at[i] = self._now()
            if is_fatal(exc) and self.fatal is None:
                self.fatal = exc
            self._final_failure(i, self.names[i], exc)
            return None
        self.end_at[i] = self._now()
        self._complete(i, value)
        return value

    def _await_in_task(self, i: int, awaitable: Any) -> None:
        assert self._loop is not None
        self.running[i] = self._loop.create_task(self._finish(i, awaitable))
