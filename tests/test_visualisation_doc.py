"""docs/visualisation.md: the printed graph is the one shown (every example runs in test_docs_site)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "visualisation.md"
TEXT = DOC.read_text(encoding="utf-8")
GRAPH_EXAMPLE = ROOT / "examples" / "docs" / "visualisation_graph.py"


def test_the_graph_example_is_the_first_one_on_the_page() -> None:
    first = TEXT.split("```python\n", 1)[1].split("```", 1)[0]
    assert first == '--8<-- "examples/docs/visualisation_graph.py"\n'


def test_the_documented_flowchart_is_what_to_mermaid_prints() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), PYTHONIOENCODING="utf-8")
    result = subprocess.run(
        [sys.executable, str(GRAPH_EXAMPLE)], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr

    shown = TEXT.split("prints\n\n```\n", 1)[1].split("```", 1)[0]
    assert result.stdout == shown + "\n"
    assert f"```mermaid\n{shown}```" in TEXT  # the drawn block is the same graph
