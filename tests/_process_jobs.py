"""Module-level task functions for process-isolated tests.

Process isolation sends the task function to a worker process by reference
(pickle), so these functions must live at module level in an importable module.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from astrum import F, Ref


class ParseError(ValueError):
    """A custom exception type raised in the worker process."""


def spin_forever(pid_file: str | None = None) -> None:
    """Burn CPU forever: only a killed process stops this. Writes its pid to ``pid_file`` first."""
    if pid_file is not None:
        Path(pid_file).write_text(str(os.getpid()))
    while True:
        pass


def spin_on_first_call(marker: str) -> str:
    """Spin forever on the first call (creating ``marker``); return at once on later calls."""
    path = Path(marker)
    if not path.exists():
        path.write_text(str(os.getpid()))
        while True:
            pass
    return "second attempt"


def square_sum(n: int) -> int:
    """A CPU-bound function with a checkable result."""
    return sum(i * i for i in range(n))


def worker_pid() -> int:
    return os.getpid()


def raise_parse_error(text: str = "bad row 7") -> None:
    raise ParseError(text)


async def async_double(x: int = 21) -> tuple[int, int]:
    await asyncio.sleep(0.01)
    return 2 * x, os.getpid()


def return_unpicklable() -> object:
    return lambda: None


def describe(value: Ref[object, F("produce")]) -> str:
    """Receives the result of the task ``produce`` (which must be sent to the worker)."""
    return repr(value)


class PairError(Exception):
    """An exception whose ``__init__`` takes other arguments than its message."""

    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"pair {a} and {b} failed")
        self.a, self.b = a, b


class StatusError(Exception):
    """An exception with a keyword-only argument (like httpx's ``HTTPStatusError``)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def raise_pair_error() -> None:
    raise PairError(1, 2)


def raise_status_error() -> None:
    raise StatusError("server said 503", status=503)


def die_on_first_call(marker: str) -> str:
    """Kill the calling worker process on the first call (creating ``marker``); return on later calls."""
    import signal

    path = Path(marker)
    if not path.exists():
        path.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return "survived"
