"""The clock seam: how the engine reads time and sleeps.

The engine never calls ``time`` or ``asyncio.sleep`` directly for timing,
timeouts, backoff or deadlines; it asks its `Clock`. Tests pass a
`FakeClock` to make those instant and deterministic.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, runtime_checkable

__all__ = ["REAL_CLOCK", "Clock", "RealClock"]


@runtime_checkable
class Clock(Protocol):
    """Monotonic time in seconds, and sleeping on it."""

    def now(self) -> float:
        """Seconds on a monotonic scale (only differences are meaningful)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return after ``seconds`` of this clock's time."""
        ...


class RealClock:
    """The wall clock: ``time.perf_counter`` and ``asyncio.sleep``."""

    now = staticmethod(time.perf_counter)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def __repr__(self) -> str:
        return "RealClock()"


REAL_CLOCK = RealClock()
