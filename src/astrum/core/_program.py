"""A compiled, runnable DAG and the vocabulary the engine shares with reports.

A `Program` is everything a run needs, compiled once by a registry build
or by ``DynamicScheduler``: the graph, one callable, binder and policy per task,
and run-wide settings.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import FunctionType
from typing import Any

from ._clock import REAL_CLOCK, Clock
from ._graph import Graph
from ._policies import TaskPolicy
from ._rates import Rate

__all__ = [
    "ASYNC",
    "CANCELLED",
    "COMPLETED",
    "CONTINUE",
    "FAILED",
    "NO_RESULT",
    "SYNC",
    "TIMED_OUT",
    "AttemptRow",
    "Binder",
    "Program",
    "callable_kind",
    "is_fatal",
    "result_slot",
]

# How a task's callable is invoked.
ASYNC = 0  # coroutine function: awaited on the loop
SYNC = 1  # anything else: run in a worker thread; an awaitable result is awaited on the loop

# Per-task outcome codes (kept small: one list slot per task).
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
TIMED_OUT = "timed_out"

CONTINUE = "continue"  # failure policy: keep running what does not depend on a failed task


class _NoResult:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_RESULT"


#: What a run's result slot holds until its task completes. A run has one slot per task,
#: by task index, plus one last slot that stays empty: where inputs from unknown tasks look.
NO_RESULT: Any = _NoResult()


def result_slot(index: Mapping[str, int], source: str | None) -> int:
    """The result slot an input from task ``source`` reads (the empty last slot if unknown)."""
    slot = index.get(source) if source is not None else None
    return len(index) if slot is None else slot


_CO_COROUTINE = inspect.CO_COROUTINE


def is_fatal(exc: BaseException) -> bool:
    """``KeyboardInterrupt``, ``SystemExit`` and the like: they stop the run and are re-raised."""
    return not isinstance(exc, Exception | asyncio.CancelledError)


def callable_kind(fn: Callable[..., Any]) -> int:
    """Classify ``fn`` as ASYNC or SYNC (see module constants)."""
    code = getattr(fn, "__code__", None)
    if code is not None and type(fn) is FunctionType:
        # Fast path for plain functions (the common case).
        if code.co_flags & _CO_COROUTINE:
            return ASYNC
        return SYNC
    target: Any = fn
    while isinstance(target, functools.partial):
        target = target.func
    if inspect.iscoroutinefunction(target):
        return ASYNC
    call = getattr(type(target), "__call__", None)  # noqa: B004 - the async __call__ of a callable object
    if not inspect.isfunction(target) and not inspect.ismethod(target) and inspect.iscoroutinefunction(call):
        return ASYNC
    return SYNC


class Binder:
    """Builds one task's call arguments from the run's results.

    Subclasses implement `bind`; ``needs_await`` tells the engine to
    pass the arguments through `resolve` (for awaitable injected values).
    """

    __slots__ = ()
    needs_await = False

    def bind(self, values: list[Any]) -> tuple[list[Any], dict[str, Any]]:
        """Call arguments from ``values``: each task's result by task index, ``NO_RESULT`` if none."""
        raise NotImplementedError

    async def resolve(self, args: list[Any], kwargs: dict[str, Any]) -> None:
        """Await injected awaitables in place (only called when ``needs_await``)."""


