"""A registry's task graph as the build compiles it, for the renderers (``registry.to_mermaid()``)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ..viz._mermaid import GraphEdge, GraphNode, locator_label, mermaid_flowchart
from ._config import AstrumConfig

if TYPE_CHECKING:
    from ._build import BuildResult

__all__ = ["build_graph", "build_mermaid", "drawing_config"]


def drawing_config(config: AstrumConfig | None) -> AstrumConfig:
    """The configuration a drawing builds with: ``config`` (class instances...) without output or type checks.

    Build it with ``collect_all=True``: the general build keeps each task's resolved
    inputs, and every problem is raised at once as by ``validate()``.
    """
    return dataclasses.replace(config or AstrumConfig(), visualize=False, skip_type_check=True)


def build_graph(result: BuildResult) -> tuple[list[GraphNode], list[GraphEdge]]:
    """The nodes and edges of a general build's compiled graph.

    Every edge of the graph appears: one labelled edge per input a task reads from a
    parent (arguments, ``T(...)`` pushes, explicit relations), else one dashed edge (an
    ordering-only dependency).
    """
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


def build_mermaid(result: BuildResult) -> str:
    """The Mermaid flowchart of a general build (see `SchedulerRegistry.to_mermaid`)."""
    nodes, edges = build_graph(result)
    return mermaid_flowchart(nodes, edges)
