"""The worker threads that run synchronous tasks off the event loop."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["worker_pool"]

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None

#: Threads are started on demand; blocking sync tasks beyond this many wait for a free thread.
MAX_WORKERS = max(32, 8 * (os.cpu_count() or 1))


def worker_pool() -> ThreadPoolExecutor:
    """The process-wide pool for synchronous tasks, created on first use."""
    global _pool
    pool = _pool
    if pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="astrum-worker")
            pool = _pool
    return pool
