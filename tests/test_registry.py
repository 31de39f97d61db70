"""Registry layer (contract section 1): registration, queries, selection, builds and thread safety."""

import asyncio
import dataclasses
import inspect
import sys
import threading

import pydantic
import pytest

import astrum
from astrum import (
    AstrumConfig,
    F,
    Ref,
    RegisteredTask,
    SchedulerRegistry,
    TaskOrder,
    TaskRegistrationError,
    build_scheduler,
    get_registry,
    task,
)
from astrum.data_transport import TaskData
from astrum.testing import FakeClock


@pytest.fixture(autouse=True)
def _clean_registry():
    astrum.clear_registry()
    yield
    astrum.clear_registry()


@pytest.fixture
def fast_switching():
    """Make the interpreter switch threads as often as possible, to expose races."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def names(orders: list[TaskOrder]) -> list[str]:
    return [order.task_name for order in orders]


def deps(orders: list[TaskOrder]) -> dict[str, list[str]]:
    return {order.task_name: [d.task_name for d in order.dependencies] for order in orders}


# -- the decorator ---------------------------------------------------------------------------


def test_decorator_returns_the_sync_function_itself():
    def load() -> int:
        return 41

    decorated = task()(load)

    assert decorated is load
    assert decorated() == 41
    assert get_registry().get_task("load").function is load


async def test_decorator_returns_the_async_function_itself_and_keeps_it_a_coroutine_function():
    async def load() -> int:
        return 41

    decorated = task("load")(load)

    assert decorated is load
    assert inspect.iscoroutinefunction(decorated)
    assert await decorated() == 41


def test_registry_decorator_returns_the_function_itself():
    reg = SchedulerRegistry("wf")

    def step() -> None:
        pass

    assert reg.task("step")(step) is step


def test_task_id_defaults_to_the_function_name():
    @task()
    def extract_rows() -> None:
        pass

    assert list(get_registry().get_all_tasks()) == ["extract_rows"]
    assert get_registry().get_task("extract_rows").function is extract_rows


def test_explicit_task_id_replaces_the_function_name():
    @task("rows")
    def extract_rows() -> None:
        pass

    assert list(get_registry().get_all_tasks()) == ["rows"]


def test_registered_function_carries_its_scheduler_attributes():
    data = TaskData()

    @task("load", depends_on=["extract"], retry=3, namespace="etl", data=data)
    def load() -> None:
        pass

    assert load._scheduler_task_id == "load"
    assert load._scheduler_registry == "etl"
    assert load._scheduler_depends_on == ("extract",)
    assert load._scheduler_retry == 3
    assert load._scheduler_task_data is data


def test_function_registered_without_data_has_no_task_data_attribute():
    @task()
    def plain() -> None:
        pass

    assert plain._scheduler_task_id == "plain"
    assert plain._scheduler_registry == "default"
    assert plain._scheduler_depends_on == ()
    assert plain._scheduler_retry == 0
    assert not hasattr(plain, "_scheduler_task_data")


def test_depends_on_list_is_stored_as_a_tuple_and_unknown_ids_are_accepted_at_registration():
    @task(depends_on=["ghost", "phantom"])
    def waits() -> None:
        pass

    record = get_registry().get_task("waits")
    assert record.depends_on == ("ghost", "phantom")
    assert isinstance(record.depends_on, tuple)


def test_registered_task_is_a_frozen_record():
    @task(retry=1)
    def step() -> None:
        pass

    record = get_registry().get_task("step")
    assert isinstance(record, RegisteredTask)
    assert (record.task_id, record.function, record.depends_on, record.retry, record.data) == (
        "step",
        step,
        (),
        1,
        None,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.retry = 5  # type: ignore[misc]


def test_registration_fills_task_id_and_appends_depends_on_to_from_tasks_of_user_data():
    data = TaskData(from_tasks=["seed"])

    @task("consume", depends_on=["a", "b"], data=data)
    def consume() -> None:
        pass

    assert data.task_id == "consume"
    assert data.from_tasks[0] == "seed"
    assert {"a", "b"} <= set(data.from_tasks)
    assert get_registry().get_task("consume").data is data


# -- registration errors ---------------------------------------------------------------------


def test_duplicate_task_id_message_is_exact():
    @task("load")
    def first() -> None:
        pass

    with pytest.raises(TaskRegistrationError) as info:

        @task("load")
        def second() -> None:
            pass

    assert str(info.value) == "Task 'load' already exists in registry 'default'."
    assert get_registry().get_task("load").function is first


def test_duplicate_id_in_a_named_registry_names_that_registry():
    reg = SchedulerRegistry("billing")
    reg.task("fetch")(lambda: None)
    with pytest.raises(TaskRegistrationError) as info:
        reg.task("fetch")(lambda: None)
    assert str(info.value) == "Task 'fetch' already exists in registry 'billing'."


def test_duplicate_id_is_reported_before_a_bad_retry():
    @task("load")
    def first() -> None:
        pass

    with pytest.raises(TaskRegistrationError, match="already exists"):
        task("load", retry=-1)(lambda: None)


@pytest.mark.parametrize("retry", [-1, "one", True, False, 1.0, None])
def test_invalid_retry_is_rejected_with_the_contract_message(retry):
    with pytest.raises(TaskRegistrationError) as info:

        @task("flaky", retry=retry)
        def flaky() -> None:
            pass

    assert str(info.value) == "Task 'flaky' retry must be a non-negative integer."
    assert "flaky" not in get_registry().get_all_tasks()


def test_registration_error_is_a_value_error():
    with pytest.raises(ValueError):
        task("x", retry=-2)(lambda: None)


# -- queries ---------------------------------------------------------------------------------


def test_get_task_of_an_unknown_id_message_is_exact():
    reg = SchedulerRegistry("wf")
    with pytest.raises(TaskRegistrationError) as info:
        reg.get_task("nope")
    assert str(info.value) == "Task 'nope' is not registered in 'wf'."


def test_get_all_tasks_is_in_registration_order():
    reg = SchedulerRegistry("wf")
    for name in ["zeta", "alpha", "mid", "beta"]:
        reg.task(name)(lambda: None)
    assert list(reg.get_all_tasks()) == ["zeta", "alpha", "mid", "beta"]


def test_get_all_tasks_returns_a_copy():
    reg = SchedulerRegistry("wf")
    reg.task("a")(lambda: None)
    snapshot = reg.get_all_tasks()
    snapshot.pop("a")
    snapshot["b"] = snapshot.get("b")

    assert list(reg.get_all_tasks()) == ["a"]
    reg.get_task("a")  # still registered


def test_clear_drops_every_task_and_ids_can_be_reused():
    reg = SchedulerRegistry("wf")
    reg.task("a")(lambda: 1)
    reg.task("b")(lambda: 2)
    reg.clear()
    assert reg.get_all_tasks() == {}
    reg.task("a")(lambda: 3)
    assert list(reg.get_all_tasks()) == ["a"]


# -- selection and builds --------------------------------------------------------------------


def test_build_task_orders_for_a_target_returns_its_dependency_then_the_target():
    reg = SchedulerRegistry("etl")

    @reg.task("load")
    def load() -> None:
        pass

    @reg.task("transform", depends_on=["load"])
    def transform() -> None:
        pass

    @reg.task("unrelated")
    def unrelated() -> None:
        pass

    orders = reg.build_task_orders(["transform"])

    assert names(orders) == ["load", "transform"]
    assert orders[1].dependencies == [orders[0]]
    assert orders[0].dependencies == []


def test_build_task_orders_without_targets_selects_every_task_in_registration_order():
    reg = SchedulerRegistry("etl")
    reg.task("c", depends_on=["a"])(lambda: None)
    reg.task("a")(lambda: None)
    reg.task("b")(lambda: None)

    orders = reg.build_task_orders()

    assert names(orders) == ["c", "a", "b"]
    assert deps(orders) == {"c": ["a"], "a": [], "b": []}


def test_selection_follows_depends_on_and_ref_sources_transitively_in_registration_order():
    reg = SchedulerRegistry("etl")

    @reg.task()
    def report(total: Ref[int, F("total")]) -> str:
        return str(total)

    @reg.task()
    def noise() -> None:
        pass

    @reg.task(depends_on=["extract"])
    def total() -> int:
        return 3

    @reg.task()
    def extract() -> None:
        pass

    orders = reg.build_task_orders(["report"])

    assert names(orders) == ["report", "total", "extract"]
    assert deps(orders) == {"report": ["total"], "total": ["extract"], "extract": []}


def test_build_tasks_returns_the_selected_functions_not_coroutines():
    reg = SchedulerRegistry("etl")

    @reg.task()
    async def extract() -> None:
        pass

    @reg.task(depends_on=["extract"])
    def load() -> None:
        pass

    @reg.task()
    async def other() -> None:
        pass

    pairs = reg.build_tasks(["load"])

    assert pairs == [("extract", extract), ("load", load)]
    assert not any(inspect.iscoroutine(fn) for _, fn in pairs)
    assert [tid for tid, _ in reg.build_tasks()] == ["extract", "load", "other"]


def test_scheduler_task_retries_list_only_tasks_with_retries():
    reg = SchedulerRegistry("etl")
    reg.task("flaky", retry=2)(lambda: None)
    reg.task("steady")(lambda: None)

    assert reg.build_scheduler().task_retries == {"flaky": 2}


def test_scheduler_task_retries_is_empty_without_retries():
    reg = SchedulerRegistry("etl")
    reg.task("steady")(lambda: None)
    assert reg.build_scheduler().task_retries == {}


def test_namespace_build_scheduler_keeps_task_retries():
    task("flaky", retry=2, namespace="ops")(lambda: None)
    task("steady", namespace="ops")(lambda: None)
    assert build_scheduler(namespace="ops").task_retries == {"flaky": 2}


def test_retry_is_kept_on_the_registered_task_across_builds():
    reg = SchedulerRegistry("etl")
    reg.task("flaky", retry=2)(lambda: None)
    for _ in range(3):
        reg.build_task_orders()
        reg.build_scheduler()
    assert reg.get_task("flaky").retry == 2


async def test_build_scheduler_honours_an_explicit_semaphore_and_legacy_tail_list():
    reg = SchedulerRegistry("etl")
    reg.task("main")(lambda: None)
    reg.task("tail")(lambda: None)
    semaphore = asyncio.Semaphore(1)

    scheduler = reg.build_scheduler(ignore_tail_task=["tail"], concurrency_context=semaphore)

    assert scheduler.concurrency_context is semaphore
    assert list(scheduler.ignore_tail_task) == ["tail"]
    report = await scheduler.execute()
    assert report.execution_state == "completed"


def test_build_scheduler_prefers_config_tail_tasks_over_the_legacy_keyword():
    reg = SchedulerRegistry("etl")
    for name in ["main", "a", "b"]:
        reg.task(name)(lambda: None)

    scheduler = reg.build_scheduler(
        ignore_tail_task=["a"], config=astrum.AstrumConfig(ignore_tail_task=["b"])
    )

    assert list(scheduler.ignore_tail_task) == ["b"]


def test_build_scheduler_task_data_refs_hold_the_selected_explicit_task_data():
    reg = SchedulerRegistry("etl")
    data = TaskData()
    reg.task("with_data", data=data)(lambda: None)
    reg.task("without")(lambda: None)
    reg.task("other", data=TaskData())(lambda: None)

    refs = reg.build_scheduler(["with_data", "without"]).task_data_refs

    assert set(refs) == {"with_data"}
    assert refs["with_data"] is data


def test_unknown_dependencies_are_reported_at_build_with_the_registry_name():
    reg = SchedulerRegistry("etl")
    reg.task("b", depends_on=["phantom"])(lambda: None)
    reg.task("a", depends_on=["ghost"])(lambda: None)

    with pytest.raises(TaskRegistrationError) as info:
        reg.build_task_orders()

    message = str(info.value)
    assert message.startswith("Registry 'etl' has unknown dependencies: ")
    assert "ghost" in message
    assert "phantom" in message
    assert message.index("ghost") < message.index("phantom")  # sorted


def test_unknown_dependencies_of_unselected_tasks_are_not_checked():
    reg = SchedulerRegistry("etl")
    reg.task("fine")(lambda: 1)
    reg.task("broken", depends_on=["ghost"])(lambda: None)

    assert names(reg.build_task_orders(["fine"])) == ["fine"]


def test_unknown_target_raises_the_get_task_message():
    reg = SchedulerRegistry("etl")
    reg.task("known")(lambda: None)
    with pytest.raises(TaskRegistrationError) as info:
        reg.build_task_orders(["missing"])
    assert str(info.value) == "Task 'missing' is not registered in 'etl'."


async def test_empty_target_list_is_an_empty_completed_run():
    reg = SchedulerRegistry("etl")
    calls: list[str] = []
    reg.task("a")(lambda: calls.append("a"))

    assert reg.build_task_orders([]) == []
    report = await reg.run([])

    assert report.execution_state == "completed"
    assert report.total_tasks == 0
    assert report.task_statistics == []
    assert calls == []


async def test_run_of_a_target_runs_its_dependency_first_including_sync_tasks():
    reg = SchedulerRegistry("etl")
    events: list[str] = []

    @reg.task()
    def extract() -> None:
        events.append("extract")

    @reg.task(depends_on=["extract"])
    async def load() -> None:
        events.append("load")

    @reg.task()
    def skipped() -> None:
        events.append("skipped")

    report = await reg.run(["load"])

    assert report.execution_state == "completed"
    assert events == ["extract", "load"]
    assert report.successful_tasks == 2


# -- thread safety (D22) ---------------------------------------------------------------------


def _start_together(workers: list[threading.Thread]) -> None:
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
        assert not worker.is_alive()


def test_eight_threads_registering_into_one_new_namespace_lose_no_task(fast_switching):
    threads, per_thread = 8, 200
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def register(k: int) -> None:
        try:
            barrier.wait()
            for j in range(per_thread):
                task(f"t{k}_{j}", namespace="crowded")(lambda: None)
        except BaseException as exc:
            errors.append(exc)

    _start_together([threading.Thread(target=register, args=(k,)) for k in range(threads)])

    assert errors == []
    registered = get_registry("crowded").get_all_tasks()
    assert len(registered) == threads * per_thread
    assert set(registered) == {f"t{k}_{j}" for k in range(threads) for j in range(per_thread)}


def test_concurrent_registration_of_one_id_succeeds_exactly_once(fast_switching):
    threads = 8
    for trial in range(50):
        reg = SchedulerRegistry(f"race{trial}")
        barrier = threading.Barrier(threads)
        winners: list[int] = []
        losers: list[BaseException] = []
        lock = threading.Lock()

        def register(k: int, reg: SchedulerRegistry = reg, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                reg.task("same")(lambda: k)
            except TaskRegistrationError as exc:
                with lock:
                    losers.append(exc)
            else:
                with lock:
                    winners.append(k)

        _start_together([threading.Thread(target=register, args=(k,)) for k in range(threads)])

        assert len(winners) == 1, f"trial {trial}: {len(winners)} registrations succeeded"
        assert len(losers) == threads - 1
        assert all("already exists" in str(exc) for exc in losers)
        assert reg.get_task("same").function() == winners[0]


async def test_an_unchanged_registry_reuses_its_build_and_a_new_task_invalidates_it():
    reg = SchedulerRegistry("reuse")

    @reg.task()
    async def first() -> int:
        return 1

    config = AstrumConfig()
    one = reg.build_scheduler(config=config)
    two = reg.build_scheduler(config=AstrumConfig())  # an equal config
    assert one._program is two._program
    assert reg.build_scheduler(config=AstrumConfig(concurrency_limit=3))._program is not one._program

    @reg.task()
    async def second(value: Ref[int, F("first")]) -> int:
        return value + 1

    three = reg.build_scheduler(config=config)
    assert three._program is not one._program
    report = await three.execute()
    assert report.results == {"first": 1, "second": 2}


@dataclasses.dataclass(frozen=True)
class _FrozenGreeter:
    """Equal to (and hashed like) any other greeter with the same name."""

    name: str

    def greet(self) -> object:
        return self


@dataclasses.dataclass
class _MutableGreeter:
    """Equal to any other greeter with the same name; unhashable."""

    name: str

    def greet(self) -> object:
        return self


class _ModelGreeter(pydantic.BaseModel):
    name: str

    def greet(self) -> object:
        return self


@pytest.mark.parametrize("greeter", [_FrozenGreeter, _MutableGreeter, _ModelGreeter])
async def test_cached_builds_call_the_class_instance_given_not_an_equal_one(greeter):
    reg = SchedulerRegistry("greeters")
    reg.task("greet")(greeter.greet)
    first, second = greeter(name="same"), greeter(name="same")
    assert first == second and first is not second

    one = await reg.run(config=AstrumConfig(class_instances=[first]))
    two = await reg.run(config=AstrumConfig(class_instances=[second]))
    scheduled = reg.build_scheduler(config=AstrumConfig(class_instances=[first]))
    with astrum.use_namespace("greeters_ns"):
        astrum.task("greet")(greeter.greet)
    namespaced = astrum.build_scheduler(namespace="greeters_ns", config=AstrumConfig(class_instances=[first]))
    namespaced_again = astrum.build_scheduler(
        namespace="greeters_ns", config=AstrumConfig(class_instances=[second])
    )

    assert one.task_return_set["greet"] is first
    assert two.task_return_set["greet"] is second
    assert (await scheduled.execute()).task_return_set["greet"] is first
    assert (await namespaced.execute()).task_return_set["greet"] is first
    assert (await namespaced_again.execute()).task_return_set["greet"] is second


def test_a_config_holding_the_same_objects_reuses_the_cached_build():
    reg = SchedulerRegistry("same_objects")
    reg.task("greet")(_MutableGreeter.greet)
    greeter, hook, clock = _MutableGreeter("x"), astrum.RunHook(), FakeClock()

    def config() -> AstrumConfig:
        return AstrumConfig(class_instances=[greeter], hooks=[hook], clock=clock, pools={"io": 2})

    assert reg.build_scheduler(config=config())._program is reg.build_scheduler(config=config())._program
    other_hook = reg.build_scheduler(config=dataclasses.replace(config(), hooks=[astrum.RunHook()]))
    assert other_hook._program is not reg.build_scheduler(config=config())._program
