"""``astrum graph`` and ``astrum show --gantt`` / ``--html``: pictures of an app's graph and of stored runs."""

from __future__ import annotations

import re

APP = "pipeline_app:registry"
NAMES = ("extract", "audit", "transform", "load")


def flowchart_edges(text: str) -> set[tuple[str, str, str]]:
    """``{(source, target, label or "-" or "dashed")}`` of a Mermaid flowchart."""
    ids = dict(re.findall(r'^    (t\d+)\["([^"<]*)', text, re.M))
    edges = set()
    for source, arrow, label, target in re.findall(
        r'^    (t\d+) (-->|-\.->)(?:\|"([^"]*)"\|)? (t\d+)$', text, re.M
    ):
        edges.add((ids[source], ids[target], "dashed" if arrow == "-.->" else label or "-"))
    return edges


def test_graph_prints_the_apps_flowchart_without_running_it(cli):
    result = cli("graph", APP)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("flowchart LR\n")
    assert flowchart_edges(result.stdout) == {
        ("extract", "transform", "rows"),
        ("audit", "transform", "dashed"),
        ("transform", "load", "-"),
    }
    assert cli.executions() == {}  # nothing ran
    assert not (cli.cwd / ".astrum").exists()  # and nothing was recorded


def test_graph_of_a_target_as_a_text_tree(cli):
    tree = cli("graph", APP, "--format", "tree", "--target", "transform")

    assert tree.returncode == 0, tree.stderr
    assert tree.stdout.splitlines() == [
        "extract",
        "└── transform ← rows",
        "audit",
        "└── transform (after) (above)",
    ]


def test_graph_of_a_registry_that_does_not_build_exits_2(cli):
    (cli.cwd / "broken_app.py").write_text(
        "from astrum import F, Ref, SchedulerRegistry\n"
        "registry = SchedulerRegistry('broken')\n"
        "@registry.task('a')\n"
        "async def a(v: Ref[int, F('nowhere')]) -> int:\n"
        "    return v\n"
    )

    result = cli("graph", "broken_app:registry")

    assert result.returncode == 2
    assert "nowhere" in result.stderr and "Traceback" not in result.stderr


def test_show_gantt_and_html_picture_a_stored_run(cli):
    failed = cli("run", APP)
    run_id = failed.stdout.split()[1]

    gantt = cli("show", run_id[:8], "--gantt")
    page = cli("show", run_id, "--html", "run.html")

    assert gantt.returncode == 0, gantt.stderr
    lines = gantt.stdout.splitlines()
    assert lines[0] == "gantt" and "    dateFormat x" in lines
    sections = [line.split()[1] for line in lines if line.startswith("    section ")]
    assert sections == ["completed", "failed", "skipped"]
    bars = {line.split(" :")[0].strip(): line for line in lines if " :" in line}
    assert set(bars) == {"extract", "audit", "transform", "load · skipped"}
    assert "crit" in bars["transform"] and "milestone" in bars["load · skipped"]

    assert page.returncode == 0, page.stderr
    assert page.stdout == f"Run page of {run_id} written to run.html\n"
    html = (cli.cwd / "run.html").read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and run_id in html
    assert all(name in html for name in NAMES)
    assert "bad row 2: the fix is not deployed" in html and "Traceback (most recent call last)" in html
