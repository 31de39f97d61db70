"""docs/caching.md: its examples (files under examples/docs/, run by tests/test_docs_site.py)
show reuse, a refused input and single flight."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "caching.md"


def included() -> list[str]:
    return re.findall(r'^--8<-- "([^"]+)"$', DOC.read_text(encoding="utf-8"), flags=re.M)


def test_the_page_shows_reuse_a_refused_input_and_single_flight() -> None:
    names = included()
    assert names == [
        "examples/docs/caching_reuse.py",
        "examples/docs/caching_refused_input.py",
        "examples/docs/caching_single_flight.py",
    ]
    texts = [(ROOT / name).read_text(encoding="utf-8") for name in names]
    assert "cache=Cache(ttl=3600)" in texts[0] and '== ["hit", "hit"]' in texts[0]
    assert "TaskRegistrationError" in texts[1]
    assert "asyncio.gather" in texts[2] and "len(bodies) == 1" in texts[2]
