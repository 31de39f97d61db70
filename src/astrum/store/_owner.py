"""Which process owns a running run, and whether that process is still alive.

A run is owned by ``(hostname, pid, token)``. On Linux the token is the boot id and the
process start time (clock ticks since boot, field 22 of ``/proc/<pid>/stat``), so a pid
that was reused by another process, or a pid from an earlier boot, is not taken for the
owner. Elsewhere the token is ``None`` and only the pid is checked.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import cache

__all__ = ["Owner", "current_owner", "owner_alive"]


@dataclass(frozen=True, slots=True)
class Owner:
    """The identity of the process that records a run."""

    host: str
    pid: int
    token: str | None


def _boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as file:
            return file.read().strip()
    except OSError:
        return None


def _stat(pid: int) -> tuple[str, str] | None:
    """``(state, start time in ticks)`` of ``pid`` from ``/proc``, or ``None`` if it has no entry."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as file:
            text = file.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or ')': split after the last one.
    fields = text[text.rfind(")") + 2 :].split()
    return fields[0], fields[19]


def _token(pid: int) -> str | None:
    boot = _boot_id()
    stat = _stat(pid)
    return f"{boot}:{stat[1]}" if boot is not None and stat is not None else None


@cache
def _current(pid: int) -> Owner:
    return Owner(socket.gethostname(), pid, _token(pid))


def current_owner() -> Owner:
    """The identity of this process (recomputed after a fork)."""
    return _current(os.getpid())


def owner_alive(owner: Owner) -> bool:
    """Whether ``owner`` may still be running its run.

    A process on another host cannot be checked and counts as alive. A zombie (dead, not yet
    reaped by its parent) counts as gone.
    """
    me = current_owner()
    if owner.host != me.host:
        return True
    if owner.pid == me.pid and owner.token == me.token:
        return True
    if owner.token is not None and os.path.isdir("/proc/self"):
        stat = _stat(owner.pid)
        if stat is None or stat[0] in ("Z", "X"):
            return False
        return owner.token == f"{_boot_id()}:{stat[1]}"
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # somebody else's process: it exists
    except OSError:
        return True  # cannot tell: never call a live run interrupted
    return True
