"""Exceptions raised by astrum.

The tree::

    SchedulerError (AstrumError)
    ├── TaskOrderLoopError          the graph has a cycle (``.errors``, ``.cycle``)
    ├── TaskOrderNoExitError        every task depends on another task
    ├── TaskDependencyError         duplicate task names or unknown dependencies
    ├── TaskNotFoundError           an ordered task has no callable (``.task_name``)
    ├── TaskDuplicateExecutionError a task would start twice (``.task_name``)
    ├── TaskRegistrationError       bad registration or build (also a ``ValueError``)
    ├── ConfigurationError          a bad option or argument (also a ``ValueError``)
    │   ├── ConfigurationTypeError  ... of the wrong type (also a ``TypeError``)
    │   └── DataItemError           ``DataItem(...)`` refused (also pydantic's ``ValidationError``)
    ├── TaskInputError              an injected value could not be read (also a ``LookupError``)
    ├── TaskTimeoutError            an attempt ran out of time (also a ``TimeoutError``)
    ├── ProcessTaskError            a process-isolated task could not run or report back
    │                               (also a ``RuntimeError``)
    ├── MappedInputError            a mapped task's lists are not lists, or differ in length
    │                               (also a ``ValueError``)
    ├── MappedTaskError             instances of a mapped task failed (``.failures``)
    ├── RunStoreError               a run store is closed, too new, or could not write
    │   └── UnknownRunError         no run with this id in the store (also a ``LookupError``)
    ├── ResumeError                 a run cannot be resumed as asked (also a ``ValueError``)
    ├── CacheKeyError               a cached task's input has no stable form for its cache key
    │                               (also a ``TypeError``; ``.task_name``, ``.parameter``)
    └── StoredTaskError             stands in for a task's exception in a report read from a store

Task failures are never raised by a run: they are recorded in the
`ExecutionReport`, with the original exception object kept
(``TaskInputError``, ``TaskTimeoutError``, ``ProcessTaskError``, ``CacheKeyError`` and the
mapped-task errors are
recorded there too).
``DataItemError`` lives in ``astrum.authoring._taskdata`` (it needs pydantic), ``TaskInputError``
in ``astrum.authoring._inject``, ``ProcessTaskError`` in ``astrum.core._process`` and
``StoredTaskError`` in ``astrum.store._rebuild``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "AstrumError",
    "CacheKeyError",
    "ConfigurationError",
    "ConfigurationTypeError",
    "MappedInputError",
    "MappedTaskError",
    "ResumeError",
    "RunStoreError",
    "SchedulerError",
    "TaskDependencyError",
    "TaskDuplicateExecutionError",
    "TaskNotFoundError",
    "TaskOrderLoopError",
    "TaskOrderNoExitError",
    "TaskRegistrationError",
    "TaskTimeoutError",
    "UnknownRunError",
    "describe_exception",
]


class SchedulerError(Exception):
    """Base class of every error astrum raises."""


AstrumError = SchedulerError


class TaskOrderLoopError(SchedulerError):
    """The task graph contains a cycle.

    Attributes:
        errors: one line per detected problem (``"Cycle detected: a -> b -> a"``).
        cycle: the task names along the first cycle found, first name repeated at the end.
    """

    def __init__(self, errors: Sequence[str] | str, cycle: Sequence[str] = ()) -> None:
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        self.cycle = list(cycle)
        super().__init__("\n".join(self.errors))


class TaskOrderNoExitError(SchedulerError):
    """Every task depends on another task, so no task can start."""


class TaskDependencyError(SchedulerError):
    """Duplicate task names, or dependencies on tasks that are not in the graph."""


class TaskNotFoundError(SchedulerError):
    """A task of the order has no callable."""

    def __init__(self, task_name: str) -> None:
        self.task_name = task_name
        super().__init__(f"Task '{task_name}' not found in task list.")


class TaskDuplicateExecutionError(SchedulerError):
    """A task would be started a second time within one run."""

    def __init__(self, task_name: str) -> None:
        self.task_name = task_name
        super().__init__(f"Task '{task_name}' is already scheduled for execution.")


class TaskRegistrationError(SchedulerError, ValueError):
    """A task cannot be registered, or a registry cannot be built.

    Attributes:
        problems: each problem found, one line each (a build collects all of them).
    """

    def __init__(self, message: str, problems: Iterable[str] = ()) -> None:
        self.problems = list(problems) or [message]
        super().__init__(message)


class ConfigurationError(SchedulerError, ValueError):
    """An option or argument has a value astrum cannot use (``AstrumConfig``, ``Retry``, ...)."""


class ConfigurationTypeError(ConfigurationError, TypeError):
    """An option or argument has the wrong type (``AstrumConfig(concurrency_limit="3")``)."""


class TaskTimeoutError(SchedulerError, TimeoutError):
    """An attempt of a task ran longer than its ``timeout``.

    Attributes:
        task_name: the task.
        timeout: the limit in seconds.
    """

    def __init__(self, task_name: str, timeout: float, note: str = "") -> None:
        self.task_name = task_name
        self.timeout = timeout
        detail = f"; {note}" if note else ""
        super().__init__(f"Task '{task_name}' timed out after {timeout:g} s{detail}.")


class MappedInputError(SchedulerError, ValueError):
    """A mapped task (``@task(map=...)``) cannot fan out: a mapped parameter did not receive a list,
    or two zipped lists differ in length. The mapped task fails with it."""


class MappedTaskError(SchedulerError):
    """Instances of a mapped task failed, so its gather failed.

    Attributes:
        task_name: the mapped task.
        failures: a `TaskFailure` per failed instance, in item order.
        total: how many instances the task had.
        partial: the gathered list, a ``TaskFailure`` in place of each failed instance, when a
            consumer asked for partial results (``None`` otherwise).
    """

    def __init__(
        self, task_name: str, failures: Sequence[object], total: int, partial: list[object] | None = None
    ) -> None:
        self.task_name = task_name
        self.failures = list(failures)
        self.total = total
        self.partial = partial
        shown = "; ".join(
            f"{getattr(f, 'task_name', '?')}: {describe_exception(getattr(f, 'error', None) or Exception())}"
            for f in self.failures[:3]
        )
        more = f"; and {len(self.failures) - 3} more" if len(self.failures) > 3 else ""
        super().__init__(
            f"{len(self.failures)} of {total} instances of mapped task '{task_name}' failed: {shown}{more}"
        )


class RunStoreError(SchedulerError):
    """A run store cannot do what was asked: it is closed, its file is from a newer astrum, or a write failed."""


class UnknownRunError(RunStoreError, LookupError):
    """A run store has no run with this id.

    Attributes:
        run_id: the id that was asked for.
    """

    def __init__(self, run_id: str, store: str = "the run store") -> None:
        self.run_id = run_id
        super().__init__(
            f"No run with id {run_id!r} in {store}. List the recorded runs with `astrum runs` "
            "(or store.runs()) and pass one of their ids."
        )


class ResumeError(SchedulerError, ValueError):
    """A stored run cannot be resumed as asked.

    The graph changed in a way its stored results cannot serve (the message names each
    change and says to pass ``allow_changed=True``), ``from_tasks`` names tasks the run does
    not have, the run is still running, or no run store was given.
    """


class CacheKeyError(SchedulerError, TypeError):
    """A cached task's injected input cannot be written in a stable form for its cache key.

    Raised in the task's attempt (the task fails; it is never retried), or by ``key=`` when
    the key function fails or returns something without a stable form.

    Attributes:
        task_name: the task.
        parameter: the parameter whose value has no stable form (``None``: the ``key=`` function).
    """

    def __init__(self, task_name: str, parameter: str | None, message: str) -> None:
        self.task_name = task_name
        self.parameter = parameter
        super().__init__(message)


def describe_exception(exc: BaseException) -> str:
    """Render ``exc`` as ``"TypeName: message"`` (just the type name if the message is empty)."""
    text = str(exc)
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
