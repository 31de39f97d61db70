"""docs/visualisation.md: every snippet runs as written, and the printed graph is the one shown."""

from __future__ import annotations

import ast
import contextlib
import io
import re
from pathlib import Path

import pytest

import astrum

DOC = Path(__file__).resolve().parents[1] / "docs" / "visualisation.md"
TEXT = DOC.read_text(encoding="utf-8")
SNIPPETS = re.findall(r"^```python\n(.*?)^```", TEXT, re.M | re.S)


async def run_snippet(code: str) -> tuple[dict[str, object], str]:
    compiled = compile(code, str(DOC), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace: dict[str, object] = {"__name__": "visualisation_snippet"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        pending = eval(compiled, namespace)  # a coroutine when the snippet awaits at top level
        if pending is not None:
            await pending
    return namespace, out.getvalue()


@pytest.mark.parametrize("code", SNIPPETS, ids=[f"snippet-{k}" for k in range(len(SNIPPETS))])
async def test_visualisation_snippet_runs_on_its_own(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the page snippet writes run.html where it runs

    namespace, _out = await run_snippet(code)

    report = namespace.get("report")
    if isinstance(report, astrum.ExecutionReport):
        assert report.execution_state == "completed", report.error_summary


async def test_the_documented_flowchart_is_what_to_mermaid_prints():
    _namespace, out = await run_snippet(SNIPPETS[0])

    shown = TEXT.split("prints\n\n```\n", 1)[1].split("```", 1)[0]
    assert out == shown + "\n"
    assert f"```mermaid\n{shown}```" in TEXT  # the drawn block is the same graph
