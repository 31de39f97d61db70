"""Namespaces (contract section 1.3): resolution order, use_namespace scoping, threads, tasks, clearing."""

import asyncio
import threading

import pytest

import astrum
from astrum import (
    DEFAULT_NAMESPACE,
    AstrumConfig,
    SchedulerRegistry,
    TaskRegistrationError,
    active_namespace,
    build_scheduler,
    build_task_orders,
    clear_registry,
    get_registry,
    run,
    task,
    use_namespace,
)


@pytest.fixture(autouse=True)
def _clean_registry():
    astrum.clear_registry()
    yield
    astrum.clear_registry()


def ids(namespace: str) -> list[str]:
    return list(get_registry(namespace).get_all_tasks())


def in_thread(fn):
    box: list = []
    worker = threading.Thread(target=lambda: box.append(fn()))
    worker.start()
    worker.join(10)
    return box[0]


# -- resolution order ------------------------------------------------------------------------


def test_default_namespace_is_named_default():
    assert DEFAULT_NAMESPACE == "default"
    assert active_namespace() == "default"
    assert get_registry().name == "default"


def test_without_namespace_or_context_tasks_go_to_default():
    task("a")(lambda: None)
    assert ids("default") == ["a"]


def test_use_namespace_routes_registration_into_its_registry():
    with use_namespace("analytics") as registry:
        assert isinstance(registry, SchedulerRegistry)
        assert registry is get_registry("analytics")
        assert active_namespace() == "analytics"
        task("load_csv")(lambda: None)

    assert ids("analytics") == ["load_csv"]
    assert ids("default") == []


def test_explicit_namespace_beats_the_active_context():
    with use_namespace("outer"):
        task("explicit", namespace="chosen")(lambda: None)
        task("implicit")(lambda: None)

    assert ids("chosen") == ["explicit"]
    assert ids("outer") == ["implicit"]


def test_innermost_use_namespace_wins_and_each_exit_restores_the_previous_one():
    with use_namespace("a"):
        with use_namespace("b"):
            task("in_b")(lambda: None)
            with use_namespace("c"):
                assert active_namespace() == "c"
                task("in_c")(lambda: None)
            assert active_namespace() == "b"
        assert active_namespace() == "a"
        task("in_a")(lambda: None)
    assert active_namespace() == "default"

    assert (ids("a"), ids("b"), ids("c")) == (["in_a"], ["in_b"], ["in_c"])


def test_use_namespace_is_restored_when_the_block_raises():
    with pytest.raises(RuntimeError), use_namespace("doomed"):
        raise RuntimeError("boom")
    assert active_namespace() == "default"


def test_reentering_the_same_namespace_nests_cleanly():
    with use_namespace("x"):
        with use_namespace("x"):
            assert active_namespace() == "x"
        assert active_namespace() == "x"
    assert active_namespace() == "default"


def test_namespace_is_resolved_when_the_decorator_is_applied():
    """Contract 1.1: the namespace is resolved when the decorator is applied to the function."""
    with use_namespace("made_here"):
        decorator = task("late")

    with use_namespace("applied_here"):
        decorator(lambda: None)

    assert ids("applied_here") == ["late"]
    assert ids("made_here") == []


def test_same_id_may_live_in_two_namespaces():
    task("load", namespace="one")(lambda: 1)
    task("load", namespace="two")(lambda: 2)
    assert get_registry("one").get_task("load").function() == 1
    assert get_registry("two").get_task("load").function() == 2
    with pytest.raises(TaskRegistrationError, match="already exists in registry 'one'"):
        task("load", namespace="one")(lambda: 3)


# -- threads and asyncio tasks ---------------------------------------------------------------


def test_a_new_thread_sees_the_default_namespace():
    with use_namespace("main_only"):
        seen = in_thread(active_namespace)
        in_thread(lambda: task("from_thread")(lambda: None))

    assert seen == "default"
    assert ids("default") == ["from_thread"]
    assert ids("main_only") == []


def test_use_namespace_in_one_thread_does_not_leak_into_another():
    entered = threading.Event()
    release = threading.Event()
    observed: list[str] = []

    def holder() -> None:
        with use_namespace("held"):
            entered.set()
            release.wait(10)

    worker = threading.Thread(target=holder)
    worker.start()
    try:
        assert entered.wait(10)
        observed.append(active_namespace())
        task("main_task")(lambda: None)
    finally:
        release.set()
        worker.join(10)

    assert observed == ["default"]
    assert ids("default") == ["main_task"]


