"""Concurrency slots and named pools: what a task takes before it runs and gives back after.

A task holds one slot of the run's ``concurrency_limit`` while it runs, and one slot of
its named pool if it has one. A task pausing between attempts gives its slot up (see
`astrum.core._attempts`); when it resumes, a slot handed back is passed straight to it.
A task that finds its pool full waits in the pool's queue, longest-waiting first.

A pool with a rate (`astrum.core._rates`) also paces its starts: a task starts only
when the pool has a free slot *and* a token is free, and takes the token as it starts.
Until then it waits in the same queue, holding neither a pool slot nor a concurrency slot;
a timer sleeping on the run's clock hands the queue's head to the pump when the next token
is due. A retry takes a token too (`RunSlots._wait_for_token`). Pools without a rate
pay one ``is None`` check per pooled task.

An instance of a mapped task takes its slots the same way, through the same counters, queue
and tokens (`RunSlots._take_pool_slot`, `RunSlots._acquire_slot`): it waits in
its pool's queue as a `PoolTicket` instead of a task index, and is woken by
`RunSlots._wake_parked`.
"""

from __future__ import annotations

import asyncio

from ._rates import RateLimiter
from ._run_data import RunData

__all__ = ["PoolTicket", "RunSlots"]


class PoolTicket:
    """An instance of a mapped task parked in its pool's queue (where tasks park their index)."""

    __slots__ = ("waiter",)

    def __init__(self) -> None:
        self.waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        """Its turn came: it tries `RunSlots._take_pool_slot` again."""
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class RunSlots(RunData):
    """Taking and releasing concurrency slots and pool slots (a part of
    `Run`)."""

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
        is full (or its next token is not due), park ``i`` in its queue and return ``False``
        (`_wake_parked` hands it its turn)."""
        rates = self._rates
        if rates is not None:
            limiter = rates[pool]
            if limiter is not None:
                return self._take_paced_slot(i, pool, limiter)
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
        (as a `PoolTicket`) while it is full; return how long it waited (``None``: not at all)."""
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
                self._pass_turn(pool)  # woken just as it was cancelled: the turn passes on
            self.pool_wait.pop(ticket, None)
            raise
        return self.pool_wait.pop(ticket, None)

    def _release_pool_slot(self, pool: int) -> None:
        self._pool_used[pool] -= 1
        if self._pool_waiting[pool]:
            self._pass_turn(pool)

    def _pass_turn(self, pool: int) -> None:
        """A slot of ``pool`` came free: the longest-waiting task or instance of its queue goes
        first (in a rate-limited pool, only when its next token is free)."""
        rates = self._rates
        if rates is not None and rates[pool] is not None:
            self._admit_paced(pool)
            return
        self._wake_parked(self._pool_waiting[pool].popleft())  # a task index: the caller's pump launches it

    def _wake_parked(self, parked: int | PoolTicket) -> None:
        """Give a task or instance parked in a pool's queue its turn to take a slot."""
        if type(parked) is int:
            self._ready.appendleft(parked)
        else:
            parked.wake()  # type: ignore[union-attr]

    # -- pools with a rate ------------------------------------------------------------------

    def _take_paced_slot(self, i: int | PoolTicket, pool: int, limiter: RateLimiter) -> bool:
        """Start task (or instance) ``i`` in a rate-limited pool now (a slot and a token), or queue it."""
        waiting = self._pool_waiting[pool]
        pool_wait = self.pool_wait
        queued_at = pool_wait.get(i)  # set while it waits in this pool's queue (or just left it)
        now = self._now()
        if (
            (queued_at is not None or not waiting)  # no overtaking the tasks already waiting
            and self._pool_used[pool] < self.program.pool_limits[pool]
            and not limiter.delay(now)
        ):
            limiter.take(now)
            self._pool_used[pool] += 1
            if queued_at is not None:
                pool_wait[i] = now - queued_at
            if waiting:
                self._admit_paced(pool)  # the next one waits for the next token
            return True
        if queued_at is None:
            pool_wait[i] = now
            waiting.append(i)
        else:
            waiting.appendleft(i)  # back at the head: it has waited longest
        self._admit_paced(pool)
        return False

    def _admit_paced(self, pool: int) -> None:
        """Hand the head of a rate-limited pool's queue to the pump if it can start now, or
        wake it with a timer when the pool's next token is due (if a slot is free)."""
        waiting = self._pool_waiting[pool]
        if not waiting or self._failed or self._pool_used[pool] >= self.program.pool_limits[pool]:
            return  # nobody waits, the run stops, or a released slot calls again
        limiter = self._rates[pool]  # type: ignore[index]
        assert limiter is not None
        delay = limiter.delay(self._now())
        if not delay:
            self._wake_parked(waiting.popleft())  # a task: the caller's pump launches it
            return
        timers = self._rate_timers
        assert timers is not None
        assert self._loop is not None
        if pool not in timers:
            timers[pool] = self._loop.create_task(self._rate_timer(pool, limiter, delay))

    async def _rate_timer(self, pool: int, limiter: RateLimiter, delay: float) -> None:
        try:
            await self._wait_for_token(limiter, delay)
        finally:
            del self._rate_timers[pool]  # type: ignore[union-attr]
        self._admit_paced(pool)
        self._pump()

    async def _wait_for_token(self, limiter: RateLimiter, delay: float | None = None) -> float:
        """Sleep on the run's clock until ``limiter`` has a free token; return the seconds slept.

        The token is not taken: take it (``limiter.take(self._now())``) before the next
        ``await``, as the task or instance starts. Any path that starts work in a rate-limited
        pool outside the pump (a retry's next attempt) paces itself this way.
        """
        clock = self.program.clock
        start = now = self._now()
        if delay is None:
            delay = limiter.delay(now)
        while delay:  # twice at most on a clock that rounds the wake-up time down
            await clock.sleep(delay)
            now = self._now()
            delay = limiter.delay(now)
        return now - start

    def _limiter_of(self, i: int) -> RateLimiter | None:
        """The rate limiter of task ``i``'s pool (``None``: no pool, or a pool without a rate)."""
        rates = self._rates
        pools = self.program.pools
        if rates is None or pools is None or pools[i] < 0:
            return None
        return rates[pools[i]]

    async def _stop_rate_timers(self) -> None:
        """Cancel the timers still waiting for tokens (the run is over) and wait for them."""
        timers = self._rate_timers
        if timers:
            pending = list(timers.values())
            for timer in pending:
                timer.cancel()
            await asyncio.wait(pending)

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
