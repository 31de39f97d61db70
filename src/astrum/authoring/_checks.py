"""Build stage 2, check signatures: every parameter gets a value it can take, and each task's
settings fit the build's configuration.

`signature_problems` is the rule both builds follow (a plain function is one the
one-pass build compiles only when it finds nothing); the rest checks the general build's
tasks and reports problems grouped by kind.
"""

from __future__ import annotations

import inspect
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._errors import TaskRegistrationError
from ..core._process import picklable_problem
from ._cachecheck import cache_problems
from ._executors import executor_problems
from ._mapspec import map_problems
from ._methods import duplicate_instances, find_receiver, owner_label
from ._rates import pool_names

if TYPE_CHECKING:
    from ._config import AstrumConfig
    from ._inject import Input
    from ._prepare import Prepared
    from ._tasks import RegisteredTask
    from ._transport import ParamInfo

__all__ = ["check_options", "check_tasks", "signature_problems"]

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def signature_problems(
    tid: str, params: Sequence[ParamInfo], inputs: Sequence[Input], provided: Collection[Any] = ()
) -> list[str]:
    """What is wrong with how task ``tid``'s parameters receive their values.

    Every parameter must be fed by keyword (an injected one may not be positional-only)
    or have a default, and every named input must be a parameter (unless ``**kwargs``
    takes it). ``provided``: parameters whose relation is reported elsewhere (not reported
    again as unprovided).
    """
    if _fed_in_order(params, inputs):
        return []
    fed = {inp.target for inp in inputs}
    out: list[str] = []
    for p in params:
        kind = p.kind
        if kind in _VARIADIC:
            continue
        if p.name in fed or p.name in provided:
            if kind is inspect.Parameter.POSITIONAL_ONLY:
                out.append(
                    f"Task '{tid}' parameter '{p.name}' is positional-only, but injected values are passed by "
                    "keyword. Remove the '/' from the signature."
                )
            continue
        if not p.has_default:
            out.append(
                f"Task '{tid}' parameter '{p.name}' has no value: no Ref/F relation, data item or default "
                f"provides it. Annotate it as Ref[<type>, F('<task>', ...)] or give it a default."
            )
    names = {p.name for p in params}
    accepts_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    for inp in inputs:
        if isinstance(inp.target, str) and inp.target not in names and not accepts_kwargs and params:
            out.append(
                f"Task '{tid}' receives a value for parameter '{inp.target}', which its signature does not have."
            )
    return out


def _fed_in_order(params: Sequence[ParamInfo], inputs: Sequence[Input]) -> bool:
    """Every parameter is fed by name, in order: nothing to report (the common case)."""
    if len(params) != len(inputs):
        return False
    for p, inp in zip(params, inputs, strict=True):
        if p.kind not in _NAMED or p.name != inp.target:
            return False
    return True


def check_options(tasks: Mapping[str, RegisteredTask], config: AstrumConfig) -> None:
    """Refuse data items without a direction (unless allowed) and two instances of one class.

    Raises:
        TaskRegistrationError: the first of these problems.
    """
    if not config.allow_no_dir_definition:
        for tid, record in tasks.items():
            data = record.data
            if data is None:
                continue
            for item in [*data.input_data_item, *data.output_data_item]:
                if item.from_relation is None or item.to_relation is None:
                    raise TaskRegistrationError(
                        "Data items with no source or target definition are not allowed when "
                        f"allow_no_dir_definition is set to False (task '{tid}')."
                    )
    duplicates = duplicate_instances(config.class_instances)
    if duplicates:
        raise TaskRegistrationError(f"Duplicate class_instances for the same class: {', '.join(duplicates)}")


