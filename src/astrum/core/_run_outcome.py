"""How tasks end, and how the run stops.

A task ends completed (its children may become ready), failed (under
``failure_policy="cancel"`` the run stops; under ``"continue"`` its descendants are
skipped), or cancelled by the stopping run. The run stops at its first final failure,
at its deadline, or when its caller cancels it: nothing starts any more, tasks that
were ready are cancelled without running, and running ones are cancelled and awaited.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .._errors import MappedTaskError, TaskTimeoutError
from ._mapping import gather_partially
from ._program import CANCELLED, COMPLETED, CONTINUE, FAILED, TIMED_OUT
from ._run_data import RunData

__all__ = ["RunOutcome"]

logger = logging.getLogger("astrum")


class RunOutcome(RunData):
    """Completion, failure, skip and cancel bookkeeping; stop and deadline (a part of
    `Run`)."""

    # -- a task ends -----------------------------------------------------------------------

    def _complete(self, i: int, value: Any) -> None:
        """Record task ``i``'s result, release what it held, and launch the children it made ready."""
        self.values[i] = value
        if self._results is not None:  # reported already: a tail task finishing late
            self._results[self.names[i]] = value
        self.status[i] = COMPLETED
        self.finished.append(i)
        if self.bus is not None:
            self._task_event("task_success", i, 0, start=self.start_at[i], end=self.end_at[i], result=value)
        self._leave(i)
        remaining = self._remaining
        ready = self._ready
        program = self.program
        ready_at = self.ready_at
        end = self.end_at[i]
        continued = self._continued
        for child in program.graph.children[i]:
            remaining[child] -= 1
            if remaining[child] == 0:
                if continued is not None and continued[child]:
                    # Already running in this task's worker thread (see thread_result).
                    self._active += 1
                    self._in_threads += 1
                    continue
                ready.append(child)
                ready_at[child] = end
        if i not in program.tails:
            self._unfinished -= 1
            if self._unfinished == 0 and not self._tails_to_start:
                done = self._done
                if done is not None and not done.done():
                    done.set_result(None)
        self._pump()

    def _final_failure(self, i: int, name: str, exc: BaseException) -> None:
        self.status[i] = TIMED_OUT if isinstance(exc, TaskTimeoutError) else FAILED
        self.exceptions[i] = exc
        if self.bus is not None:
            self._task_event(
                "task_failure",
                i,
                0,
                error=exc,
                start=self.start_at[i] if self.began[i] else None,
                end=self.end_at[i],
            )
        self.finished.append(i)
        self._leave(i)
        if self._returned:  # a tail task, after the report was made: logged, and kept in its task
            logger.warning(
                "tail task %r failed after its run returned: %s",
                name,
                exc,
                exc_info=(type(exc), exc, exc.__traceback__),
            )
            return
        program = self.program
        self.error_summary.append(f"Task '{name}' failed during execution: {exc}")  # upstream's exact line
        if type(exc) is MappedTaskError and exc.partial is not None and gather_partially(self, i, exc):  # type: ignore[arg-type]
            return  # consumers that take partial results run on
        if (
            i in program.tails
            and not program.graph.children[i]
            and self.fatal is None
            and program.failure_policy != CONTINUE  # there, every failure lets the run go on
        ):
            # Nothing waits for this tail task: its failure is reported, the run goes on.
            if self.tail_failure is None:
                self.tail_failure = i
            return
        if self.first_failure is None:
            self.first_failure = i
        if program.failure_policy == CONTINUE and self.fatal is None:
            self._skip_descendants(i)
            return
        self._halt()
        tails = program.tails
        for j, task in self.running.items():
            if j not in tails and not task.cancelling():
                task.cancel()  # at once, so nothing else begins while execute() wakes up
        done = self._done
        if done is not None and not done.done():
            done.set_result(None)

    def _skip_descendants(self, i: int) -> None:
        """failure_policy="continue": everything downstream of ``i`` is skipped; the rest runs on."""
        program = self.program
        tails = program.tails
        cause = self.skip_cause
        if i not in tails:
            self._unfinished -= 1
        stack = list(program.graph.children[i])
        while stack:
            j = stack.pop()
            if j in cause:
                continue
            cause[j] = i
            if j not in tails:
                self._unfinished -= 1
            else:
                self._tails_to_start -= 1  # it never starts
            stack.extend(program.graph.children[j])
        if self._unfinished == 0 and not self._tails_to_start:
            done = self._done
            if done is not None and not done.done():
                done.set_result(None)
        else:
            self._pump()

    # -- the run stops ----------------------------------------------------------------------

    async def _watch_deadline(self, seconds: float) -> None:
        await self.program.clock.sleep(seconds)
        done = self._done
        if done is None or done.done():
            return
        self.deadline_hit = True
        unstarted = len(self.finished)
        self._halt()
        unstarted = len(self.finished) - unstarted
        now = self._now()
        running = sum(1 for i in self.running if self.status[i] is None) + self._in_threads
        others = (
            f"{unstarted} ready task(s) cancelled before they started, the others skipped."
            if unstarted
            else "the tasks not yet started skipped."
        )
        self.error_summary.append(
            f"Run deadline of {seconds:g} s exceeded: {running} running task(s) cancelled, {others}"
        )
        # Threads cannot be stopped: give them up now and ignore their late results.
        for i, threaded in enumerate(self._threaded_fast):
            if threaded and self.status[i] is None and self.began[i] and i not in self.abandoned:
                self.abandoned.add(i)
                if self._start_due and i in self._start_due:
                    self._announce_start(i)  # a worker took it: its body began
                self.status[i] = CANCELLED
                self.end_at[i] = now
                self.finished.append(i)
        self._in_threads = 0
        for task in self.running.values():
            if not task.cancelling():
                task.cancel()
        done.set_result(None)

    async def _stop_despite_cancellation(self) -> None:
        """Stop everything, tail tasks included, even if cancelled again meanwhile."""
        while True:
            try:
                await self._stop(include_tails=True)
                return
            except asyncio.CancelledError:
                continue

    async def _stop(self, *, include_tails: bool) -> None:
        """Cancel running tasks and wait until every one of them has ended."""
        self._halt()
        tails = self.program.tails
        while True:
            if self._in_threads:
                # Threads cannot be interrupted: wait for them, their results are discarded.
                assert self._loop is not None
                self._threads_idle = self._loop.create_future()
                await asyncio.wait([self._threads_idle])
                continue
            for spare in [s for s in self._handed.values() if s.task.done()]:
                self._orphaned(spare)  # ended just now; its own callback has not run yet
            victims = [
                t for i, t in self.running.items() if (include_tails or i not in tails) and not t.done()
            ]
            if not victims:
                return
            for t in victims:
                if not t.cancelling():  # a task already cancelled is left to finish its cleanup
                    t.cancel()
            await asyncio.wait(victims)

    def _halt(self) -> None:
        """The run stops (a final failure, the deadline, or cancellation): nothing starts any more.

        A task whose inputs were all ready counts as started, so it is cancelled (without an
        attempt: its body never runs): tasks waiting to be launched or for a pool slot, tasks
        launched that have not begun, and sync jobs no worker thread has taken yet. Tasks whose
        inputs were not ready stay unstarted and are reported skipped.
        """
        if self._failed:
            return
        self._failed = True
        now = self._now()
        tails = self.program.tails
        began = self.began
        pool_wait = self.pool_wait
        for queue in (self._ready, *self._pool_waiting):
            kept = [i for i in queue if i in tails]  # tail tasks are not the run's to cancel
            for i in queue:
                if type(i) is not int:
                    continue  # an instance of a mapped task: its task cancels it
                if i not in tails:
                    if i in pool_wait:  # still waiting for its pool (or its turn after it): until now
                        pool_wait[i] = now - pool_wait[i]
                    self.end_at[i] = now
                    self._cancelled(i)
            queue.clear()
            queue.extend(kept)
        for i in self.running:
            if not began[i] and i not in tails:
                self.end_at[i] = now  # launched, first step not taken yet: it is cancelled next
                self._cancelled(i)
        queued = self._queued
        while True:
            try:
                job = queued.popleft()  # taken back before any worker did: it never runs
            except IndexError:
                break
            i = job[1]
            self._start_due.pop(i, None)  # hooks hear of no start
            began[i] = 0
            self.end_at[i] = now
            self._cancelled(i)
            self._in_threads -= 1
            self._leave(i)

    def _cancelled(self, i: int) -> None:
        """Record task ``i`` as cancelled by the stopping run at ``end_at[i]`` (once); a task
        whose body never ran gets no attempt."""
        if self.status[i] is not None:
            return
        if not self.began[i] or (i in self._withdrawn and not self.attempts.get(i)):
            self.began[i] = 0
            self.start_at[i] = self.end_at[i]
        self.status[i] = CANCELLED
        self.finished.append(i)
