"""Manual DAGs: ``(name, callable)`` pairs and ``TaskOrder`` objects compiled into a program.

What ``DynamicScheduler`` checks when it is made, and what its first run compiles:
the same `Program` a registry build makes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from types import FunctionType
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationTypeError, SchedulerError, TaskNotFoundError
from ..core._clock import REAL_CLOCK
from ..core._policies import Retry, TaskPolicy, as_retry, check_isolation, check_timeout
from ..core._program import Binder, Program, callable_kind
from ..lifecycle._context import is_context_annotation
from ..report._plan import graph_from_orders, stage_parallelism
from ._inject import Input, item_target, make_binder, relation_locator

if TYPE_CHECKING:
    from ._scheduler import DynamicScheduler
    from ._taskdata import TaskData

__all__ = ["TaskCallable", "compile_orders", "input_from_item", "task_policies", "validate_tasks"]

TaskCallable = Callable[..., Any]


def validate_tasks(tasks: Sequence[tuple[str, TaskCallable]]) -> None:
    """Check ``(name, callable)`` pairs.

    Raises:
        ConfigurationTypeError: duplicate names, non-string names, coroutine objects or
            non-callables (all problems listed).
    """
    problems: list[str] = []
    seen: set[str] = set()
    duplicates: set[str] = set()
    for i, entry in enumerate(tasks):
        if (  # the common case: a fresh (name, function) pair
            type(entry) is tuple
            and len(entry) == 2
            and type(entry[0]) is str
            and entry[0] not in seen
            and (type(entry[1]) is FunctionType or (callable(entry[1]) and not inspect.iscoroutine(entry[1])))
        ):
            seen.add(entry[0])
            continue
        if not isinstance(entry, tuple | list) or len(entry) != 2:
            problems.append(f"Task #{i} must be a (name, callable) pair, got {entry!r}")
            continue
        name, fn = entry
        if not isinstance(name, str):
            problems.append(f"Task #{i} name is not a string: {type(name)}")
            continue
        if name in seen:
            duplicates.add(name)
        seen.add(name)
        if inspect.iscoroutine(fn):
            problems.append(
                f"Task '{name}' 是已 call 的协程对象；当前版本不再支持，请改为直接传入函数引用（不要加括号）。"
                f" (Task '{name}' is an already-called coroutine object; pass the function itself, "
                f"without parentheses.)"
            )
        elif not callable(fn):
            problems.append(
                f"Task '{name}' 不是可调用对象，得到 {type(fn)}。 (Task '{name}' is not callable; got {type(fn)}.)"
            )
    if duplicates:
        problems.insert(0, f"Duplicate task names in tasks: {sorted(duplicates)}")
    if problems:
        raise ConfigurationTypeError("\n".join(problems))


def compile_orders(scheduler: DynamicScheduler) -> Program:
    """The program of a manual scheduler: its task orders, callables, data items and settings.

    Raises:
        TaskNotFoundError: a task has no callable.
        SchedulerError: duplicate names, unknown dependencies, a cycle, a data item without source.
    """
    graph = graph_from_orders(scheduler.task_order)
    names = graph.names
    fns = _fns_in_order(scheduler.tasks, names, lambda: scheduler._callables)
    bindings: dict[str, Binder] = {
        name: _binder_from_task_data(name, data, fns[graph.index[name]], graph.index)
        for name, data in scheduler.task_data_refs.items()
        if name in graph.index and data.input_data_item
    }
    stage_count, max_parallelism = stage_parallelism(graph)
    limit = scheduler.concurrency_limit
    clock = scheduler.clock
    return Program(
        graph=graph,
        fns=fns,
        kinds=[callable_kind(fn) for fn in fns],
        binders=[bindings.get(name) for name in names] if bindings else [None] * len(names),
        policies=task_policies(
            names, scheduler.task_retries, scheduler.task_timeouts, scheduler.task_isolation
        ),
        tails=frozenset(graph.index[n] for n in scheduler.ignore_tail_task if n in graph.index),
        concurrency_limit=limit if limit and limit > 0 else None,
        semaphore=scheduler.concurrency_context,
        stage_count=stage_count,
        max_parallelism=max_parallelism,
        failure_policy=scheduler.failure_policy,
        deadline=scheduler.deadline,
        clock=clock if clock is not None else REAL_CLOCK,
        context_params=_context_params(fns),
    )


def _fns_in_order(
    tasks: list[tuple[str, TaskCallable]],
    names: Sequence[str],
    callables: Callable[[], Mapping[str, TaskCallable]],
) -> list[TaskCallable]:
    """The callable of each task of ``names``, in that order.

    Raises:
        TaskNotFoundError: a task has no callable.
    """
    if len(tasks) == len(names):  # usually listed in the same order: no name lookups then
        fns: list[TaskCallable] = []
        for (task_name, fn), name in zip(tasks, names, strict=True):
            if fn is None or (task_name is not name and task_name != name):
                break
            fns.append(fn)
        else:
            return fns
    by_name = callables()
    fns = []
    for name in names:
        found = by_name.get(name)
        if found is None:
            raise TaskNotFoundError(name)
        fns.append(found)
    return fns


def task_policies(
    names: Sequence[str],
    retries: dict[str, int | Retry],
    timeouts: dict[str, float],
    isolation: dict[str, str],
) -> list[TaskPolicy | None]:
    """Per-task policies from the manual scheduler's dictionaries (``None``: a plain call).

    Raises:
        TaskRegistrationError: an invalid retry, timeout or isolation.
    """
    if not retries and not timeouts and not isolation:
        return [None] * len(names)
    out: list[TaskPolicy | None] = []
    for name in names:
        retry = as_retry(retries.get(name, 0), name)
        timeout = check_timeout(timeouts.get(name), name)
        mode = check_isolation(isolation.get(name, "thread"), name)
        if retry is None and timeout is None and mode == "thread":
            out.append(None)
        else:
            out.append(TaskPolicy(retry=retry, timeout=timeout, isolation=mode))
    return out


def _context_params(fns: Sequence[TaskCallable]) -> list[tuple[str, ...]] | None:
    """Per task, the parameters annotated ``RunContext`` (``None`` when no task has one)."""
    found: list[tuple[str, ...]] = []
    any_found = False
    seen: dict[int, tuple[str, ...]] = {}  # tasks often share a callable
    for fn in fns:
        names = seen.get(id(fn))
        if names is None:
            annotations = getattr(fn, "__annotations__", None)
            names = (
                tuple(
                    name
                    for name, annotation in annotations.items()
                    if name != "return" and is_context_annotation(annotation)
                )
                if annotations
                else ()
            )
            seen[id(fn)] = names
            any_found = any_found or bool(names)
        found.append(names)
    return found if any_found else None


def _binder_from_task_data(
    task: str, data: TaskData, fn: TaskCallable | None, index: Mapping[str, int]
) -> Binder:
    """Compile explicit `TaskData` inputs into a binder (``index``: the program's task indices).

    A ``to_relation.index`` is mapped to the parameter at that position, so
    ``index=1`` fills the second parameter (keyword), not the first.
    """
    params: list[str] = []
    if fn is not None:
        try:
            params = [
                p.name
                for p in inspect.signature(fn).parameters.values()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            ]
        except (TypeError, ValueError):
            params = []
    inputs: list[Input] = []
    for item in data.input_data_item:
        inputs.append(input_from_item(task, item, params))
    return make_binder(task, inputs, index=index)


def input_from_item(task: str, item: Any, params: Sequence[str]) -> Input:
    """Translate one explicit input ``DataItem`` into an `Input`."""
    source_rel = item.from_relation
    target = item_target(item, params)
    if source_rel is None:
        raise SchedulerError(
            f"Task '{task}' has an input data item without from_relation; say where it comes from."
        )
    if source_rel.from_function is not None:
        return Input(target=target, source=None, from_function=source_rel.from_function, use_function=True)
    return Input(target=target, source=source_rel.related_task, locator=relation_locator(source_rel))
