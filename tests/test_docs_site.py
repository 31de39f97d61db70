"""The documentation site: every code block is tested, every page exists in both languages.

A fenced ``python`` block of a page under ``docs/`` is either a pymdownx.snippets include of a
file under ``examples/`` (``--8<-- "examples/docs/x.py"``, or a section of it:
``"examples/docs/x.py:name"``), which ``test_every_docs_example_runs`` runs as a script, or a
doctest (``>>>`` lines), which ``test_doctest_blocks_of_the_pages_pass`` runs.
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import astrum

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
PAGES = sorted(DOCS.rglob("*.md"))
PYTHON_BLOCK = re.compile(r"^```(?:python|py|pycon)\b[^\n]*\n(.*?)^```", re.M | re.S)  # any Python fence
INCLUDE = re.compile(r'--8<-- "([^":]+)(?::([\w-]+))?"')

# The examples that dedicated tests run with their own checks (the rest of examples/ runs below).
EXAMPLES_RUN_ELSEWHERE = {
    "fast_start.py": "tests/test_examples.py",
    "coffee_shop.py": "tests/test_examples.py",
    "retrieval.py": "tests/test_examples.py",
    "rag_pipeline.py": "tests/test_examples.py",
    "demo.py": "tests/test_examples.py",
    "fulfilment.py": "tests/test_mermaid.py",  # also the workflow of demo.py
    "run_page.py": "tests/test_examples.py",
    "lifecycle.py": "tests/test_lifecycle.py",
    "resilient_pipeline.py": "tests/test_failure_handling.py",
}


def python_blocks(page: Path) -> list[str]:
    return PYTHON_BLOCK.findall(page.read_text(encoding="utf-8"))


def included_files() -> set[Path]:
    return {
        ROOT / match.group(1)
        for page in PAGES
        for block in python_blocks(page)
        for match in INCLUDE.finditer(block)
    }


def page_id(page: Path) -> str:
    return page.relative_to(DOCS).as_posix()


def classify(block: str) -> str:
    """``"include"``, ``"doctest"`` or what is wrong with the block."""
    lines = [line for line in block.strip().splitlines() if line.strip()]
    if lines and all(INCLUDE.fullmatch(line.strip()) for line in lines):
        for line in lines:
            path, section = INCLUDE.fullmatch(line.strip()).groups()  # type: ignore[union-attr]
            if not path.startswith("examples/"):
                return f"includes {path}, which is not under examples/"
            if not (ROOT / path).is_file():
                return f"includes {path}, which does not exist"
            text = (ROOT / path).read_text(encoding="utf-8")
            if section and f"# --8<-- [start:{section}]" not in text:
                return f"includes section {section!r} of {path}, which has no such section"
        return "include"
    if any(line.lstrip().startswith(">>> ") for line in lines):
        return "doctest"
    return "neither an include of a file under examples/ nor a doctest"


# -- the rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_python_block_is_an_example_include_or_a_doctest(page: Path) -> None:
    problems = [
        f"{page_id(page)} block {k}: {kind}\n{block}"
        for k, block in enumerate(python_blocks(page))
        if (kind := classify(block)) not in ("include", "doctest")
    ]
    assert not problems, "\n".join(problems)


def test_the_rule_refuses_a_plain_python_block() -> None:
    assert classify('print("hello")\n').startswith("neither")
    assert classify('--8<-- "src/astrum/__init__.py"\n').endswith("not under examples/")
    assert classify('--8<-- "examples/docs/missing.py"\n').endswith("does not exist")
    assert classify('--8<-- "examples/docs/quickstart.py:nope"\n').endswith("no such section")
    assert classify('--8<-- "examples/docs/quickstart.py:run"\n') == "include"
    assert classify(">>> 1 + 1\n2\n") == "doctest"


@pytest.mark.parametrize("fence", ["python", "py", "pycon", "python title=x.py"])
def test_the_rule_sees_every_python_fence(fence: str, tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(f"# A page\n\n```{fence}\nprint('hello')\n```\n\n```text\nnot code\n```\n")
    assert python_blocks(page) == ["print('hello')\n"]


def test_the_pages_include_examples_and_hold_doctests() -> None:
    kinds = {classify(block) for page in PAGES for block in python_blocks(page)}
    assert kinds == {"include", "doctest"}


# -- the included files run -------------------------------------------------------------------


DOCS_EXAMPLES = sorted((EXAMPLES / "docs").glob("*.py"))


def run_example(path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=60, cwd=cwd, env=env
    )


@pytest.mark.parametrize("example", DOCS_EXAMPLES, ids=lambda path: path.name)
def test_every_docs_example_runs(example: Path, tmp_path: Path) -> None:
    result = run_example(example, tmp_path)  # in tmp_path: examples write .astrum/ and run.html there

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_every_included_file_is_run_by_a_test() -> None:
    run_here = set(DOCS_EXAMPLES)
    run_elsewhere = {EXAMPLES / name for name in EXAMPLES_RUN_ELSEWHERE}

    assert included_files() <= run_here | run_elsewhere


def test_every_file_under_examples_is_run_by_a_test() -> None:
    every_example = set(EXAMPLES.rglob("*.py"))
    run_elsewhere = {EXAMPLES / name for name in EXAMPLES_RUN_ELSEWHERE}

    assert every_example == set(DOCS_EXAMPLES) | run_elsewhere
    for name, test_file in EXAMPLES_RUN_ELSEWHERE.items():
        assert name in (ROOT / test_file).read_text(encoding="utf-8"), (name, test_file)


def test_every_docs_example_is_shown_on_a_page() -> None:
    assert set(DOCS_EXAMPLES) <= included_files()


# -- the doctests -----------------------------------------------------------------------------


DOCTEST_BLOCKS = [
    pytest.param(block, id=f"{page_id(page)}-{k}")
    for page in PAGES
    for k, block in enumerate(python_blocks(page))
    if classify(block) == "doctest"
]


@pytest.mark.parametrize("block", DOCTEST_BLOCKS)
def test_doctest_blocks_of_the_pages_pass(block: str) -> None:
    test = doctest.DocTestParser().get_doctest(block, {}, "page", None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    failures: list[str] = []
    runner.run(test, out=failures.append)

    assert runner.failures == 0 and test.examples, "".join(failures)


# -- the site ---------------------------------------------------------------------------------


def nav_pages() -> list[str]:
    """The pages of mkdocs.yml's ``nav:`` (``  - Title: page.md`` lines), in order."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = config.split("\nnav:\n", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^  - [^:#]+: (\S+\.md)$", nav, re.M)


