"""docs/caching.md: every Python snippet runs as written."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "caching.md"
SNIPPETS = re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)


@pytest.mark.parametrize("code", SNIPPETS, ids=[f"snippet-{k}" for k in range(len(SNIPPETS))])
async def test_caching_snippet_runs_on_its_own(code: str) -> None:
    compiled = compile(code, str(DOC), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    pending = eval(compiled, {"__name__": "caching_snippet", "__file__": str(DOC)})
    if pending is not None:
        await pending


def test_the_page_has_the_snippets_it_promises() -> None:
    assert len(SNIPPETS) == 3
