"""The table of registered tasks: ``RegisteredTask`` records and registration.

The build reads a `TaskTable`; ``SchedulerRegistry`` (``_registry.py``, above the
build) is a table that can also be built, validated and run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FunctionType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .._errors import TaskRegistrationError
from ..core._cache import Cache, check_cache
from ..core._policies import Retry, TaskPolicy, as_retry, check_isolation, check_timeout
from ._cachecheck import cached_policy
from ._options import checked_options, default_task_id
from ._plain import PlainEntry, SpecEntry, analysable, plain_entry
from ._transport import parse_plain

if TYPE_CHECKING:
    from ._taskdata import TaskData

__all__ = ["DEFAULT_NAMESPACE", "RegisteredTask", "TaskTable", "default_task_id"]

DEFAULT_NAMESPACE = "default"

F_ = TypeVar("F_")
Fn = TypeVar("Fn", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class RegisteredTask:
    """A task as registered: its id, the object registered, its dependencies and retry count."""

    task_id: str
    function: Any
    depends_on: tuple[str, ...]
    retry: int
    data: TaskData | None = None
    timeout: float | None = None
    isolation: str = "thread"
    retry_policy: Retry | None = None
    pool: str | None = None
    executor: str | None = None
    #: Set by `SchedulerRegistry.override`: what runs instead of ``function``.
    implementation: Any = None
    cache: Cache | None = None
    #: ``@task(map=..., max_parallel=...)``: the mapped parameters (``None``: not mapped), and the most
    #: instances running at once (``None``: no limit of its own).
    map: tuple[str, ...] | None = None
    max_parallel: int | None = None

    @property
    def policy(self) -> TaskPolicy | None:
        """The task's run policy, or ``None`` for a plain call."""
        if self.cache is not None:
            return cached_policy(self)
        if self.retry_policy is None and self.timeout is None and self.isolation == "thread":
            return None
        return TaskPolicy(retry=self.retry_policy, timeout=self.timeout, isolation=self.isolation)


def _set_attribute(obj: Any, name: str, value: Any) -> None:
    try:
        setattr(obj, name, value)
    except (AttributeError, TypeError):
        pass  # bound methods and some builtins take no attributes


