"""Concurrency slots and named pools: what a task takes before it runs and gives back after.

A task holds one slot of the run's ``concurrency_limit`` while it runs, and one slot of
its named pool if it has one. A task pausing between attempts gives its slot up (see
:mod:`astrum.core._attempts`); when it resumes, a slot handed back is passed straight to it.
A task that finds its pool full waits in the pool's queue, longest-waiting first.

An instance of a mapped task takes its slots the same way, through the same counters
(:meth:`RunSlots._take_pool_slot`, :meth:`RunSlots._acquire_slot`): it waits in its pool's
queue as a :class:`PoolTicket` instead of a task index, and is woken by :meth:`RunSlots._wake_parked`.
"""

from __future__ import annotations

import asyncio

from ._run_data import RunData

__all__ = ["PoolTicket", "RunSlots"]


class PoolTicket:
    """An instance of a mapped task parked in its pool's queue (where tasks park their index)."""

    __slots__ = ("waiter",)

    def __init__(self) -> None:
        self.waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        """Its turn came: it tries :meth:`RunSlots._take_pool_slot` again."""
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


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

    def _take_pool_slot(self, i: int | PoolTicket, pool: int) -> bool:
        """Take a slot of ``pool`` for task ``i`` (or a mapped task's instance's ticket); if the pool
        is full, park ``i`` in its queue and return ``False`` (:meth:`_wake_parked` hands it its turn)."""
        if self._pool_used[pool] < self.program.pool_limits[pool]:
            self._pool_used[pool] += 1
            if i in self.pool_wait:
                self.pool_wait[i] = self._now() - self.pool_wait[i]
            return True
        self.pool_wait[i] = self._now()
        self._pool_waiting[pool].append(i)
        return False

    async def _wait_pool_slot(self, pool: int) -> float | None:
        """Take a slot of ``pool`` for an instance of a mapped task, waiting in the pool's queue
        (as a :class:`PoolTicket`) while it is full; return how long it waited (``None``: not at all)."""
        ticket = PoolTicket()
        try:
            while not self._take_pool_slot(ticket, pool):
                assert self._loop is not None
                ticket.waiter = self._loop.create_future()
                await ticket.waiter
        except asyncio.CancelledError:
            waiting = self._pool_waiting[pool]
            if ticket in waiting:
                waiting.remove(ticket)
            elif (
                waiting
                and ticket.waiter is not None
                and ticket.waiter.done()
                and not ticket.waiter.cancelled()
            ):
                self._wake_parked(waiting.popleft())  # woken just as it was cancelled: the turn passes on
            self.pool_wait.pop(ticket, None)
            raise
        return self.pool_wait.pop(ticket, None)

    def _release_pool_slot(self, pool: int) -> None:
        self._pool_used[pool] -= 1
        waiting = self._pool_waiting[pool]
        if waiting:
            # The longest-waiting task of this pool goes first; the caller's pump launches it.
            self._wake_parked(waiting.popleft())

    def _wake_parked(self, parked: int | PoolTicket) -> None:
        """Give a task or instance parked in a pool's queue its turn to take a slot."""
        if type(parked) is int:
            self._ready.appendleft(parked)
        else:
            parked.wake()  # type: ignore[union-attr]

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
