"""A task graph as a plain-text tree (``astrum graph --format tree``): no rich, readable when piped.

Roots first, each task under the tasks it waits for; a task with several parents is expanded
under the first and marked ``(above)`` under the others. The edge into a task says what it
reads (``← users``) or ``(after)`` for an ordering-only dependency.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._mermaid import GraphEdge, GraphNode

__all__ = ["tree_text"]


def _edge_note(edges: list[GraphEdge]) -> str:
    labels = [edge.label or "result" for edge in edges if edge.data]
    return f" ← {', '.join(labels)}" if labels else " (after)"


def tree_text(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge]) -> str:
    """The tree of ``nodes`` and ``edges``, one task per line."""
    by_name = {node.name: node for node in nodes}
    children: dict[str, dict[str, list[GraphEdge]]] = {node.name: {} for node in nodes}
    has_parent: set[str] = set()
    for edge in edges:
        children[edge.source].setdefault(edge.target, []).append(edge)
        has_parent.add(edge.target)
    lines: list[str] = []
    shown: set[str] = set()
    # (name, note on the edge into it, prefix of its line, prefix of its children's lines)
    stack: list[tuple[str, str, str, str]] = [
        (node.name, "", "", "") for node in reversed(nodes) if node.name not in has_parent
    ]
    while stack:
        name, note, prefix, child_prefix = stack.pop()
        details = by_name[name].details()
        text = name + note + (f"  [{' · '.join(details)}]" if details else "")
        if name in shown:
            lines.append(f"{prefix}{name}{note} (above)")
            continue
        shown.add(name)
        lines.append(prefix + text)
        kids = list(children[name].items())
        for k in range(len(kids) - 1, -1, -1):
            child, into = kids[k]
            last = k == len(kids) - 1
            stack.append(
                (
                    child,
                    _edge_note(into),
                    child_prefix + ("└── " if last else "├── "),
                    child_prefix + ("    " if last else "│   "),
                )
            )
    return "\n".join(lines) + "\n"