class TaskTable:
    """Registered tasks by id, in registration order, and what builds keep about them.

    Registration is thread-safe. Builds never modify registered tasks or
    user-supplied `TaskData`, so builds and runs can be repeated and
    can run concurrently.
    """

    def __init__(self, name: str = DEFAULT_NAMESPACE) -> None:
        self.name = name
        self._tasks: dict[str, RegisteredTask] = {}
        self._lock = threading.RLock()
        # Parsed annotations per registered task; an entry is used while its record is registered.
        self._spec_cache: dict[str, SpecEntry | PlainEntry] = {}
        # Recent builds, reused while the table is unchanged: a registry run per request
        # pays for its build once. Keyed by (version, targets, semaphore identity, config)
        # (see SchedulerRegistry._cached_build).
        self._version = 0
        self._builds: dict[tuple[Any, ...], Any] = {}

    # -- registration --------------------------------------------------------------------

    @overload
    def task(
        self,
        task_id: str | None = None,
        *,
        depends_on: Sequence[str] | None = None,
        data: TaskData | None = None,
        retry: int | Retry = 0,
        timeout: float | None = None,
        isolation: str = "thread",
        pool: str | None = None,
        executor: str | None = None,
        cache: Cache | None = None,
        map: str | Sequence[str] | None = None,
        max_parallel: int | None = None,
    ) -> Callable[[F_], F_]: ...

    @overload
    def task(self, task_id: Fn, /) -> Fn: ...

    def task(
        self,
        task_id: str | Callable[..., Any] | None = None,
        *,
        depends_on: Sequence[str] | None = None,
        data: TaskData | None = None,
        retry: int | Retry = 0,
        timeout: float | None = None,
        isolation: str = "thread",
        pool: str | None = None,
        executor: str | None = None,
        cache: Cache | None = None,
        map: str | Sequence[str] | None = None,
        max_parallel: int | None = None,
    ) -> Any:
        """Decorator registering a function (sync or async) as a task; returns it unchanged.

        Args:
            task_id: the task's id; defaults to the function's ``__name__``.
            depends_on: ids of tasks that must complete first (checked at build).
            data: explicit data-transport description (its ``task_id`` and ``from_tasks`` are filled in).
            retry: extra attempts after a failure: an int (immediate retries) or a `Retry` policy.
            timeout: seconds one attempt may take; a timed-out attempt counts as failed.
            isolation: ``"thread"`` (sync tasks run in a worker thread) or ``"process"`` (a worker
                process, killed at the timeout).
            pool: a named concurrency pool (``AstrumConfig(pools={...})``) the task runs in.
            executor: the named executor (``AstrumConfig(executors={...})``) a sync task runs on.
            cache: reuse results across runs: a `Cache` (docs/caching.md).
            map: the parameter(s) to map over: one instance per item, lists zipped (docs/mapping.md).
            max_parallel: the most instances of a mapped task running at once.

        Raises:
            TaskRegistrationError: duplicate id, or an invalid option (``retry``, ``map``, ...).
        """
        tid = None if callable(task_id) and not isinstance(task_id, str) else task_id

        def decorator(fn: F_) -> F_:
            self.register(
                fn,
                tid,
                depends_on=depends_on,
                data=data,
                retry=retry,
                timeout=timeout,
                isolation=isolation,
                pool=pool,
                executor=executor,
                cache=cache,
                map=map,
                max_parallel=max_parallel,
            )
            return fn

        return decorator(task_id) if tid is None and task_id is not None else decorator  # type: ignore[arg-type]

    def register(
        self,
        fn: Any,
        task_id: str | None = None,
        *,
        depends_on: Sequence[str] | None = None,
        data: TaskData | None = None,
        retry: int | Retry = 0,
        timeout: float | None = None,
        isolation: str = "thread",
        pool: str | None = None,
        executor: str | None = None,
        cache: Cache | None = None,
        map: str | Sequence[str] | None = None,
        max_parallel: int | None = None,
    ) -> RegisteredTask:
        """Register ``fn`` (the non-decorator form of `task`) and return its record."""
        tid = task_id if task_id is not None else default_task_id(fn)
        if not isinstance(tid, str) or not tid:
            raise TaskRegistrationError(f"Task id must be a non-empty string, got {tid!r}.")
        if isinstance(depends_on, str):
            depends_on = [depends_on]
        deps = tuple(depends_on or ())
        for dep in deps:
            if not isinstance(dep, str):
                raise TaskRegistrationError(
                    f"Task '{tid}' depends_on must list task ids (strings), got {dep!r}."
                )
        with self._lock:
            if tid in self._tasks:
                raise TaskRegistrationError(f"Task '{tid}' already exists in registry '{self.name}'.")
            retry_policy = as_retry(retry, tid)
            seconds, mode = check_timeout(timeout, tid), check_isolation(isolation, tid)
            named = pool is not None or executor is not None or map is not None or max_parallel is not None
            mapped = checked_options(tid, fn, pool, executor, map, max_parallel, cache) if named else None
            if data is not None:
                from ._taskdata import TaskData  # pydantic is only loaded when explicit data is used

                if not isinstance(data, TaskData):
                    raise TaskRegistrationError(
                        f"Task '{tid}' data must be a TaskData, got {type(data).__name__}."
                    )
                data.task_id = tid
                for dep in deps:
                    if dep not in data.from_tasks:
                        data.from_tasks.append(dep)
            record = RegisteredTask(
                task_id=tid,
                function=fn,
                depends_on=deps,
                retry=retry_policy.retries if retry_policy else 0,
                data=data,
                timeout=seconds,
                isolation=mode,
                retry_policy=retry_policy,
                pool=pool,
                executor=executor,
                cache=check_cache(cache, tid),
                map=mapped,
                max_parallel=max_parallel,
            )
            self._tasks[tid] = record
            self._changed()
            if analysable(record):
                self._analyse(record)
        marks = {
            "_scheduler_task_id": tid,
            "_scheduler_registry": self.name,
            "_scheduler_depends_on": deps,
            "_scheduler_retry": record.retry,
        }
        if data is not None:
            marks["_scheduler_task_data"] = data
        if type(fn) is FunctionType:
            fn.__dict__.update(marks)
        else:
            for key, value in marks.items():
                _set_attribute(fn, key, value)
        return record

    def _analyse(self, record: RegisteredTask) -> None:
        """Parse an analysable function's signature now, when nothing a build is given can change it.

        Evaluated annotations (the common case) are parsed once here; string annotations are
        parsed by the build, which knows the task names they may use.
        """
        spec = parse_plain(record.function)
        if spec is not None:
            self._spec_cache[record.task_id] = plain_entry(record, spec)

    def _changed(self) -> None:
        """Forget cached builds (called with the lock held whenever the task set changes)."""
        self._version += 1
        self._builds.clear()

    # -- queries -------------------------------------------------------------------------

    def get_task(self, task_id: str) -> RegisteredTask:
        """The record of ``task_id``.

        Raises:
            TaskRegistrationError: no such task.
        """
        try:
            return self._tasks[task_id]
        except KeyError:
            raise TaskRegistrationError(f"Task '{task_id}' is not registered in '{self.name}'.") from None

    def get_all_tasks(self) -> dict[str, RegisteredTask]:
        """A copy of ``{task_id: RegisteredTask}`` in registration order."""
        with self._lock:
            return dict(self._tasks)

    def list_tasks(self) -> list[str]:
        """The registered task ids, in registration order."""
        with self._lock:
            return list(self._tasks)

    def clear(self) -> None:
        """Drop every task."""
        with self._lock:
            self._tasks.clear()
            self._spec_cache.clear()
            self._changed()

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)
