"""Test helpers: a fake clock that makes timeouts, backoff and deadlines instant."""

from __future__ import annotations

import asyncio
import heapq
import itertools

from ._errors import ConfigurationError

__all__ = ["FakeClock"]


class FakeClock:
    """A virtual clock for the engine's clock seam (``AstrumConfig(clock=FakeClock())``).

    Time only moves when `advance` is called or, with ``autojump=True``
    (the default), when the event loop has nothing ready to run and somebody
    sleeps on this clock: it then jumps straight to the earliest wake-up time.
    Autojump assumes that everything a test waits for waits on this clock
    (``await clock.sleep(...)`` inside tasks); real sleeps and worker threads
    do not hold it back.

    Args:
        start: the initial reading of `now`.
        autojump: jump to the next wake-up whenever the loop is idle.
    """

    def __init__(self, start: float = 0.0, *, autojump: bool = True) -> None:
        self._now = float(start)
        self.autojump = autojump
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._ticking = False
        #: Every duration passed to `sleep`, in call order (handy for asserting on backoff).
        self.sleeps: list[float] = []

    def now(self) -> float:
        """The current virtual time in seconds."""
        return self._now

    async def sleep(self, seconds: float) -> None:
        """Wait until the virtual time has advanced by ``seconds``."""
        self.sleeps.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        if self.autojump and not self._ticking:
            self._ticking = True
            loop.call_soon(self._tick, loop, 0)
        await future

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` and wake every sleeper that is due."""
        if seconds < 0:
            raise ConfigurationError(f"time cannot go backwards: advance() got {seconds!r}")
        self._now += seconds
        self._wake_due()

    def _wake_due(self) -> None:
        sleepers = self._sleepers
        while sleepers and sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(sleepers)
            if not future.done():
                future.set_result(None)

    def _tick(self, loop: asyncio.AbstractEventLoop, quiet: int) -> None:
        sleepers = self._sleepers
        while sleepers and sleepers[0][2].done():  # cancelled sleeps
            heapq.heappop(sleepers)
        if not sleepers:
            self._ticking = False
            return
        ready = getattr(loop, "_ready", ())
        if len(ready) or quiet < 2:
            # Something else is runnable: let it run first (it may sleep, or finish, or wake others).
            loop.call_soon(self._tick, loop, 0 if len(ready) else quiet + 1)
            return
        self._now = max(self._now, sleepers[0][0])
        self._wake_due()
        loop.call_soon(self._tick, loop, 0)

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now!r}, sleepers={len(self._sleepers)})"
