"""docs/guide.md: every snippet runs as written, on its own (top-level ``await`` included)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import astrum

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guide.md"


def _snippets() -> list[tuple[str, str]]:
    """``(id, code)`` of each python block, the id naming the section it is in."""
    out: list[tuple[str, str]] = []
    section = "intro"
    counts: dict[str, int] = {}
    for match in re.finditer(
        r"^(#+ [^\n]*)$|^```python\n(.*?)^```", GUIDE.read_text(encoding="utf-8"), re.M | re.S
    ):
        heading, code = match.groups()
        if heading is not None:
            section = re.sub(r"[^a-z0-9]+", "-", heading.lstrip("#").strip().lower()).strip("-")
            continue
        counts[section] = counts.get(section, 0) + 1
        out.append((f"{section}-{counts[section]}", code))
    return out


SNIPPETS = _snippets()


@pytest.fixture(autouse=True)
def _clean_registry():
    astrum.clear_registry()
    yield
    astrum.clear_registry()


def test_the_guide_has_a_snippet_in_each_main_section() -> None:
    sections = {snippet_id.rsplit("-", 1)[0] for snippet_id, _ in SNIPPETS}
    assert {"tasks-and-registries", "passing-data", "explicit-taskdata", "manual-dags"} <= sections


@pytest.mark.parametrize("code", [code for _, code in SNIPPETS], ids=[i for i, _ in SNIPPETS])
async def test_guide_snippet_runs_on_its_own(code: str) -> None:
    compiled = compile(code, str(GUIDE), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace: dict[str, object] = {"__name__": "guide_snippet"}
    pending = eval(compiled, namespace)  # a coroutine when the snippet awaits at top level
    if pending is not None:
        await pending
    report = namespace.get("report")
    if isinstance(report, astrum.ExecutionReport):
        assert report.execution_state == "completed", report.error_summary
