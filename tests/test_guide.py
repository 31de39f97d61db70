"""docs/guide.md: each main section shows a runnable example (run by tests/test_docs_site.py)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "guide.md"


def examples_by_section() -> dict[str, list[str]]:
    """Section slug -> the example files its python blocks include."""
    out: dict[str, list[str]] = {}
    section = "intro"
    for match in re.finditer(
        r"^(#+ [^\n]*)$|^```python\n(.*?)^```", GUIDE.read_text(encoding="utf-8"), re.M | re.S
    ):
        heading, code = match.groups()
        if heading is not None:
            section = re.sub(r"[^a-z0-9]+", "-", heading.lstrip("#").strip().lower()).strip("-")
            continue
        out.setdefault(section, []).extend(re.findall(r'--8<-- "([^"]+)"', code))
    return out


def test_the_guide_has_an_example_in_each_main_section() -> None:
    sections = examples_by_section()

    assert {
        "tasks-and-registries",
        "namespaces",
        "passing-data-data-transport",
        "explicit-taskdata",
        "manual-dags",
    } <= set(sections)
    for files in sections.values():
        assert files and all((ROOT / name).is_file() for name in files)


def test_the_guide_examples_check_their_reports() -> None:
    for files in examples_by_section().values():
        for name in files:
            text = (ROOT / name).read_text(encoding="utf-8")
            assert "assert " in text, f"{name} checks nothing"
