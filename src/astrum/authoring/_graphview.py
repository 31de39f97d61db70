"""A registry's task graph as the build compiles it, for the renderers (``registry.to_mermaid()``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..viz._mermaid import GraphEdge, GraphNode, locator_label, mermaid_flowchart
from ._config import AstrumConfig

if TYPE_CHECKING:
    from ._registry import SchedulerRegistry

__all__ = ["registry_graph", "registry_mermaid"]


def registry_graph(
    registry: SchedulerRegistry, target_tasks: Sequence[str] | None = None, config: AstrumConfig | None = None
) -> tuple[list[GraphNode], list[GraphEdge]]:
    """The nodes and edges of the selected tasks, from a full build (every problem raised as a run would).

    Every edge of the compiled graph appears: one labelled edge per input a task reads
    from a parent (arguments, ``T(...)`` pushes, explicit relations), else one dashed
    edge (an ordering-only dependency). Pools are not checked: no run is configured.
    """
    from ._build import build

    config = dataclasses.replace(config or AstrumConfig(), visualize=False, skip_type_check=True)
    # collect_all takes the general build, which keeps each task's resolved inputs.
    result = build(registry, target_tasks, config, collect_all=True, check_pools=False)
    graph = result.graph
    names = graph.names
    nodes: list[GraphNode] = []
    edges: list[GraphEdge] = []
    for name, parents in zip(names, graph.parents, strict=True):
        prep = result.prepared[name]
        record = prep.record
        nodes.append(GraphNode(name, pool=record.pool, retries=record.retry, timeout=record.timeout))
        reads: dict[str, list[str | None]] = {}
        for source, locator, _param, _expected in prep.edges:
            reads.setdefault(source, []).append(locator_label(locator))
        for parent in parents:
            source = names[parent]
            labels = reads.get(source)
            if labels is None:
                edges.append(GraphEdge(source, name, data=False))
            else:
                edges.extend(
                    GraphEdge(source, name, data=True, label=label) for label in dict.fromkeys(labels)
                )
    return nodes, edges


def registry_mermaid(
    registry: SchedulerRegistry, target_tasks: Sequence[str] | None = None, config: AstrumConfig | None = None
) -> str:
    """The Mermaid flowchart of the selected tasks (see :meth:`SchedulerRegistry.to_mermaid`)."""
    nodes, edges = registry_graph(registry, target_tasks, config)
    return mermaid_flowchart(nodes, edges)
