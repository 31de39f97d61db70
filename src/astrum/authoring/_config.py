"""``AstrumConfig``: how a registry builds and runs its scheduler."""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from .._errors import ConfigurationError, ConfigurationTypeError
from ..core._policies import check_clock, check_deadline, check_failure_policy
from ._rates import check_rates

__all__ = ["AstrumConfig", "check_store", "config_identity"]

_NO_EXECUTORS: Mapping[str, Any] = MappingProxyType({})


def check_store(store: Any, where: str) -> Any:
    """``store`` if it is a run store.

    Raises:
        ConfigurationTypeError: it is not (also a ``TypeError``).
    """
    from ..store._base import RunStore

    if not isinstance(store, RunStore):
        raise ConfigurationTypeError(
            f"{where} takes a run store such as SQLiteStore('.astrum/runs.db') or MemoryStore(), "
            f"got {type(store).__name__}."
        )
    return store


@dataclass(frozen=True)
class AstrumConfig:
    """Build and run options (a frozen, hashable value).

    Attributes:
        skip_type_check: do not compare producers' return types with consumers' ``Ref`` types.
        infer_via_ast: kept for compatibility (return types are read from annotations).
        strict_topology: kept for compatibility (data relations always add dependencies).
        allow_no_dir_definition: ``False`` rejects explicit data items that lack a source or a target.
        auto_sync_dependencies: kept for compatibility (data relations always add dependencies).
        visualize: print the DAG tree and data-transport matrix at build (needs ``astrum[viz]``).
        silence_warnings: kept for compatibility (builds are quiet by default).
        silence: kept for compatibility.
        concurrency_limit: at most this many tasks run at once (``None`` or <= 0: unbounded).
        ignore_tail_task: task ids whose completion the run does not wait for.
        class_instances: instances whose methods are registered as tasks (``self`` of method tasks).
        validate_values: check every injected value against its ``Ref`` type at run time
            (strict pydantic validation); a mismatch fails the consuming task.
        failure_policy: ``"cancel"`` stops the run at the first final failure; ``"continue"``
            skips only the failed task's descendants and runs every independent branch to the end.
        deadline: seconds the whole run may take; at the deadline running and ready tasks are
            cancelled (worker processes killed) and the rest skipped.
        clock: the clock the engine sleeps and measures on (default: the real clock;
            tests pass `astrum.testing.FakeClock`).
        hooks: `RunHook` objects told about the run's events.
        pools: named concurrency limits, ``{"llm": 2}``; a task joins one with ``@task(pool="llm")``.
        rates: rate limits of named pools, ``{"llm": "60/min"}`` (``N/s``, ``N/sec``, ``N/second``,
            ``N/min``, ``N/minute``, ``N/h``, ``N/hour``): the pool's tasks start at most N times
            per period, one every ``period / N`` seconds, each attempt of a retried task too.
            A pool may have a rate and no entry in ``pools`` (rate-limited only). The wait for
            a start counts as the task's pool wait. Runs on one event loop that give a pool the
            same rate share its tokens (concurrent requests stay under the rate together).
        store: a `RunStore` (``SQLiteStore(path)``, ``MemoryStore()``) every run
            is recorded into, as it happens; ``None`` (default): nothing is recorded. A
            ``store=`` passed to ``run()`` wins over it.
        progress: draw each run live (counts by status, running tasks, retries; needs
            ``astrum[viz]``): ``True`` when the output is a terminal (without rich: a warning,
            once, and no display), ``"force"`` even when it is not, or a rich ``Console`` to draw
            on (if it is a terminal). ``False`` (default) costs nothing.
        executors: named executors for sync tasks, ``{"cpu": ProcessPoolExecutor(2)}``: any
            ``concurrent.futures.Executor``, a ``distributed.Client`` or a Dask scheduler
            address (``astrum[dask]``); a task picks one with ``@task(executor="cpu")``.
        default_executor: the executor of every sync task that names none (``None``: threads).

    Raises:
        ConfigurationError: a bad value (``failure_policy="x"``, a pool size < 1, a rate such as
            ``"0/min"`` or ``"5/day"``, ...); also a ``ValueError``.
        ConfigurationTypeError: a value of the wrong type (``concurrency_limit="3"``, a clock
            without ``now()``); also a ``TypeError``.
    """

    skip_type_check: bool = False
    infer_via_ast: bool = False
    strict_topology: bool = False
    allow_no_dir_definition: bool = True
    auto_sync_dependencies: bool = True
    visualize: bool = False
    silence_warnings: bool = False
    silence: bool = True
    concurrency_limit: int | None = None
    ignore_tail_task: Sequence[str] = field(default_factory=tuple)
    class_instances: Sequence[Any] = field(default_factory=tuple)
    validate_values: bool = False
    failure_policy: str = "cancel"
    deadline: float | None = None
    clock: Any = None
    hooks: Sequence[Any] = field(default_factory=tuple)
    pools: Mapping[str, int] = field(default_factory=dict)
    rates: Mapping[str, str] = field(default_factory=dict)
    store: Any = None
    progress: Any = False
    executors: Mapping[str, Any] = field(default_factory=dict)
    default_executor: str | None = None

    def __post_init__(self) -> None:
        if self.store is not None:
            check_store(self.store, "AstrumConfig(store=...)")
        check_failure_policy(self.failure_policy)
        check_deadline(self.deadline)
        check_clock(self.clock)
        if self.progress is not False:
            from ..viz._progress import check_progress

            check_progress(self.progress)
        object.__setattr__(self, "ignore_tail_task", tuple(self.ignore_tail_task or ()))
        object.__setattr__(self, "class_instances", tuple(self.class_instances or ()))
        object.__setattr__(self, "hooks", tuple(self.hooks or ()))
        pools = dict(self.pools or {})
        for name, size in pools.items():
            if not isinstance(name, str) or isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ConfigurationError(
                    f"pools must map names to positive ints, got {name!r}: {size!r} (e.g. pools={{'llm': 2}})"
                )
        object.__setattr__(self, "pools", pools)
        object.__setattr__(self, "rates", check_rates(self.rates or {}))
        if self.executors or self.default_executor is not None:
            from ._executors import check_executors

            object.__setattr__(self, "executors", check_executors(self.executors, self.default_executor))
        else:  # one shared empty value: the build cache counts this field by identity
            object.__setattr__(self, "executors", _NO_EXECUTORS)
        limit = self.concurrency_limit
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise ConfigurationTypeError(
                f"concurrency_limit must be an int or None, got {limit!r} ({type(limit).__name__}); "
                f"pass a number such as concurrency_limit=8"
            )

    def __hash__(self) -> int:
        return hash((self.skip_type_check, self.concurrency_limit, self.ignore_tail_task, self.visualize))

    @property
    def effective_concurrency_limit(self) -> int | None:
        """``concurrency_limit`` if it bounds anything, else ``None``."""
        limit = self.concurrency_limit
        return limit if limit is not None and limit > 0 else None

    def build_semaphore(self) -> asyncio.Semaphore | None:
        """A new ``asyncio.Semaphore(concurrency_limit)``, or ``None`` when unbounded."""
        limit = self.effective_concurrency_limit
        return asyncio.Semaphore(limit) if limit is not None else None


# In the build cache's key, fields annotated with plain value types count by value and every
# other field (class instances, hooks, the clock, and any field added later) by identity: a
# cached build calls methods of the instances it was built with and tells the hooks it was
# built with, so an equal copy is another configuration.
_VALUE_TYPES = frozenset(
    {
        "bool",
        "int",
        "float",
        "str",
        "int | None",
        "float | None",
        "str | None",
        "Sequence[str]",
        "Mapping[str, int]",
        "Mapping[str, str]",
    }
)
_config_objects = operator.attrgetter(*[f.name for f in fields(AstrumConfig) if f.type not in _VALUE_TYPES])


def _identity(value: Any) -> Any:
    """``id(value)``, or the ids of a tuple's items."""
    return tuple(map(id, value)) if type(value) is tuple else id(value)


def config_identity(config: AstrumConfig) -> tuple[Any, ...]:
    """The identities of ``config``'s object fields.

    They stand before the config in the cache key: a key with other objects differs
    there, before the configs' ``==`` could call ``__eq__`` of the user's objects. The
    cached build holds its config, so these ids are not reused while it is cached.
    """
    return tuple(map(_identity, _config_objects(config)))
