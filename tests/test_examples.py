"""The runnable examples in ``examples/`` run, and their own checks pass.

The examples are imported by path (they are not a package) or run as scripts
in a fresh interpreter. They register their tasks inside functions and clear
their namespaces when done; the fixture below makes sure no test inherits or
leaves tasks in those namespaces either.
"""

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import astrum

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
EXAMPLE_NAMESPACES = [
    *(f"example_{n}" for n in range(1, 7)),
    "example_5_backorder",
    "coffee_shop",
    "order_fulfilment",
]


@pytest.fixture(autouse=True)
def _clean_example_namespaces() -> Iterator[None]:
    for namespace in EXAMPLE_NAMESPACES:
        astrum.clear_registry(namespace)
    yield
    for namespace in EXAMPLE_NAMESPACES:
        astrum.clear_registry(namespace)


def load_example(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import ``examples/<name>.py`` under a private module name (removed after the test)."""
    spec = importlib.util.spec_from_file_location(f"_astrum_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def run_script(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run ``python <args>`` from the repository root with this interpreter and this astrum."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


def registered_tasks(namespace: str) -> int:
    count = len(astrum.get_registry(namespace))
    astrum.clear_registry(namespace)
    return count


# --- fast_start.py --------------------------------------------------------------------------


async def test_fast_start_runs_all_six_examples_and_cleans_up(monkeypatch, capsys):
    fast_start = load_example("fast_start", monkeypatch)

    lines = await fast_start.main()

    assert [line.split()[0] for line in lines] == [f"example_{n}" for n in range(1, 7)]
    assert capsys.readouterr().out.splitlines() == lines
    assert all(registered_tasks(ns) == 0 for ns in EXAMPLE_NAMESPACES)


async def test_fast_start_examples_can_run_twice_in_one_process(monkeypatch, capsys):
    fast_start = load_example("fast_start", monkeypatch)

    first = await fast_start.main()
    second = await fast_start.main()

    assert [line.split()[:2] for line in first] == [line.split()[:2] for line in second]


def test_fast_start_visualize_flag_draws_every_dag():
    pytest.importorskip("rich")

    result = run_script("examples/fast_start.py", "--visualize")

    assert result.returncode == 0, result.stderr
    # One drawing per build: six examples, example 5 builds twice.
    assert result.stdout.count("Data Transport Matrix") == 7
    assert "fetch_credit_score" in result.stdout


# --- coffee_shop.py -------------------------------------------------------------------------


async def test_coffee_shop_serves_one_order_and_refuses_the_other(monkeypatch, capsys):
    coffee_shop = load_example("coffee_shop", monkeypatch)

    lines = await coffee_shop.main()

    assert lines[0].startswith("served:  Mia, your large flat white +1 shot ($5.00)")
    assert lines[1].startswith("refused: ") and "steam_milk" in lines[1]
    assert registered_tasks("coffee_shop") == 0


async def test_coffee_shop_explicit_relations_reach_the_right_parameters(monkeypatch):
    coffee_shop = load_example("coffee_shop", monkeypatch)
    order = {"customer": "Ana", "drink": "cortado", "size": "small", "milk": "whole", "extra_shots": 0}

    report = await coffee_shop.serve(order, ("Colombia Huila", 18, {"whole": 500}))

    assert report.execution_state == "completed", report.error_summary
    assert report.results["pull_shots"] == {
        "shots": 2,
        "roast": "Colombia Huila",
        "grams": 18,
    }  # index=0, index=1
    assert report.results["steam_milk"]["ml"] == 120  # keyed + index=2 into a keyword argument
    assert report.results["ring_up"]["total"] == "$3.20"  # from_function price list
    assert "clean_grinder" not in report.results


# --- retrieval.py ---------------------------------------------------------------------------


async def test_retrieval_ranks_the_puncture_guide_first_and_overlaps_embedding(monkeypatch, capsys):
    retrieval = load_example("retrieval", monkeypatch)

    report = await retrieval.search(retrieval.DEFAULT_QUERY)

    assert report.results["rerank"][0].doc_id == "puncture-repair"
    assert retrieval.overlapped(report, "embed_query", "expand_query")
    assert retrieval.overlapped(report, "bm25_search", "vector_search")
    assert {task: set(deps) for task, deps in report.original_tasks.items()} == retrieval.PIPELINE_SHAPE
    await retrieval.main()  # the script's own checks


async def test_retrieval_registry_runs_again_with_the_same_answer(monkeypatch):
    retrieval = load_example("retrieval", monkeypatch)
    workflow = retrieval.build_retrieval_workflow("bike chain squeaks")

    first = await workflow.run(config=retrieval.CONFIG)
    second = await workflow.run(config=retrieval.CONFIG)

    assert first.results["rerank"] == second.results["rerank"]
    assert first.results["rerank"][0].doc_id == "chain-lube"


# --- the scripts as a user runs them ----------------------------------------------------------


# --- rag_pipeline.py ------------------------------------------------------------------------


async def test_rag_pipeline_maps_the_embedding_over_every_chunk_and_answers_from_partial_results(
    monkeypatch, capsys
):
    rag = load_example("rag_pipeline", monkeypatch)

    report, gauge = await rag.ask()

    stats = {s.task_name: s for s in report.task_statistics}
    instances = sorted(name for name in stats if name.startswith("embed_chunk["))
    assert len(instances) == len(report.results["split_documents"]["chunks"]) == 10
    assert gauge.most == rag.MAX_PARALLEL  # the endpoint saw at most max_parallel calls at once
    assert stats["embed_chunk[9]"].status == "failed" and stats["embed_chunk[9]"].attempt_count == 2
    assert stats["answer"].status == "completed"
    assert report.results["answer"].text.startswith("From 'puncture'")
    assert report.results["answer"].skipped == ["embed_chunk[9]"]
    vectors = report.results["embed_chunk[0]"]
    assert vectors == rag.embed(report.results["split_documents"]["chunks"][0].text)  # deterministic
    await rag.main([])  # the script's own checks
    assert "embedded 9 of 10 chunks" in capsys.readouterr().out


@pytest.mark.parametrize("script", ["fast_start.py", "coffee_shop.py", "retrieval.py", "rag_pipeline.py"])
def test_example_script_exits_cleanly(script):
    result = run_script(f"examples/{script}")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert not result.stderr


@pytest.mark.slow
def test_demo_runs_and_reports_the_critical_path(tmp_path):
    pytest.importorskip("rich")

    result = run_script("examples/demo.py", "--db", str(tmp_path / "runs.db"), timeout=60)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Data Transport Matrix" in out and "Stage view" in out
    assert "Run completed in " in out and "9/9 tasks completed" in out
    assert "Critical path (*): " in out and "Most slack" in out
    assert "attempt 1/3 failed" in out  # the flaky carrier call, recovered by retry=2
    assert "saved" in out
    assert " done · " not in out  # piped: no live progress display


@pytest.mark.slow
def test_demo_prints_the_graph_and_writes_the_run_page_next_to_the_store(tmp_path):
    db = tmp_path / "store" / "runs.db"
    result = run_script("examples/demo.py", "--db", str(db), timeout=60)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    graph = lines[lines.index("flowchart LR") :]
    assert '    t0["receive_order"]' in graph and '    t3["quote_shipping<br/>retry 2"]' in graph
    assert '    t7 -->|"tracking"| t8' in graph  # book_courier's tracking number, read by email_customer
    page = db.parent / "last-run.html"
    assert f"Run page (Gantt, graph, task table): {page}" in lines
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>")
    assert all(name in html for name in ("receive_order", "book_courier", "email_customer"))


@pytest.mark.slow
def test_demo_ends_with_show_and_resume_commands_that_work_when_pasted(tmp_path):
    db = tmp_path / "runs.db"
    demo = run_script("examples/demo.py", "--db", str(db), timeout=60)
    assert demo.returncode == 0, demo.stderr
    *_, recorded, show, resume = demo.stdout.splitlines()
    run_id = recorded.split()[3]

    shown = subprocess.run(show, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=60)
    resumed = subprocess.run(resume, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert recorded.startswith(f"Recorded as run {run_id} in {db}")
    assert show.split()[-4:] == ["show", run_id, "--db", str(db)]
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"Run {run_id}  completed") and "book_courier" in shown.stdout
    assert "attempt 1: CarrierUnavailableError: carrier API answered 503" in shown.stdout
    assert resumed.returncode == 0, resumed.stderr
    # book_courier and email_customer ran again, with the stored ShippingQuote; seven were reused.
    assert f"(resumes {run_id}) completed: 9/9 tasks completed (7 reused)" in resumed.stdout
    assert not shown.stderr and not resumed.stderr


@pytest.mark.slow
def test_demo_without_rich_names_the_extra_and_still_runs(tmp_path):
    block_rich = (
        "import runpy, sys\n"
        "sys.modules['rich'] = None  # import rich now raises ImportError\n"
        f"sys.argv = ['examples/demo.py', '--db', {str(tmp_path / 'runs.db')!r}]\n"
        "sys.path.insert(0, 'examples')  # as `python examples/demo.py` puts the script's folder first\n"
        "runpy.run_path('examples/demo.py', run_name='__main__')\n"
    )

    result = run_script("-c", block_rich, timeout=60)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert 'pip install "astrum[viz]"' in out
    assert "Critical path (*): receive_order -> screen_fraud" in out
    assert "9/9 tasks completed" in out
    assert "flowchart LR" in out and (tmp_path / "last-run.html").exists()


# --- run_page.py ------------------------------------------------------------------------------


async def test_run_page_example_draws_explains_and_writes_the_page(monkeypatch, capsys, tmp_path):
    run_page = load_example("run_page", monkeypatch)

    report = await run_page.main(tmp_path / "digest.html")

    out = capsys.readouterr().out
    assert out.startswith("flowchart LR\n") and "\ngantt\n" in out
    assert "Critical path (*): fetch_feeds -> " in out
    assert f"Run page written to {tmp_path / 'digest.html'}" in out
    page = (tmp_path / "digest.html").read_text(encoding="utf-8")
    assert all(name in page for name in report.original_tasks)
    # The two summaries share a pool of one: one of them waited for it.
    stats = {s.task_name: s for s in report.task_statistics}
    assert (
        max(stats["summarise_tech"].pool_queued_duration, stats["summarise_science"].pool_queued_duration)
        > 0.02
    )
    assert stats["summarise_tech"].attempt_count == 2


def test_run_page_script_writes_where_it_is_told(tmp_path):
    result = run_script("examples/run_page.py", str(tmp_path / "page.html"))

    assert result.returncode == 0, result.stderr
    assert not result.stderr
    assert (tmp_path / "page.html").read_text(encoding="utf-8").startswith("<!doctype html>")
