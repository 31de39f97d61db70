"""Pause the cyclic garbage collector during bulk, allocation-heavy work."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block (no-op if it was already disabled).

    Building a large graph allocates many long-lived objects; each automatic
    collection then scans the whole growing heap, which makes a build of N
    tasks cost O(N^2). Reference counting still frees everything as usual.
    """
    enabled = gc.isenabled()
    if enabled:
        gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
