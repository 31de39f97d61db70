"""Concurrency slots and named pools: what a task takes before it runs and gives back after.

A task holds one slot of the run's ``concurrency_limit`` while it runs, and one slot of
its named pool if it has one. A task pausing between attempts gives its slot up (see
:mod:`astrum.core._attempts`); when it resumes, a slot handed back is passed straight to it.
A task that finds its pool full waits in the pool's queue, longest-waiting first.
"""

from __future__ import annotations

import asyncio

from ._run_data import RunData

__all__ = ["RunSlots"]


class RunSlots(RunData):
    """Taking and releasing concurrency slots and pool slots (a part of
    :class:`~astrum.core._engine.Run`)."""

    def _leave(self, i: int) -> None:
        self.running.pop(i, None)
        pools = self.program.pools
        if pools is not None and pools[i] >= 0:
            self._release_pool_slot(pools[i])
        if self._slotless and i in self._slotless:
            return  # paused between attempts: it holds no slot
        self._release_slot()

    def _take_pool_slot(self, i: int, pool: int) -> bool:
        if self._pool_used[pool] < self.program.pool_limits[pool]:
            self._pool_used[pool] += 1
            if i in self.pool_wait:
                self.pool_wait[i] = self._now() - self.pool_wait[i]
            return True
        self.pool_wait[i] = self._now()
        self._pool_waiting[pool].append(i)
        return False

    def _release_pool_slot(self, pool: int) -> None:
        self._pool_used[pool] -= 1
        waiting = self._pool_waiting[pool]
        if waiting:
            # The longest-waiting task of this pool goes first; the caller's pump launches it.
            self._ready.appendleft(waiting.popleft())

    def _release_slot(self) -> None:
        waiters = self._slot_waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes straight to a task resuming after a pause
                return
        self._active -= 1

    async def _acquire_slot(self) -> None:
        limit = self.program.concurrency_limit
        if limit is None or self._active < limit:
            self._active += 1
            return
        assert self._loop is not None
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._slot_waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release_slot()  # handed over just as we were cancelled: pass it on
            raise
