"""The authoring package is layered (no module imports one that imports it back) and its
classes are small enough to read in one sitting."""

import ast
from pathlib import Path

import grimp
import pytest

import astrum.authoring

AUTHORING = "astrum.authoring"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("astrum", exclude_type_checking_imports=True, cache_dir=None)


def test_no_authoring_module_imports_one_that_imports_it_back(graph: grimp.ImportGraph) -> None:
    modules = graph.find_children(AUTHORING)
    cycles = []
    for importer in sorted(modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer) & modules):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                cycles.append((importer, *back))
    assert cycles == []


def test_the_build_reads_the_task_table_and_the_registry_sits_above_the_build(
    graph: grimp.ImportGraph,
) -> None:
    build, tasks, registry = (f"{AUTHORING}.{name}" for name in ("_build", "_tasks", "_registry"))

    assert graph.find_shortest_chain(importer=build, imported=tasks) is not None
    assert graph.find_shortest_chain(importer=registry, imported=build) is not None
    assert graph.find_shortest_chain(importer=build, imported=registry) is None
    assert graph.find_shortest_chain(importer=tasks, imported=build) is None


def _definitions(kind: type) -> list[tuple[str, int]]:
    """``(module:name, line count)`` of every ``kind`` node defined in the authoring package."""
    found = []
    for path in sorted(Path(astrum.authoring.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, kind):
                assert node.end_lineno is not None
                found.append((f"{path.stem}:{node.name}", node.end_lineno - node.lineno + 1))
    return found


def test_no_authoring_class_is_over_300_lines() -> None:
    classes = _definitions(ast.ClassDef)

    assert {"_registry:SchedulerRegistry", "_scheduler:DynamicScheduler"} <= {name for name, _ in classes}
    assert [(name, lines) for name, lines in classes if lines > 300] == []


#: The build: the pipeline, its stages, and what registration keeps for it.
BUILD_MODULES = (
    "_build", "_result", "_sources", "_checks", "_edgetypes", "_compile", "_plain", "_onepass",
    "_prepare", "_tasks", "_registry", "_orders", "_runs", "_scheduler",
)  # fmt: skip


@pytest.mark.parametrize("module", BUILD_MODULES)
def test_each_build_module_reads_in_one_sitting(module: str) -> None:
    path = Path(astrum.authoring.__file__).parent / f"{module}.py"
    source = path.read_text(encoding="utf-8")
    functions = [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None
    ]

    assert len(source.splitlines()) <= 300
    assert [(name, lines) for name, lines in functions if lines > 80] == []


def test_no_class_of_the_package_is_over_300_lines_and_the_median_module_is_small() -> None:
    package = Path(astrum.authoring.__file__).parents[1]
    sizes = []
    big_classes = []
    for path in sorted(package.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        sizes.append(len(source.splitlines()))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > 300:
                    big_classes.append((path.name, node.name, lines))
    sizes.sort()

    assert big_classes == []
    assert sizes[len(sizes) // 2] < 250
