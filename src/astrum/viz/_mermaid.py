"""A task graph as a Mermaid ``flowchart``: data edges labelled, execution-only edges dashed.

The graph arrives as plain `GraphNode` and `GraphEdge` values (the build
makes them, see ``astrum.authoring._graphview``), so this module needs no build types.
Node ids are ``t0``, ``t1``, ... (valid Mermaid ids whatever the task names); names
and labels are quoted, and characters Mermaid would read as syntax become entity codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["GraphEdge", "GraphNode", "locator_label", "mermaid_escape", "mermaid_flowchart"]


@dataclass(frozen=True)
class GraphNode:
    """One task as drawn: its id and what runs it (``pool``, extra attempts, timeout)."""

    name: str
    pool: str | None = None
    retries: int = 0
    timeout: float | None = None

    def details(self) -> list[str]:
        """``["pool: llm", "retry 3", "timeout 2s"]``: the settings shown under the name."""
        out: list[str] = []
        if self.pool is not None:
            out.append(f"pool: {self.pool}")
        if self.retries:
            out.append(f"retry {self.retries}")
        if self.timeout is not None:
            out.append(f"timeout {self.timeout:g}s")
        return out


@dataclass(frozen=True)
class GraphEdge:
    """``source`` must finish before ``target`` starts.

    ``data``: the target receives (part of) the source's result, ``label`` says which
    part (a field, ``[0]`` for an index, ``None`` for the whole result). Otherwise the
    edge only orders execution (``depends_on``, a ``TaskOrder`` dependency).
    """

    source: str
    target: str
    data: bool
    label: str | None = None


def locator_label(locator: Any) -> str | None:
    """The label of a data edge reading ``locator``: ``users``, ``[0]``, or ``None`` (whole result)."""
    if locator is None:
        return None
    if isinstance(locator, int):
        return f"[{locator}]"
    return str(locator)


# Characters that Mermaid reads as syntax inside a quoted label, as its entity codes
# (``#name;`` or ``#<decimal>;``), replaced in one pass.
_ESCAPES = str.maketrans(
    {
        "#": "#35;",
        '"': "#quot;",
        "&": "#amp;",
        "<": "#lt;",
        ">": "#gt;",
        "`": "#96;",
        "|": "#124;",
        ";": "#59;",
    }
)
# A Gantt task's text ends at ``:``; ``%`` may start a comment.
_GANTT_ESCAPES = str.maketrans({**_ESCAPES, ord(":"): "#58;", ord("%"): "#37;"})


def mermaid_escape(text: str, *, gantt: bool = False) -> str:
    """``text`` safe inside a quoted Mermaid label or a Gantt task's text (one line, syntax as entity codes)."""
    text = text.translate(_GANTT_ESCAPES if gantt else _ESCAPES)
    return " ".join(text.splitlines()) if "\n" in text or "\r" in text else text


def mermaid_flowchart(
    nodes: Sequence[GraphNode], edges: Sequence[GraphEdge], *, direction: str = "LR"
) -> str:
    """The Mermaid ``flowchart`` source of a task graph (nodes in the given order)."""
    ids = {node.name: f"t{k}" for k, node in enumerate(nodes)}
    lines = [f"flowchart {direction}"]
    for node in nodes:
        details = node.details()
        label = mermaid_escape(node.name)
        if details:
            label += "<br/>" + mermaid_escape(" · ".join(details))
        lines.append(f'    {ids[node.name]}["{label}"]')
    for edge in edges:
        source, target = ids[edge.source], ids[edge.target]
        if not edge.data:
            lines.append(f"    {source} -.-> {target}")
        elif edge.label is None:
            lines.append(f"    {source} --> {target}")
        else:
            lines.append(f'    {source} -->|"{mermaid_escape(edge.label)}"| {target}')
    return "\n".join(lines) + "\n"
