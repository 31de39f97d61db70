"""Serving a cached task (``@task(cache=...)``) from its run's store, one computation per key.

`CachedTask` is the ``cache`` of a task's `TaskPolicy`.
For each call it works out the cache key, looks it up in the run's store and, on a miss,
runs the task's attempts and puts the result. Single flight: in this process the first run
asking for a key computes it and the others wait for it (a flight per store and key); across
processes (and store objects) the store's lease decides, and the others poll the store. A
waiter looks the key up again once the computation ended: a hit, or (the owner failed, its
result could not be stored) it computes in turn. A lease whose process is gone is free; on
another host it expires after `LEASE` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import warnings
from typing import TYPE_CHECKING, Any, Final

from ..core._cache import Cache, Compute
from ._base import CacheEntry, RunStore, UnstorableResultWarning
from ._cachekey import cache_key
from ._facts import source_fingerprint

if TYPE_CHECKING:
    from ..core._engine import Run

__all__ = ["LEASE", "CachedTask"]

logger = logging.getLogger("astrum")

LEASE: Final = 300.0  # seconds a claim on a key lasts when its owner's process cannot be checked
_POLL_FIRST: Final = 0.02  # seconds between looks at a key another process computes, doubling ...
_POLL_MAX: Final = 0.5  # ... up to this


class _Flight:
    """One computation of a key in this process, and the runs waiting for it to end."""

    __slots__ = ("waiters",)

    def __init__(self) -> None:
        self.waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []


_flights: dict[tuple[int, str], _Flight] = {}
_flights_lock = threading.Lock()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _board(slot: tuple[int, str]) -> asyncio.Future[None] | None:
    """Take the flight of ``slot`` (``None``: this run computes) or a future that ends with it."""
    with _flights_lock:
        flight = _flights.get(slot)
        if flight is None:
            _flights[slot] = _Flight()
            return None
        future = asyncio.get_running_loop().create_future()
        flight.waiters.append((future.get_loop(), future))
        return future


def _land(slot: tuple[int, str]) -> None:
    """End the flight of ``slot``: every run waiting for it looks the key up again."""
    with _flights_lock:
        flight = _flights.pop(slot)
    for loop, future in flight.waiters:
        try:
            loop.call_soon_threadsafe(_wake, future)
        except RuntimeError:
            pass  # that loop is closed: nobody waits there any more


class CachedTask:
    """The result cache of one task: its `Cache` and its code fingerprint."""

    __slots__ = ("_fingerprint", "_fn", "cache", "task_id")

    def __init__(self, task_id: str, cache: Cache) -> None:
        self.task_id = task_id
        self.cache = cache
        self._fn: Any = None
        self._fingerprint = ""

    def __repr__(self) -> str:
        return f"CachedTask({self.task_id!r}, {self.cache!r})"

    def key(self, run: Run, i: int, args: list[Any], kwargs: dict[str, Any]) -> str:
        """The cache key of this call. Raises `CacheKeyError`."""
        fn = run.program.fns[i]
        if fn is not self._fn:
            self._fn, self._fingerprint = fn, source_fingerprint(fn)
        receiver = getattr(run.program.binders[i], "receiver", ())  # the instance of a method: not an input
        context = run.program.context_params
        inputs = kwargs
        if context is not None and context[i]:
            inputs = {k: v for k, v in kwargs.items() if k not in context[i]}
        return cache_key(
            run.names[i],
            self._fingerprint,
            self.cache.version,
            inputs,
            args[len(receiver) :] if args else (),
            self.cache.key,
        )

    async def serve(self, run: Run, i: int, args: list[Any], kwargs: dict[str, Any], compute: Compute) -> Any:
        store: RunStore | None = run.store
        if store is None:
            raise RuntimeError(
                f"Task '{run.names[i]}' is cached but its run has no store."
            )  # refused at run start
        try:
            key = self.key(run, i, args, kwargs)
        except Exception:
            _outcome(run, i, "miss")
            raise
        slot = (id(store), key)
        while True:
            found = await self._lookup(run, store, key)
            if found is not None:
                return _hit(run, i, found.value)
            waiting = _board(slot)
            if waiting is None:
                break
            await waiting  # another run of this process computes it: look again when it is done
        try:
            return await self._compute(run, i, store, key, compute)
        finally:
            _land(slot)

    async def _lookup(self, run: Run, store: RunStore, key: str) -> CacheEntry | None:
        ttl = self.cache.seconds
        return await store.cache_get(key, None if ttl is None else run.wall(run._now()) - ttl)

    async def _compute(self, run: Run, i: int, store: RunStore, key: str, compute: Compute) -> Any:
        """Claim the key and compute it; while another process holds it, wait for its entry."""
        owner = f"{run.run_id}/{i}"
        pause = _POLL_FIRST
        while True:
            claimed = False
            try:
                claimed = await store.cache_claim(key, owner, run.wall(run._now()), LEASE)
                if claimed:
                    found = await self._lookup(run, store, key)  # put by another process meanwhile?
                    if found is not None:
                        return _hit(run, i, found.value)
                    _outcome(run, i, "miss")
                    value = await compute()
                    self._put(run, i, store, key, value)
                    return value
            except BaseException:
                claimed = True  # a claim cancelled in flight may have been taken: give it back
                raise
            finally:
                if claimed:
                    store.cache_release(key, owner)
            await asyncio.sleep(pause)
            pause = min(pause * 2, _POLL_MAX)
            found = await self._lookup(run, store, key)
            if found is not None:
                return _hit(run, i, found.value)

    def _put(self, run: Run, i: int, store: RunStore, key: str, value: Any) -> None:
        name = run.names[i]
        try:
            reason = store.cache_put(CacheEntry(key, name, run.wall(run._now()), run.run_id, value))
        except Exception as exc:  # the store was closed meanwhile: the task still completed
            logger.warning("the result of task %r was not cached: %s: %s", name, type(exc).__name__, exc)
            return
        if reason is not None:
            try:
                warnings.warn(
                    UnstorableResultWarning(
                        f"The result of task '{name}' is not cached: {reason}. The task runs again next time."
                    ),
                    stacklevel=2,
                )
            except Warning:
                pass  # warnings turned into errors: the task's own outcome is what matters here


def _outcome(run: Run, i: int, outcome: str) -> None:
    outcomes = run.cache_outcomes
    if outcomes is None:
        outcomes = run.cache_outcomes = {}
    outcomes[i] = outcome
    if run.bus is not None:
        run._task_event(f"task_cache_{outcome}", i, 1)


def _hit(run: Run, i: int, value: Any) -> Any:
    run.attempts[i] = []  # no attempt ran: the report shows none, task_success says attempt 0
    outcomes = run.cache_outcomes
    if outcomes is None:
        outcomes = run.cache_outcomes = {}
    outcomes[i] = "hit"
    if run.bus is not None:
        run._task_event("task_cache_hit", i, 0, result=value)
    return value
