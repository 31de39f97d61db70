"""The authoring package is layered: no module imports one that imports it back."""

import grimp
import pytest

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