def test_the_nav_lists_every_english_page_once() -> None:
    english = sorted(p.name for p in DOCS.glob("*.md") if not p.name.endswith(".zh.md"))
    assert sorted(nav_pages()) == english


def test_every_chinese_page_has_its_english_page() -> None:
    orphans = [p.name for p in DOCS.glob("*.zh.md") if not (DOCS / p.name.replace(".zh.md", ".md")).exists()]
    assert not orphans


def missing_chinese_pages() -> list[str]:
    return [page for page in nav_pages() if not (DOCS / page.replace(".md", ".zh.md")).exists()]


def test_every_page_has_a_chinese_version() -> None:
    assert missing_chinese_pages() == []


def test_a_chinese_page_keeps_the_includes_of_its_english_page() -> None:
    for chinese in DOCS.glob("*.zh.md"):
        english = DOCS / chinese.name.replace(".zh.md", ".md")
        includes = [INCLUDE.findall(block) for block in python_blocks(english)]
        assert [INCLUDE.findall(block) for block in python_blocks(chinese)] == includes, chinese.name


FENCED = re.compile(r"^```.*?^```", re.M | re.S)
# A span opens and closes with backtick runs of the same length (```` ```mermaid ```` holds
# three backticks); it may run across a line break.
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)


def chinese_pages() -> list[tuple[Path, Path]]:
    return [(DOCS / zh.name.replace(".zh.md", ".md"), zh) for zh in sorted(DOCS.glob("*.zh.md"))]


@pytest.mark.parametrize(("english", "chinese"), chinese_pages(), ids=lambda p: p.name)
def test_a_chinese_page_keeps_every_block_and_directive_of_its_english_page(
    english: Path, chinese: Path
) -> None:
    en, zh = english.read_text(encoding="utf-8"), chinese.read_text(encoding="utf-8")

    assert FENCED.findall(zh) == FENCED.findall(en)  # code, output and diagrams are shared
    assert [line for line in zh.splitlines() if line.startswith(":::")] == [
        line for line in en.splitlines() if line.startswith(":::")
    ]


@pytest.mark.parametrize(("english", "chinese"), chinese_pages(), ids=lambda p: p.name)
def test_a_chinese_page_names_every_name_its_english_page_names(english: Path, chinese: Path) -> None:
    """Every inline code span of the English page (an option, a name, a message) is on the
    Chinese page too: a section added in English and not yet translated shows up here."""

    def spans(page: Path) -> set[str]:
        prose = FENCED.sub("", page.read_text(encoding="utf-8"))
        return {" ".join(m.group(2).split()) for m in CODE_SPAN.finditer(prose)}

    assert sorted(spans(english) - spans(chinese)) == []


def test_the_api_page_documents_every_public_name() -> None:
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    documented = re.findall(r"^::: astrum\.(\w+)$", text, re.M)

    assert sorted(documented) == sorted(astrum.__all__)
    assert "::: astrum.otel.OpenTelemetryHook" in text
    assert "::: astrum.testing.FakeClock" in text


def test_the_quick_start_prints_what_its_page_shows(tmp_path: Path) -> None:
    result = run_example(EXAMPLES / "docs" / "quickstart.py", tmp_path)

    assert result.returncode == 0, result.stderr
    page = (DOCS / "quickstart.md").read_text(encoding="utf-8")
    assert f"```text\n{result.stdout}```" in page
