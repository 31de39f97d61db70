"""``Cache``: the value ``@task(cache=...)`` takes (ttl, key function, version), checked once.

The engine knows a cached task only through its `TaskPolicy`:
``policy.cache`` is a `CachedCall` (made by ``astrum.store``) that serves the task
from the run's store or runs its attempts. Nothing here reads a store.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from .._errors import ConfigurationError, ConfigurationTypeError, TaskRegistrationError

if TYPE_CHECKING:
    from ._engine import Run

__all__ = ["Cache", "CachedCall", "Compute", "check_cache"]

#: Runs a task's attempts (retries, timeout, isolation, executor) and returns its value.
Compute = Callable[[], Awaitable[Any]]


@dataclass(frozen=True)
class Cache:
    """Reuse a task's result across runs (``@task(cache=Cache(...))``; a frozen value).

    A result is reused when the task's code fingerprint, its ``version`` and its injected
    inputs match an entry of the run's store that is younger than ``ttl``. The
    ``RunContext`` never enters the key. See docs/caching.md.

    Args:
        ttl: how long an entry is reused: seconds (> 0), a ``timedelta``, or ``None`` (no expiry).
        key: a sync function called with the task's injected inputs as keyword arguments; its
            return value (str, bytes or JSON-able data) replaces the inputs in the key.
        version: a str or int that enters the key: change it to drop the task's entries by hand.

    Raises:
        ConfigurationError: a ttl that is not positive (also a ``ValueError``).
        ConfigurationTypeError: a value of the wrong type, or an async ``key`` (also a ``TypeError``).
    """

    ttl: float | timedelta | None = None
    key: Callable[..., Any] | None = None
    version: str | int | None = None

    def __post_init__(self) -> None:
        ttl = self.ttl
        if isinstance(ttl, timedelta):
            ttl = ttl.total_seconds()
        if ttl is not None:
            if isinstance(ttl, bool) or not isinstance(ttl, int | float):
                raise ConfigurationTypeError(
                    f"Cache(ttl={self.ttl!r}): give seconds (a number), a timedelta, or None for no expiry."
                )
            if not (math.isfinite(ttl) or ttl == math.inf) or ttl <= 0:
                raise ConfigurationError(
                    f"Cache(ttl={self.ttl!r}): the ttl must be > 0 seconds; use ttl=None for entries that never expire."
                )
            ttl = None if ttl == math.inf else float(ttl)
        object.__setattr__(self, "ttl", ttl)
        key = self.key
        if key is not None:
            if not callable(key):
                raise ConfigurationTypeError(
                    f"Cache(key={key!r}): key must be a function of the task's inputs (as keyword arguments) "
                    "returning a str, bytes or JSON-able value."
                )
            if _is_async(key):
                raise ConfigurationTypeError(
                    f"Cache(key={getattr(key, '__qualname__', key)!r}) is async; the key is computed before the "
                    "task runs and must be a plain (sync) function. Drop the 'async'."
                )
        version = self.version
        if version is not None and (isinstance(version, bool) or not isinstance(version, str | int)):
            raise ConfigurationTypeError(
                f"Cache(version={version!r}): the version must be a str or an int (e.g. version=2)."
            )

    @property
    def seconds(self) -> float | None:
        """The ttl in seconds (``None``: no expiry)."""
        return self.ttl  # type: ignore[return-value]  # normalised to float | None


def check_cache(value: Any, task_id: str) -> Cache | None:
    """Validate ``cache=`` of ``@task`` (a `Cache` or ``None``)."""
    if value is not None and not isinstance(value, Cache):
        raise TaskRegistrationError(
            f"Task '{task_id}' cache must be a Cache, got {value!r}: write cache=Cache() "
            "(or Cache(ttl=3600, version=1))."
        )
    return value


def _is_async(fn: Any) -> bool:
    target = inspect.unwrap(fn) if inspect.isfunction(fn) else fn
    if inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target):
        return True
    call = getattr(type(target), "__call__", None)  # noqa: B004
    return not inspect.isroutine(target) and inspect.iscoroutinefunction(call)


class CachedCall(Protocol):
    """What ``TaskPolicy.cache`` holds: serves task ``i`` from the run's store or computes it."""

    async def serve(self, run: Run, i: int, args: list[Any], kwargs: dict[str, Any], compute: Compute) -> Any:
        """The task's value: an entry of the run's store, or ``await compute()`` (then stored)."""
        ...