async def test_asyncio_task_created_inside_use_namespace_keeps_it_after_the_block_exits():
    async def register_later() -> str:
        await asyncio.sleep(0)
        task("from_task")(lambda: None)
        return active_namespace()

    with use_namespace("scoped"):
        pending = asyncio.create_task(register_later())
    assert active_namespace() == "default"

    assert await pending == "scoped"
    assert ids("scoped") == ["from_task"]


async def test_concurrent_asyncio_tasks_keep_their_own_namespaces():
    async def worker(namespace: str) -> list[str]:
        seen = []
        with use_namespace(namespace):
            for k in range(5):
                await asyncio.sleep(0)
                seen.append(active_namespace())
                task(f"{namespace}_{k}")(lambda: None)
        return seen

    first, second = await asyncio.gather(worker("left"), worker("right"))

    assert first == ["left"] * 5
    assert second == ["right"] * 5
    assert ids("left") == [f"left_{k}" for k in range(5)]
    assert ids("right") == [f"right_{k}" for k in range(5)]


# -- get_registry / clear_registry -----------------------------------------------------------


def test_get_registry_creates_on_demand_and_returns_the_same_object():
    first = get_registry("fresh")
    assert first.name == "fresh"
    assert first.get_all_tasks() == {}
    assert get_registry("fresh") is first


def test_get_registry_without_a_name_is_the_active_one():
    with use_namespace("ctx"):
        assert get_registry() is get_registry("ctx")
    assert get_registry() is get_registry("default")


def test_clear_registry_of_one_namespace_keeps_the_others():
    task("a", namespace="keep")(lambda: None)
    task("b", namespace="drop")(lambda: None)

    clear_registry("drop")

    assert ids("drop") == []
    assert ids("keep") == ["a"]


def test_clear_registry_of_an_unknown_namespace_is_harmless():
    task("a")(lambda: None)
    clear_registry("never_used")
    assert ids("default") == ["a"]


def test_clear_registry_without_a_name_empties_every_namespace():
    task("a")(lambda: None)
    task("b", namespace="x")(lambda: None)
    old = get_registry("x")

    clear_registry()

    assert ids("default") == []
    assert ids("x") == []
    # the cleared ids can be registered again
    task("b", namespace="x")(lambda: None)
    assert ids("x") == ["b"]
    assert old.get_all_tasks() == {}


# -- module-level build and run --------------------------------------------------------------


def _register_pipeline(**kwargs) -> None:
    task("extract", **kwargs)(lambda: "rows")
    task("load", depends_on=["extract"], **kwargs)(lambda: None)
    task("other", **kwargs)(lambda: None)


def test_orders_built_by_namespace_keyword_equal_orders_built_in_context():
    _register_pipeline(namespace="etl")

    by_keyword = build_task_orders(["load"], namespace="etl")
    with use_namespace("etl"):
        by_context = build_task_orders(["load"])

    def shape(orders):
        return [(o.task_name, [d.task_name for d in o.dependencies]) for o in orders]

    assert shape(by_keyword) == shape(by_context) == [("extract", []), ("load", ["extract"])]


async def test_module_build_scheduler_by_namespace_runs():
    _register_pipeline(namespace="etl")
    scheduler = build_scheduler(["load"], namespace="etl")
    report = await scheduler.execute()
    assert report.execution_state == "completed"
    assert [s.task_name for s in report.task_statistics] == ["extract", "load"]


async def test_run_inside_use_namespace_uses_that_namespace():
    _register_pipeline(namespace="etl")
    task("stray")(lambda: None)  # default namespace: must not run

    with use_namespace("etl"):
        report = await run()

    assert sorted(s.task_name for s in report.task_statistics) == ["extract", "load", "other"]


async def test_run_namespace_keyword_beats_the_context():
    _register_pipeline(namespace="etl")
    task("lonely", namespace="elsewhere")(lambda: None)

    with use_namespace("elsewhere"):
        report = await run(["load"], namespace="etl")

    assert [s.task_name for s in report.task_statistics] == ["extract", "load"]


def test_module_build_scheduler_uses_legacy_keywords_only_without_config():
    _register_pipeline(namespace="etl")
    semaphore = asyncio.Semaphore(2)

    legacy = build_scheduler(namespace="etl", ignore_tail_task=["other"], concurrency_context=semaphore)
    configured = build_scheduler(
        namespace="etl",
        config=AstrumConfig(ignore_tail_task=["load"]),
        ignore_tail_task=["other"],
        concurrency_context=semaphore,
    )

    assert list(legacy.ignore_tail_task) == ["other"]
    assert list(configured.ignore_tail_task) == ["load"]
    assert legacy.concurrency_context is semaphore
    assert configured.concurrency_context is semaphore
