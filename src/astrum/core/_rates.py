"""Rate limits of named pools: a rate, and the limiter that paces a pool's starts by it.

A `RateLimiter` hands out one token every ``period / count`` seconds, with a burst
of one: each start is at least that long after the previous one, so any window of length
``period`` holds at most ``count`` starts (a bucket that starts full would let ``2 * count``
through in the first period). It is pure and clock-driven: the caller passes the time.

Limiters are shared (`shared_limiters`): every run on one event loop and one clock whose
configuration gives a pool the same rate takes its tokens from one limiter, so concurrent runs
(one per request in a web service) stay under the rate together, as one API key must.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Rate", "RateLimiter", "shared_limiters"]

_NEVER = float("-inf")


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` starts per ``period`` seconds, as configured (``text``, e.g. ``"60/min"``)."""

    count: float
    period: float
    text: str


class RateLimiter:
    """Paces starts to at most ``count`` per ``period`` seconds, evenly spread.

    Call `delay` with the current time: ``0.0`` means a token is free now, and
    `take` spends it (with no wait in between, so nothing else takes it first).
    Tokens fall on a grid of ``period / count`` steps from the first start of a busy
    stretch; times are computed from the grid, not summed step by step, so floating point
    never lets one more start into a window.
    """

    __slots__ = ("_anchor", "_taken", "count", "period")

    def __init__(self, count: float, period: float) -> None:
        self.count = count
        self.period = period
        self._anchor = _NEVER  # the first start of the current busy stretch
        self._taken = 0  # tokens taken since then

    @property
    def interval(self) -> float:
        """Seconds between two tokens."""
        return self.period / self.count

    def next_at(self) -> float:
        """When the next token is free (``-inf`` before the first one is taken)."""
        return self._anchor + self._taken * self.period / self.count

    def delay(self, now: float) -> float:
        """Seconds from ``now`` until a token is free (``0.0``: free now)."""
        wait = self._anchor + self._taken * self.period / self.count - now
        return wait if wait > 0.0 else 0.0

    def take(self, now: float) -> None:
        """Spend the token free at ``now`` (the caller checked `delay` first).

        Raises:
            RuntimeError: no token is free at ``now``.
        """
        due = self.next_at()
        if now > due:  # idle since the last token was due: a new stretch starts here
            self._anchor = now
            self._taken = 1
        elif now == due:
            self._taken += 1
        else:
            raise RuntimeError(f"no token is free before {due!r} (asked at {now!r})")

    def __repr__(self) -> str:
        return f"RateLimiter({self.count:g}/{self.period:g}s)"


# Per event loop: (pool name, count, period, id(clock)) -> (clock, limiter). Forgotten with the loop.
_SHARED: weakref.WeakKeyDictionary[Any, dict[tuple[str, float, float, int], tuple[Any, RateLimiter]]] = (
    weakref.WeakKeyDictionary()
)


def shared_limiters(
    loop: Any, clock: Any, names: Sequence[str], rates: Sequence[Rate | None]
) -> list[RateLimiter | None]:
    """The limiter of each pool (``None``: no rate), shared with every other run on ``loop`` and
    ``clock`` that gives the pool of that name the same rate."""
    limiters = _SHARED.get(loop)
    if limiters is None:
        limiters = _SHARED[loop] = {}
    out: list[RateLimiter | None] = []
    for name, rate in zip(names, rates, strict=True):
        if rate is None:
            out.append(None)
            continue
        key = (name, rate.count, rate.period, id(clock))
        held = limiters.get(key)
        if held is None or held[0] is not clock:  # a clock that died left its id to this one
            held = limiters[key] = (clock, RateLimiter(rate.count, rate.period))
        out.append(held[1])
    return out