@dataclass(slots=True)
class Program:
    """A compiled, runnable DAG.

    ``fns``, ``kinds``, ``binders`` and ``policies`` are indexed like ``graph.names``;
    a policy of ``None`` means a plain call (the fast path).
    """

    graph: Graph
    fns: list[Callable[..., Any]]
    kinds: list[int]
    binders: list[Binder | None]
    policies: list[TaskPolicy | None]
    tails: frozenset[int] = frozenset()
    concurrency_limit: int | None = None
    semaphore: asyncio.Semaphore | None = None
    stage_count: int = 0
    max_parallelism: int = 0
    failure_policy: str = "cancel"
    deadline: float | None = None
    clock: Clock = REAL_CLOCK
    #: Per task, the parameters that receive the RunContext (``None``: no task takes one).
    context_params: list[tuple[str, ...]] | None = None
    #: Per task, the index of its named pool or -1 (``None``: no pools at all).
    pools: list[int] | None = None
    pool_names: list[str] = field(default_factory=list)
    #: Per pool, its concurrency limit (``math.inf`` for a pool with a rate only).
    pool_limits: list[float] = field(default_factory=list)
    #: Per pool, its rate or ``None`` (``None``: no pool has a rate).
    pool_rates: list[Rate | None] | None = None
    _threaded: bytearray | None = field(default=None, init=False, repr=False, compare=False)
    _chain_next: list[int] | None = field(default=None, init=False, repr=False, compare=False)
    _chained: bool | None = field(default=None, init=False, repr=False, compare=False)
    _inline: bytearray | None = field(default=None, init=False, repr=False, compare=False)
    _cached: list[int] | None = field(default=None, init=False, repr=False, compare=False)
    #: Code objects of task functions whose first step suspended: their tasks skip the inline
    #: first step (it only pays off for coroutines that finish at once).
    suspending: set[Any] = field(default_factory=set, init=False, repr=False, compare=False)
    #: What a run store records about this program's graph, made by ``astrum.store`` for the
    #: first run recorded (``None`` until then; never read by the engine).
    store_facts: Any = field(default=None, init=False, repr=False, compare=False)

    def inline(self) -> bytearray:
        """Per task: an async task whose first step may run inline (see ``astrum.core._inline``)."""
        if self._inline is None:
            self._inline = self._plain_calls(ASYNC)
        return self._inline

    def threaded(self) -> bytearray:
        """Per task: a sync task that runs straight in a worker thread (no asyncio task around it)."""
        if self._threaded is None:
            self._threaded = self._plain_calls(SYNC)
        return self._threaded

    def _plain_calls(self, kind: int) -> bytearray:
        """Per task, 1 for a ``kind`` callable with nothing around the call (no policy, semaphore,
        awaited arguments) that is not a tail task."""
        semaphore_free = self.semaphore is None
        tails = self.tails
        return bytearray(
            k == kind and policy is None and semaphore_free and i not in tails
            and not (binder is not None and binder.needs_await)
            for i, (k, policy, binder) in enumerate(zip(self.kinds, self.policies, self.binders, strict=True))
        )  # fmt: skip

    def chain_next(self) -> list[int] | None:
        """Per threaded task, a child its worker thread may run next (-1: none); ``None`` if no task has one.

        The child must be threaded too, have this task as its only parent, and need
        nothing from the loop (no pool, no RunContext): it becomes ready exactly when
        its parent ends, so the worker runs it at once instead of a round trip to the loop.
        """
        if self._chained is None:
            threaded = self.threaded()
            graph = self.graph
            parents, children = graph.parents, graph.children
            context_params, pools = self.context_params, self.pools
            chain = [-1] * len(threaded)
            found = False
            for i, kids in enumerate(children):
                if not threaded[i] or not kids:
                    continue
                for c in kids:
                    if (
                        threaded[c]
                        and len(parents[c]) == 1
                        and (context_params is None or not context_params[c])
                        and (pools is None or pools[c] < 0)
                    ):
                        chain[i] = c
                        found = True
                        break
            self._chain_next = chain if found else None
            self._chained = found
        return self._chain_next

    def cached_tasks(self) -> list[int]:
        """The tasks whose policy has a result cache (worked out once per program)."""
        if self._cached is None:
            self._cached = [i for i, p in enumerate(self.policies) if p is not None and p.cache is not None]
        return self._cached

    @property
    def retries(self) -> list[int]:
        """Extra attempts per task (0 where no retry policy applies)."""
        return [p.retries if p is not None else 0 for p in self.policies]


AttemptRow = tuple[float, float, str, BaseException | None, float]  # start, end, status, error, delay before
