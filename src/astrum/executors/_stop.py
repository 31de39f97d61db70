"""Stopping a job that already runs in a process pool's worker, when its run stops.

A `concurrent.futures` process pool does not say which worker runs a job, and killing one
breaks the pool. So each job carries a token; to stop it, the parent drops a marker file
named by the token and sends ``SIGUSR1`` to every worker of the pool. A worker whose current
job's marker exists raises inside that job (the job ends, the worker lives on); the others
find no marker and carry on. Nothing happens per job but the token: the files and signals
are only for jobs that are stopped.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager, suppress
from typing import Any

__all__ = ["CAN_STOP", "JobStopped", "new_stop_marker", "request_stop", "stoppable"]

#: Signals reach worker processes here (not on Windows).
CAN_STOP = hasattr(signal, "SIGUSR1") and hasattr(os, "kill")

_markers_dir: str | None = None
_markers_lock = threading.Lock()
_current: str | None = None  # in a worker: the marker path of the job it runs


class JobStopped(BaseException):
    """Raised inside a job whose run asked to stop it (a ``BaseException``, so that the task's own
    ``except Exception`` does not swallow it)."""


def new_stop_marker() -> str:
    """In the parent: the path a stop of one job would create (nothing is created yet)."""
    global _markers_dir
    with _markers_lock:
        if _markers_dir is None:
            _markers_dir = tempfile.mkdtemp(prefix="astrum-stops-")
            atexit.register(shutil.rmtree, _markers_dir, True)
    return os.path.join(_markers_dir, uuid.uuid4().hex)


def request_stop(executor: Executor, marker: str, future: Future[Any]) -> None:
    """In the parent: stop the running job of ``marker`` in whichever worker of ``executor`` runs it."""
    with open(marker, "w"):
        pass
    future.add_done_callback(lambda _: _forget(marker))
    workers = getattr(executor, "_processes", None) or {}  # ProcessPoolExecutor's pid -> process
    for pid in list(workers):
        with suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGUSR1)


def _forget(marker: str) -> None:
    with suppress(FileNotFoundError):
        os.remove(marker)


def _on_stop_signal(signum: int, frame: Any) -> None:
    marker = _current
    if marker is not None and os.path.exists(marker):
        raise JobStopped("the run stopped this job")


@contextmanager
def stoppable(marker: str | None) -> Iterator[None]:
    """In the worker: run the job so that a stop request for ``marker`` ends it (where a signal
    can reach it: the main thread of a worker process)."""
    global _current
    if marker is None or not CAN_STOP or threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGUSR1) is not _on_stop_signal:
        signal.signal(signal.SIGUSR1, _on_stop_signal)
    _current = marker
    try:
        if os.path.exists(marker):  # stopped before it began
            raise JobStopped("the run stopped this job before it began")
        yield
    finally:
        _current = None
