"""registry.to_mermaid(): the build's graph as a Mermaid flowchart that parses back to the same graph."""

from __future__ import annotations

import re

import pytest

import astrum
from astrum import AstrumConfig, F, Ref, Retry, SchedulerRegistry, T, TaskRegistrationError

NODE = re.compile(r'^    (t\d+)\["(.*)"\]$')
EDGE = re.compile(r'^    (t\d+) (-->|-\.->)(?:\|"(.*)"\|)? (t\d+)$')
ENTITIES = {"quot": '"', "amp": "&", "lt": "<", "gt": ">"}


def unescape(text: str) -> str:
    """Mermaid entity codes (``#quot;``, ``#35;``) back to characters."""
    return re.sub(r"#(\w+);", lambda m: ENTITIES[m[1]] if m[1] in ENTITIES else chr(int(m[1])), text)


def parse_flowchart(source: str) -> tuple[dict[str, list[str]], set[tuple[str, str, str, str | None]]]:
    """``({task: [node label lines]}, {(source, target, "data" | "order", label)})``; fails on any other line."""
    lines = source.splitlines()
    assert lines[0] == "flowchart LR"
    ids: dict[str, str] = {}
    nodes: dict[str, list[str]] = {}
    edges: set[tuple[str, str, str, str | None]] = set()
    for line in lines[1:]:
        node, edge = NODE.match(line), EDGE.match(line)
        if node:
            # The only markup a label holds is the line break between the name and the settings.
            name, *details = [unescape(part) for part in node[2].split("<br/>")]
            assert re.fullmatch(r"[A-Za-z][\w]*", node[1])  # a valid Mermaid id, whatever the name
            ids[node[1]] = name
            nodes[name] = details
        elif edge:
            kind = "order" if edge[2] == "-.->" else "data"
            label = unescape(edge[3]) if edge[3] is not None else None
            edges.add((ids[edge[1]], ids[edge[4]], kind, label))
        else:
            raise AssertionError(f"unexpected line: {line!r}")
    return nodes, edges


ODD = 'weird "name" <b>|#1; x --> y'


def fan_registry() -> SchedulerRegistry:
    reg = SchedulerRegistry("mermaid")

    @reg.task("load_users")
    async def load_users() -> dict:
        return {"users": ["a"], "admins": ["b"]}

    @reg.task("load_pair")
    async def load_pair() -> tuple:
        return (1, 2)

    @reg.task("fetch", pool="llm", retry=Retry(retries=3, delay=0.1), timeout=2.5)
    async def fetch(
        users: Ref[list, F("load_users", "users")], admins: Ref[list, F("load_users", "admins")]
    ) -> dict:
        return {}

    @reg.task(ODD, depends_on=["fetch"])
    async def odd(first: Ref[int, F("load_pair", 0)], whole: Ref[tuple, F("load_pair")]) -> int:
        return first

    @reg.task("audit", depends_on=["load_pair"])
    def audit() -> None:
        return None

    @reg.task("pusher")
    async def pusher() -> Ref[dict, T("sink", "payload")]:
        return {}

    @reg.task("sink")
    async def sink(payload: dict) -> int:
        return len(payload)

    return reg


def test_mermaid_graph_parses_back_to_the_builds_edges_with_their_labels():
    reg = fan_registry()

    nodes, edges = parse_flowchart(reg.to_mermaid())

    # The same tasks and parent/child pairs as the normal build compiles.
    orders = reg.build_task_orders(config=AstrumConfig(pools={"llm": 1}))
    built = {order.task_name: set(order.dependency_names()) for order in orders}
    assert set(nodes) == set(built)
    assert {(s, t) for s, t, _kind, _label in edges} == {(d, t) for t, deps in built.items() for d in deps}
    assert edges == {
        ("load_users", "fetch", "data", "users"),
        ("load_users", "fetch", "data", "admins"),
        ("load_pair", ODD, "data", "[0]"),
        ("load_pair", ODD, "data", None),  # the whole result: no label
        ("fetch", ODD, "order", None),  # depends_on: dashed
        ("load_pair", "audit", "order", None),
        ("pusher", "sink", "data", "payload"),  # T("sink", "payload"): the field pushed
    }
    assert nodes["fetch"] == ["pool: llm · retry 3 · timeout 2.5s"]
    assert nodes[ODD] == [] and nodes["audit"] == []


def test_mermaid_of_target_tasks_draws_only_what_they_need():
    reg = fan_registry()

    nodes, edges = parse_flowchart(reg.to_mermaid(["fetch"]))

    assert set(nodes) == {"load_users", "fetch"}
    assert {(s, t) for s, t, _k, _l in edges} == {("load_users", "fetch")}


def test_module_level_to_mermaid_draws_the_namespace():
    astrum.clear_registry("mermaid_ns")
    try:
        with astrum.use_namespace("mermaid_ns"):

            @astrum.task("first")
            async def first() -> dict:
                return {"v": 1}

            @astrum.task("second")
            async def second(v: Ref[int, F("first", "v")]) -> int:
                return v

        nodes, edges = parse_flowchart(astrum.to_mermaid("mermaid_ns"))
        assert set(nodes) == {"first", "second"}
        assert edges == {("first", "second", "data", "v")}
        assert parse_flowchart(astrum.to_mermaid("mermaid_ns", ["first"]))[0] == {"first": []}
    finally:
        astrum.clear_registry("mermaid_ns")


def test_mermaid_of_a_registry_that_does_not_build_raises_every_problem():
    reg = SchedulerRegistry("broken_mermaid")

    @reg.task("a", depends_on=["missing"])
    async def a(v: Ref[int, F("nowhere")]) -> int:
        return v

    with pytest.raises(TaskRegistrationError) as info:
        reg.to_mermaid()
    assert "missing" in str(info.value) and "nowhere" in str(info.value)


def test_readme_mermaid_block_is_the_demos_graph_as_to_mermaid_prints_it(monkeypatch):
    import importlib.util
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```mermaid\n(.*?)^```", readme, re.M | re.S)
    spec = importlib.util.spec_from_file_location("_readme_fulfilment", root / "examples" / "fulfilment.py")
    assert spec is not None and spec.loader is not None
    fulfilment = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, fulfilment)
    spec.loader.exec_module(fulfilment)

    assert blocks == [fulfilment.registry.to_mermaid()]
