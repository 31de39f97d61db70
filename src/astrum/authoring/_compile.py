"""Build stage 4, compile: per-task lists and a validated graph become a runnable `Program`.

Both builds end here: the one-pass build with the entries made at registration, the
general build with the records it prepared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..core._clock import REAL_CLOCK
from ..core._graph import Graph
from ..core._policies import TaskPolicy
from ..core._program import Binder, Program
from ..report._plan import stage_parallelism
from ._inject import Input, make_binder
from ._rates import pool_table

if TYPE_CHECKING:
    import asyncio

    from ._config import AstrumConfig

__all__ = ["NO_RECEIVER", "compile_program", "task_binder"]

#: A task called without a receiver (anything but a method of a class instance).
NO_RECEIVER: tuple[bool, Any] = (False, None)


def task_binder(
    task: str, inputs: Sequence[Input], index: Mapping[str, int], receiver: tuple[bool, Any] = NO_RECEIVER
) -> Binder | None:
    """The binder of a task's call arguments (``None``: it is called with none).

    ``receiver`` is ``(True, instance)`` for a method called on a class instance.
    """
    has_receiver, value = receiver
    if not inputs and not has_receiver:
        return None
    return make_binder(task, inputs, value, has_receiver, index=index)


def compile_program(
    graph: Graph,
    fns: list[Any],
    kinds: list[int],
    policies: list[TaskPolicy | None],
    inputs: Iterable[Sequence[Input]],
    config: AstrumConfig,
    concurrency_context: asyncio.Semaphore | None,
    *,
    receivers: Iterable[tuple[bool, Any]] | None = None,
    context_params: list[tuple[str, ...]] | None = None,
    pools: list[int] | None = None,
) -> Program:
    """The program of ``graph``'s tasks, from per-task lists in graph order, and the run settings of
    ``config``.

    ``inputs`` are each task's injected values, ``receivers`` (default: none) the instance a
    method is called on. ``concurrency_context`` (a semaphore) replaces ``config.concurrency_limit``
    when given.
    """
    index = graph.index
    if receivers is None:
        binders = [task_binder(task, given, index) for task, given in zip(graph.names, inputs, strict=True)]
    else:
        binders = [
            task_binder(task, given, index, receiver)
            for task, given, receiver in zip(graph.names, inputs, receivers, strict=True)
        ]
    stage_count, max_parallelism = stage_parallelism(graph)
    pool_names, pool_limits, pool_rates = pool_table(config.pools, config.rates)
    return Program(
        graph=graph,
        fns=fns,
        kinds=kinds,
        binders=binders,
        policies=policies,
        tails=frozenset(index[t] for t in config.ignore_tail_task if t in index),
        concurrency_limit=config.effective_concurrency_limit if concurrency_context is None else None,
        semaphore=concurrency_context,
        stage_count=stage_count,
        max_parallelism=max_parallelism,
        failure_policy=config.failure_policy,
        deadline=config.deadline,
        clock=config.clock if config.clock is not None else REAL_CLOCK,
        context_params=context_params,
        pools=pools,
        pool_names=pool_names,
        pool_limits=pool_limits,
        pool_rates=pool_rates,
    )
