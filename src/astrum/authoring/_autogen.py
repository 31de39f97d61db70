"""``auto_generate_data_transports``: explicit ``TaskData`` derived from ``Ref`` annotations."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._errors import TaskRegistrationError
from ..core._graph import TaskOrder
from ._sources import Problem, Resolver
from ._taskdata import DataItem, DTRela, TaskData, normalize_data_model
from ._tasks import RegisteredTask
from ._transport import NO_ANNOTATION, TaskNames, parse_callable, reference_name, underlying_function

__all__ = ["auto_generate_data_transports"]


def _model(tp: Any) -> Any:
    if tp is NO_ANNOTATION:
        return None
    try:
        return normalize_data_model(tp)
    except ValueError:
        return None


def _relation(task: str, locator: Any) -> DTRela:
    if locator is None:
        return DTRela(related_task=task, single_item=True)
    if isinstance(locator, int):
        return DTRela(related_task=task, index=locator)
    return DTRela(related_task=task, key=locator)


def _shared_callables(task_func_map: Mapping[str, Callable[..., Any]]) -> list[str]:
    """One problem per callable that two task ids map to."""
    first_id: dict[int, str] = {}
    problems: list[str] = []
    for tid, fn in task_func_map.items():
        owner = first_id.setdefault(id(underlying_function(fn)), tid)
        if owner != tid:
            problems.append(
                f"Callable task reference is ambiguous: task ids '{owner}' and '{tid}' refer to the same "
                f"callable ('{reference_name(fn)}'). Map each task id to a callable of its own."
            )
    return problems


def auto_generate_data_transports(
    task_orders: Sequence[TaskOrder], task_func_map: Mapping[str, Callable[..., Any]]
) -> list[TaskData]:
    """One `TaskData` per task reachable from ``task_orders``, from its annotations.

    Args:
        task_orders: the orders to start from (their dependencies are followed).
        task_func_map: ``{task_id: callable}``; callable references resolve against it.

    Raises:
        TaskRegistrationError: (a ``ValueError``) every annotation problem found, and every
            callable mapped from two task ids (a reference to it could name either).
    """
    records = {tid: RegisteredTask(tid, fn, (), 0) for tid, fn in task_func_map.items()}
    resolver = Resolver(records)
    names = TaskNames(records)
    seen: dict[str, None] = {}
    queue: deque[TaskOrder | str] = deque(task_orders)
    while queue:
        order = queue.popleft()
        name = order.task_name if isinstance(order, TaskOrder) else order
        if name in seen:
            continue
        seen[name] = None
        if isinstance(order, TaskOrder):
            queue.extend(order.dependencies)
    problems = _shared_callables(task_func_map)
    out: list[TaskData] = []
    for tid in seen:
        fn = task_func_map.get(tid)
        if fn is None:
            continue
        spec = parse_callable(tid, fn, names)
        problems.extend(spec.problems)
        data = TaskData(task_id=tid)
        for ref in spec.inputs:
            try:
                source = resolver.resolve(ref.source, tid, "input", ref.param)
            except Problem as exc:
                problems.append(str(exc))
                continue
            data.input_data_item.append(
                DataItem(
                    allow_data_model=_model(ref.expected),
                    from_relation=_relation(source, ref.locator),
                    to_relation=DTRela(related_task=tid, key=ref.param),
                )
            )
            if source not in data.from_tasks:
                data.from_tasks.append(source)
        for push in spec.pushes:
            try:
                target = resolver.resolve(push.target, tid, "return")
            except Problem as exc:
                problems.append(str(exc))
                continue
            local = _relation(tid, push.local)
            if push.target_param is None:
                to = DTRela(related_task=target)
            elif isinstance(push.target_param, int):
                to = DTRela(related_task=target, index=push.target_param)
            else:
                to = DTRela(related_task=target, key=push.target_param)
            data.output_data_item.append(
                DataItem(allow_data_model=_model(push.expected), from_relation=local, to_relation=to)
            )
            data.to_tasks.append(target)
        out.append(data)
    if problems:
        raise TaskRegistrationError(
            "Data transport validation failed with the following errors:\n- " + "\n- ".join(problems),
            problems=problems,
        )
    return out
