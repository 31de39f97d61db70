"""``astrum graph MODULE[:REGISTRY]``: a registry's graph as Mermaid or as a plain-text tree."""

from __future__ import annotations

import argparse

from ..authoring._build import build
from ..authoring._graphview import build_graph, drawing_config
from ..viz._mermaid import mermaid_flowchart
from ..viz._tree import tree_text
from ._app import load_registry
from ._output import Output

__all__ = ["FORMATS", "graph"]

FORMATS = ("mermaid", "tree")


def graph(args: argparse.Namespace, out: Output) -> int:
    """Print the graph of the registry (or of ``--target`` tasks and what they need); nothing runs."""
    registry = load_registry(args.app)
    result = build(registry, args.target or None, drawing_config(None), collect_all=True, check_pools=False)
    nodes, edges = build_graph(result)
    text = mermaid_flowchart(nodes, edges) if args.format == "mermaid" else tree_text(nodes, edges)
    out.line(text.rstrip("\n"))
    return 0
