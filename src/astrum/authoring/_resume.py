"""Resuming a recorded run: a new run that reuses the stored results of the tasks it completed.

The registry builds the run's targets again; the stored graph (one `TaskShape` per
task: source fingerprint, inputs, dependencies) is compared with the new build, task by task.
A task whose stored result can still serve the new graph is *reused*: in the new run's
program it is a coroutine returning the stored value (decoded by the store's codec, exactly
what the first run injected downstream), with no inputs, no policy and no pool. Everything
else runs: what did not complete, what the store could not keep, ``from_tasks`` and what
changed (with ``allow_changed``), each with its descendants.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._errors import ResumeError
from ..core._map_records import instance_name
from ..core._program import ASYNC, Program
from ..store._base import TaskShape, UnstorableResultWarning
from ..store._facts import graph_facts
from ._config import AstrumConfig, check_store

if TYPE_CHECKING:
    from ..lifecycle._context import RunContext
    from ..report._report import ExecutionReport
    from ..store._base import RunStore
    from ._registry import SchedulerRegistry

__all__ = ["changes_between", "pick_store", "resume_run"]


def pick_store(run_id: str, store: Any, config: AstrumConfig | None) -> RunStore:
    """The store to resume ``run_id`` from: ``store``, else ``config.store``.

    Raises:
        ResumeError: neither is given.
        ConfigurationTypeError: ``store`` is not a run store.
    """
    if store is not None:
        return check_store(store, "resume(store=...)")  # type: ignore[no-any-return]
    if config is not None and config.store is not None:
        return config.store  # type: ignore[no-any-return]
    raise ResumeError(
        f"resume({run_id!r}) needs the run store that recorded the run: pass store=SQLiteStore(path) "
        "(or MemoryStore) or config=AstrumConfig(store=...)."
    )


async def resume_run(
    registry: SchedulerRegistry,
    run_id: str,
    *,
    from_tasks: Sequence[str] | None,
    store: RunStore | None,
    config: AstrumConfig | None,
    context: RunContext[Any] | None,
    allow_changed: bool,
) -> ExecutionReport:
    """`SchedulerRegistry.resume` (see there)."""
    chosen = pick_store(run_id, store, config)
    record = chosen.run(run_id)
    stored = chosen.report(run_id)
    if stored.execution_state == "running":
        raise ResumeError(
            f"Run {run_id} is still running (the process recording it is alive, or on another host); "
            "resume it once it has ended."
        )
    wanted = [from_tasks] if isinstance(from_tasks, str) else list(from_tasks or ())
    unknown = [name for name in wanted if name not in record.tasks]
    if unknown:
        raise ResumeError(
            f"Cannot resume run {run_id} from {unknown}: the run has no such task(s). "
            f"Its tasks: {list(record.tasks)}."
        )

    registered = set(registry.list_tasks())
    changes = {
        name: f"task '{name}' is no longer registered in '{registry.name}'"
        for name in record.tasks
        if name not in registered
    }
    targets = None if record.targets is None else [t for t in record.targets if t in registered]
    if targets is not None and not targets:
        raise ResumeError(
            f"Cannot resume run {run_id}: none of its targets {list(record.targets or ())} is registered in "
            f"'{registry.name}' any more. Register them, or start a new run."
        )
    if config is None:
        config = AstrumConfig()
    scheduler = registry.build_scheduler(targets, config=config)
    program: Program = scheduler._program
    current = graph_facts(program).shapes
    changes.update(changes_between(record.tasks, current, skip=changes))
    if changes and not allow_changed:
        listed = "\n".join(f"  - {reason}" for reason in changes.values())
        raise ResumeError(
            f"Cannot resume run {run_id}: its graph changed since it ran, so its stored results cannot "
            f"serve the new one:\n{listed}\nPass allow_changed=True (astrum resume --force) to run the "
            "changed tasks and their descendants again and reuse the rest, or start a new run."
        )

    graph = program.graph
    rerun = _descendants(graph.index, graph.children, [*wanted, *changes])
    results = stored.results
    reused = {name: results[name] for name in graph.names if name in results and name not in rerun}
    lost = chosen.unstorable(run_id)
    for name in graph.names:
        if name in lost and name not in rerun:
            warnings.warn(
                UnstorableResultWarning(
                    f"Resuming run {run_id}: the result of task '{name}' was not stored ({lost[name]}); "
                    "the task runs again."
                ),
                stacklevel=3,
            )
    items = reused_items(program, reused, rerun, results)
    if reused or items:
        scheduler._program = _reusing(program, reused, items)
    scheduler.store = chosen
    scheduler._store_label = {
        "namespace": registry.name,
        "targets": targets,
        "resumed_from": run_id,
        "reused": (
            *reused,
            *(instance_name(task, k) for task, found in items.items() for k in sorted(found)),
        ),
    }
    report: ExecutionReport = await scheduler.execute(context=context)
    return report


def changes_between(
    stored: Mapping[str, TaskShape], current: Mapping[str, TaskShape], *, skip: Iterable[str] = ()
) -> dict[str, str]:
    """``{task: what changed}`` for each stored task the current graph lacks or has changed."""
    skipped = set(skip)
    out: dict[str, str] = {}
    for name, old in stored.items():
        if name in skipped:
            continue
        new = current.get(name)
        if new is None:
            out[name] = f"task '{name}' is no longer part of the run's graph"
            continue
        reasons = _differences(old, new)
        if reasons:
            out[name] = f"task '{name}': " + "; ".join(reasons)
    return out


def _differences(old: TaskShape, new: TaskShape) -> list[str]:
    out: list[str] = []
    if old.fingerprint != new.fingerprint:
        out.append("its code changed")
    if tuple(old.inputs) != tuple(new.inputs):
        before = {param: (source, locator) for param, source, locator in old.inputs}
        after = {param: (source, locator) for param, source, locator in new.inputs}
        for param in sorted(before.keys() | after.keys()):
            was, now = before.get(param), after.get(param)
            if was == now:
                continue
            if was is None:
                out.append(f"its parameter '{param}' now receives {_relation(now)}")
            elif now is None:
                out.append(f"its parameter '{param}' no longer receives {_relation(was)}")
            else:
                out.append(f"its parameter '{param}' receives {_relation(now)}, it received {_relation(was)}")
    if set(old.depends_on) != set(new.depends_on):
        added = sorted(set(new.depends_on) - set(old.depends_on))
        removed = sorted(set(old.depends_on) - set(new.depends_on))
        parts = ([f"now on {added}"] if added else []) + ([f"no longer on {removed}"] if removed else [])
        out.append(f"its dependencies changed ({', '.join(parts)})")
    return out


def _relation(relation: tuple[str, str] | None) -> str:
    """``F('load', 'rows')`` from a stored ``(source, locator repr)``."""
    assert relation is not None
    source, locator = relation
    if not source:
        return locator  # from_function ... / constant ...
    return f"F({source!r})" if locator == "None" else f"F({source!r}, {locator})"


def _descendants(
    index: Mapping[str, int], children: Sequence[Sequence[int]], roots: Iterable[str]
) -> set[str]:
    """``roots`` (those in the graph) and every task downstream of them, by name."""
    names = {i: name for name, i in index.items()}
    seen: set[int] = set()
    stack = [index[name] for name in roots if name in index]
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        stack.extend(children[i])
    return {names[i] for i in seen}


def reused_items(
    program: Program, reused: Mapping[str, Any], rerun: set[str], results: Mapping[str, Any]
) -> dict[str, dict[int, Any]]:
    """``{mapped task: {item: stored result}}`` of the instance results a resumed run reuses.

    A mapped task that runs again reuses the results of its instances that completed when its
    inputs are the ones they had: every task it depends on is reused, and it did not change.
    """
    graph = program.graph
    out: dict[str, dict[int, Any]] = {}
    for i, policy in enumerate(program.policies):
        if policy is None or policy.fanout is None:
            continue
        name = graph.names[i]
        if name in reused or name in rerun or any(graph.names[p] not in reused for p in graph.parents[i]):
            continue
        prefix = name + "["
        found = {
            int(key[len(prefix) : -1]): value
            for key, value in results.items()
            if key.startswith(prefix) and key.endswith("]") and key[len(prefix) : -1].isdigit()
        }
        if found:
            out[name] = found
    return out


def _reusing(
    program: Program, reused: Mapping[str, Any], items: Mapping[str, Mapping[int, Any]] | None = None
) -> Program:
    """A copy of ``program`` in which each reused task returns its stored result at once, and each
    mapped task in ``items`` reuses those stored instance results."""
    index = program.graph.index
    fns, kinds, binders, policies = (
        list(program.fns),
        list(program.kinds),
        list(program.binders),
        list(program.policies),
    )
    context_params = None if program.context_params is None else list(program.context_params)
    pools = None if program.pools is None else list(program.pools)
    for name, value in reused.items():
        i = index[name]
        fns[i] = _stored(value)
        kinds[i] = ASYNC
        binders[i] = None
        policies[i] = None
        if context_params is not None:
            context_params[i] = ()
        if pools is not None:
            pools[i] = -1
    for name, found in (items or {}).items():
        i = index[name]
        policy = policies[i]
        assert policy is not None
        policies[i] = dataclasses.replace(
            policy, fanout=dataclasses.replace(policy.fanout, reuse=dict(found))
        )
    copy = dataclasses.replace(
        program,
        fns=fns,
        kinds=kinds,
        binders=binders,
        policies=policies,
        context_params=context_params if context_params is None or any(context_params) else None,
        pools=pools if pools is None or any(p >= 0 for p in pools) else None,
    )
    copy.store_facts = program.store_facts  # the stored shapes are the real tasks', not these stand-ins
    return copy


def _stored(value: Any) -> Callable[[], Any]:
    async def stored_result() -> Any:
        return value

    return stored_result