def check_tasks(
    registry_name: str,
    tasks: Mapping[str, RegisteredTask],
    ordered: Sequence[Prepared],
    config: AstrumConfig,
    *,
    collect_all: bool,
    check_pools: bool,
) -> tuple[list[str], dict[str, tuple[bool, Any]]]:
    """The problems of the selected tasks, in the order they are reported, and the receiver
    found for each class-scoped task.

    Raises:
        TaskRegistrationError: unknown dependencies or missing class instances, unless ``collect_all``.
    """
    problems: list[str] = []
    unknown: list[str] = []
    receivers: dict[str, tuple[bool, Any]] = {}
    missing: dict[str, list[str]] = {}
    pool_problems: list[str] = []
    call_problems: list[str] = []
    names = pool_names(config.pools, config.rates)
    for prep in ordered:
        record = prep.record
        tid = record.task_id
        problems.extend(prep.spec.problems)
        problems.extend(prep.problems)
        unknown.extend(f"{tid} -> {dep}" for dep in record.depends_on if dep not in tasks)
        receiver = prep.receiver
        if receiver is not None and receiver.kind is not None:
            found, value = find_receiver(receiver, config.class_instances)
            if found:
                receivers[tid] = (True, value)
            else:
                label = owner_label(receiver.owner) if receiver.owner else repr(receiver.call)
                missing.setdefault(label, []).append(tid)
        pool = record.pool
        if pool is not None and pool not in config.pools and pool not in config.rates and check_pools:
            pool_problems.append(
                f"Task '{tid}' uses pool '{pool}', which the configuration does not define "
                f"(pools: {names}). Add it: AstrumConfig(pools={{'{pool}': <size>}}) "
                f"or AstrumConfig(rates={{'{pool}': '60/min'}})."
            )
        if prep.spec.params or prep.inputs:
            call_problems.extend(_signature_problems(prep))
        if record.map is not None:
            call_problems.extend(map_problems(prep))
        if record.isolation == "process":
            call_problems.extend(_isolation_problems(prep, receivers.get(tid)))
        if (record.executor is not None and check_pools) or config.default_executor is not None:
            call_problems.extend(
                executor_problems(prep, receivers.get(tid), config.executors, config.default_executor)
            )
        if record.cache is not None:
            call_problems.extend(cache_problems(prep))
    _grouped(problems, unknown, missing, registry_name, collect_all)
    problems.extend(pool_problems)
    problems.extend(call_problems)
    return problems, receivers


def _grouped(
    problems: list[str],
    unknown: list[str],
    missing: dict[str, list[str]],
    registry_name: str,
    collect_all: bool,
) -> None:
    """Add (or raise, unless ``collect_all``) one message for unknown dependencies and one for
    missing class instances."""
    if unknown:
        message = (
            f"Registry '{registry_name}' has unknown dependencies: {sorted(unknown)}. "
            "Register these tasks, or remove them from depends_on."
        )
        if not collect_all:
            raise TaskRegistrationError(message, problems=unknown)
        problems.append(message)
    if missing:
        detail = "; ".join(f"{label}: {sorted(ids)}" for label, ids in missing.items())
        message = (
            f"Missing class_instances for class-scoped tasks: {detail}. "
            "Pass the instances with AstrumConfig(class_instances=[...])."
        )
        if not collect_all:
            raise TaskRegistrationError(message)
        problems.append(message)


def _signature_problems(prep: Prepared) -> list[str]:
    """`signature_problems` of a prepared task: a relation whose annotation, source or data
    item could not be resolved is already reported, so its parameter counts as provided."""
    spec = prep.spec
    if _fed_in_order(spec.params, prep.inputs):
        return []
    provided = {ref.param for ref in spec.inputs}.union(spec.context_params, spec.unresolved, prep.unresolved)
    return signature_problems(prep.record.task_id, spec.params, prep.inputs, provided)


def _isolation_problems(prep: Prepared, receiver: tuple[bool, Any] | None) -> list[str]:
    """A process-isolated task's function (and receiver) must be picklable."""
    tid = prep.record.task_id
    out: list[str] = []
    problem = picklable_problem(prep.receiver.call if prep.receiver is not None else prep.record.function)
    if problem is not None:
        out.append(
            f"Task '{tid}' uses isolation='process' but its function cannot be sent to a worker process "
            f"({problem}). Define it at module level (not inside a function, not a lambda), or use "
            "isolation='thread'."
        )
    if receiver is not None:
        problem = picklable_problem(receiver[1])
        if problem is not None:
            out.append(
                f"Task '{tid}' uses isolation='process' but its instance cannot be sent to a worker process "
                f"({problem})."
            )
    return out
