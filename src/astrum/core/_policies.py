"""Retry policies: how often to retry, which errors, and how long to wait in between."""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .._errors import ConfigurationError, ConfigurationTypeError, TaskRegistrationError

__all__ = ["ISOLATIONS", "Retry", "TaskPolicy", "as_retry", "check_isolation", "check_timeout"]

ISOLATIONS = ("thread", "process")


@dataclass(frozen=True)
class Retry:
    """A retry policy (a frozen value).

    Attempt *k* (k >= 2) starts ``delay * backoff ** (k - 2)`` seconds after
    attempt *k - 1* failed, capped at ``max_delay``, then spread by up to
    ``± jitter`` of itself. Only exceptions that are instances of ``on`` are
    retried; others fail the task at once.

    Raises:
        ConfigurationError: a value out of range, or ``on`` not exception types (also a ``ValueError``).

    Args:
        retries: extra attempts after the first (>= 0).
        delay: seconds before the first retry (>= 0).
        backoff: factor applied to the delay after each retry (>= 1).
        max_delay: upper bound of any delay (>= 0).
        jitter: relative spread in ``[0, 1]``; ``0.1`` means ±10 %.
        on: the exception types that are retried.
    """

    retries: int = 3
    delay: float = 0.5
    backoff: float = 2.0
    max_delay: float = 30.0
    jitter: float = 0.1
    on: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise ConfigurationError(f"Retry.retries must be a non-negative integer, got {self.retries!r}")
        for name, low in (("delay", 0.0), ("backoff", 1.0), ("max_delay", 0.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= low:
                raise ConfigurationError(f"Retry.{name} must be a number >= {low}, got {value!r}")
        if (
            isinstance(self.jitter, bool)
            or not isinstance(self.jitter, int | float)
            or not 0 <= self.jitter <= 1
        ):
            raise ConfigurationError(f"Retry.jitter must be between 0 and 1, got {self.jitter!r}")
        on = self.on if isinstance(self.on, tuple) else (self.on,)
        if not on or not all(isinstance(t, type) and issubclass(t, BaseException) for t in on):
            raise ConfigurationError(f"Retry.on must be exception types, got {self.on!r}")
        object.__setattr__(self, "on", on)

    def retries_error(self, exc: BaseException) -> bool:
        """Whether ``exc`` is one of the exception types this policy retries."""
        return isinstance(exc, self.on)

    def delay_before(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before ``attempt`` (2 = the first retry); 0 for the first attempt."""
        if attempt <= 1 or self.delay == 0:
            return 0.0
        base = min(self.max_delay, self.delay * self.backoff ** (attempt - 2))
        if self.jitter and base:
            base *= 1 + self.jitter * (2 * rand() - 1)
        return max(0.0, min(self.max_delay, base))


def as_retry(value: Any, task_id: str) -> Retry | None:
    """``retry=`` as given to ``@task``: ``N`` means ``Retry(retries=N, delay=0)``; 0 means none."""
    if value == 0 and type(value) is int:
        return None
    if isinstance(value, Retry):
        return value if value.retries else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TaskRegistrationError(f"Task '{task_id}' retry must be a non-negative integer.")
    return Retry(retries=value, delay=0.0, jitter=0.0) if value else None


def _positive_seconds(value: Any) -> bool:
    return (
        not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value) and value > 0
    )


def check_timeout(value: Any, task_id: str) -> float | None:
    """Validate ``timeout=`` (positive seconds, or ``None``)."""
    if value is None:
        return None
    if not _positive_seconds(value):
        raise TaskRegistrationError(
            f"Task '{task_id}' timeout must be a positive number of seconds, got {value!r}."
        )
    return float(value)


def check_deadline(value: Any) -> float | None:
    """Validate a run ``deadline`` (positive seconds, or ``None``)."""
    if value is None:
        return None
    if not _positive_seconds(value):
        raise ConfigurationError(f"deadline must be a positive number of seconds or None, got {value!r}")
    return float(value)


def check_failure_policy(value: Any) -> str:
    """Validate a ``failure_policy`` (``"cancel"`` or ``"continue"``)."""
    if value not in ("cancel", "continue"):
        raise ConfigurationError(f"failure_policy must be 'cancel' or 'continue', got {value!r}")
    return str(value)


def check_clock(value: Any) -> Any:
    """Validate a clock: ``None`` (the real clock) or an object with ``now()`` and async ``sleep()``."""
    if value is not None and not (
        callable(getattr(value, "now", None)) and callable(getattr(value, "sleep", None))
    ):
        raise ConfigurationTypeError(
            f"clock must have now() and async sleep(seconds) (see astrum.testing.FakeClock), got {value!r}"
        )
    return value


def check_isolation(value: Any, task_id: str) -> str:
    """Validate ``isolation=`` (``"thread"`` or ``"process"``)."""
    if value not in ISOLATIONS:
        raise TaskRegistrationError(
            f"Task '{task_id}' isolation must be 'thread' or 'process', got {value!r}."
        )
    return str(value)


@dataclass(frozen=True, slots=True)
class TaskPolicy:
    """Everything beyond a plain call: retries, per-attempt timeout, isolation, executor.

    ``submit``, set for a sync task that runs on a named executor, sends one call there:
    ``submit(fn, args, kwargs, stop_after)`` returns an awaitable of its result (cancelling it
    withdraws a queued job; ``stop_after`` seconds later a process worker stops a running one);
    ``executor`` is that executor's name, ``executor_stops`` whether it stops running jobs.
    ``cache``, set for ``@task(cache=...)``, is a `CachedCall` around
    all of the task's attempts.

    ``fanout``, set for a mapped task, is its `MapSpec`: the
    task runs one instance per item (each under the spec's own instance policy) and gathers them.
    """

    retry: Retry | None = None
    timeout: float | None = None
    isolation: str = "thread"
    submit: Callable[[Callable[..., Any], list[Any], dict[str, Any], float | None], Awaitable[Any]] | None = (
        None
    )
    executor: str | None = None
    executor_stops: bool = False
    cache: Any = None
    fanout: Any = None

    @property
    def retries(self) -> int:
        return self.retry.retries if self.retry else 0
