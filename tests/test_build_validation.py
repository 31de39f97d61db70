"""Builds: repeatable and side-effect free, selection, and validation (contract 1.2, 2.4, section 8)."""

import asyncio
import contextvars
import itertools
import sys
from dataclasses import dataclass
from typing import Any, NamedTuple, Optional, Required, TypedDict, Union

import pydantic
import pytest

import astrum
from astrum import AstrumConfig, F, Ref, SchedulerRegistry, T, TaskRegistrationError
from astrum.data_transport import DataItem, DTRela, TaskData


@pytest.fixture(autouse=True)
def _clean_registry():
    astrum.clear_registry()
    yield
    astrum.clear_registry()


def stats(report) -> dict[str, Any]:
    return {s.task_name: s for s in report.task_statistics}


def dependency_map(reg: SchedulerRegistry, targets=None) -> dict[str, list[str]]:
    return {o.task_name: [d.task_name for d in o.dependencies] for o in reg.build_task_orders(targets)}


def build_error(reg: SchedulerRegistry, targets=None, config=None) -> TaskRegistrationError:
    with pytest.raises(TaskRegistrationError) as info:
        reg.build_task_orders(targets, config)
    return info.value


# -- builds are cheap and repeatable ---------------------------------------------------------


def _pipeline(reg: SchedulerRegistry) -> None:
    @reg.task()
    def load() -> dict:
        return {"rows": [3, 1, 2], "name": "t"}

    @reg.task()
    def sort_rows(rows: Ref[list, F("load", "rows")]) -> list:
        return sorted(rows)

    @reg.task(depends_on=["load"])
    async def label(name: Ref[str, F(load, "name")], rows: Ref[list, F("sort_rows")]) -> str:
        return f"{name}:{rows}"


async def test_a_registry_built_and_run_three_times_gives_identical_results():
    reg = SchedulerRegistry("repeat")
    _pipeline(reg)

    first_orders = dependency_map(reg)
    reports = [await reg.run() for _ in range(3)]

    for report in reports:
        assert report.execution_state == "completed"
        assert dict(report.task_return_set) == {
            "load": {"rows": [3, 1, 2], "name": "t"},
            "sort_rows": [1, 2, 3],
            "label": "t:[1, 2, 3]",
        }
    assert (
        dependency_map(reg)
        == first_orders
        == {
            "load": [],
            "sort_rows": ["load"],
            "label": ["load", "sort_rows"],
        }
    )


async def test_concurrent_runs_of_one_registry_keep_their_own_values_and_reports():
    """D7: gather(reg.run(), reg.run()) gives each run its own values and its own report."""
    reg = SchedulerRegistry("concurrent")
    counter = itertools.count(1)

    @reg.task()
    async def produce() -> int:
        value = next(counter)
        await asyncio.sleep(0.01 * value)
        return value

    @reg.task()
    async def consume(value: Ref[int, F("produce")]) -> int:
        await asyncio.sleep(0)
        return value

    first, second = await asyncio.gather(reg.run(), reg.run())

    assert first is not second
    assert first.task_statistics is not second.task_statistics
    produced = {first.task_return_set["produce"], second.task_return_set["produce"]}
    assert produced == {1, 2}
    for report in (first, second):
        assert report.execution_state == "completed"
        assert report.task_return_set["consume"] == report.task_return_set["produce"]
        assert len(report.task_statistics) == 2


async def test_concurrent_runs_see_their_own_context_variables():
    reg = SchedulerRegistry("ctxvar")
    tenant: contextvars.ContextVar[str] = contextvars.ContextVar("tenant")

    @reg.task()
    async def produce() -> str:
        await asyncio.sleep(0.01)
        return tenant.get()

    @reg.task()
    def consume(who: Ref[str, F("produce")]) -> str:
        return f"{who}/{tenant.get()}"

    async def run_as(name: str):
        tenant.set(name)
        return await reg.run()

    reports = await asyncio.gather(*(run_as(name) for name in ["ann", "bob", "cid"]))

    assert [r.task_return_set["consume"] for r in reports] == ["ann/ann", "bob/bob", "cid/cid"]


async def test_one_scheduler_executed_twice_concurrently_keeps_each_runs_values():
    reg = SchedulerRegistry("one_scheduler")
    counter = itertools.count(1)

    @reg.task()
    async def produce() -> int:
        value = next(counter)
        await asyncio.sleep(0.02 if value == 1 else 0.001)
        return value

    @reg.task()
    async def consume(value: Ref[int, F("produce")]) -> int:
        return value

    scheduler = reg.build_scheduler()
    first, second = await asyncio.gather(scheduler.execute(), scheduler.execute())

    pairs = sorted((r.task_return_set["produce"], r.task_return_set["consume"]) for r in (first, second))
    assert pairs == [(1, 1), (2, 2)]


async def test_builds_leave_user_task_data_unchanged():
    """D4: builds never write into the user's TaskData (no self relations, no data slots)."""
    reg = SchedulerRegistry("untouched")
    load_data = TaskData()
    greet_data = TaskData(
        input_data_item=[
            DataItem(
                allow_data_model=str,
                from_relation=DTRela(key="name", related_task="load"),
                to_relation=DTRela(key="name", related_task="greet"),
            )
        ]
    )

    @reg.task("load", data=load_data)
    def load() -> dict:
        return {"name": "Alice"}

    @reg.task("greet", data=greet_data)
    def greet(name: str, tail: Ref[dict, F("load")]) -> str:
        return f"hello {name} ({len(tail)})"

    before = (load_data.model_dump(), greet_data.model_dump())

    for _ in range(3):
        reg.build_task_orders()
        report = await reg.run(["greet"])
        assert report.task_return_set["greet"] == "hello Alice (1)"

    assert (load_data.model_dump(), greet_data.model_dump()) == before
    assert greet_data.input_data_item[0].data_ref is None
    assert load_data.output_data_item == []

    # the same TaskData objects can be registered again after clear()
    reg.clear()
    reg.task("load", data=load_data)(load)
    reg.task("greet", data=greet_data)(greet)
    assert (await reg.run()).task_return_set["greet"] == "hello Alice (1)"


# -- selection (D24) -------------------------------------------------------------------------


async def test_a_bad_annotation_in_an_unselected_task_does_not_break_the_build():
    reg = SchedulerRegistry("d24")

    @reg.task()
    def good() -> int:
        return 1

    @reg.task()
    def broken(x: Ref[int, F("nonexistent")]) -> None:
        pass

    @reg.task()
    def misused(x: Ref[int, T("good")]) -> None:
        pass

    assert dependency_map(reg, ["good"]) == {"good": []}
    assert (await reg.run(["good"])).task_return_set == {"good": 1}
    # selecting everything still reports both problems
    text = str(build_error(reg))
    assert "nonexistent" in text
    assert "To(...) metadata is only valid on return annotations" in text


async def test_explicit_dtrela_sources_are_pulled_into_target_selection():
    reg = SchedulerRegistry("d24b")

    @reg.task("load_user", data=TaskData())
    async def load_user() -> dict:
        return {"name": "Alice"}

    @reg.task()
    def unrelated() -> None:
        raise AssertionError("must not run")

    @reg.task(
        "greet",
        data=TaskData(
            input_data_item=[
                DataItem(
                    allow_data_model=str,
                    from_relation=DTRela(key="name", related_task="load_user"),
                    to_relation=DTRela(key="name", related_task="greet"),
                )
            ]
        ),
    )
    async def greet(name: str) -> str:
        return f"hello {name}"

    assert dependency_map(reg, ["greet"]) == {"load_user": [], "greet": ["load_user"]}
    report = await reg.run(["greet"], AstrumConfig(skip_type_check=True))
    assert report.execution_state == "completed"
    assert dict(report.task_return_set) == {"load_user": {"name": "Alice"}, "greet": "hello Alice"}


def test_unknown_related_task_in_explicit_data_is_a_build_problem_not_a_key_error():
    reg = SchedulerRegistry("unknown_rela")

    @reg.task(
        data=TaskData(
            input_data_item=[
                DataItem(
                    from_relation=DTRela(key="name", related_task="ghost"),
                    to_relation=DTRela(key="name", related_task="greet"),
                )
            ]
        )
    )
    def greet(name: str) -> None:
        pass

    error = build_error(reg, ["greet"])
    assert "Unknown task id 'ghost'" in str(error)
    assert "greet" in str(error)


def test_explicit_input_item_without_from_relation_is_reported():
    reg = SchedulerRegistry("no_from")

    @reg.task(data=TaskData(input_data_item=[DataItem(to_relation=DTRela(related_task="t", key="x"))]))
    def t(x: int = 1) -> None:
        pass

    message = str(build_error(reg))
    assert message.startswith(
        "Data transport validation failed with the following errors:\n- Data item in task t has"
    )


def test_explicit_from_relation_without_key_index_or_single_item_is_reported():
    reg = SchedulerRegistry("no_mode")
    reg.task("s")(lambda: 1)

    @reg.task(
        data=TaskData(
            input_data_item=[
                DataItem(
                    from_relation=DTRela(related_task="s"),
                    to_relation=DTRela(related_task="t", key="x"),
                )
            ]
        )
    )
    def t(x: int) -> None:
        pass

    assert "Data item in task t has" in str(build_error(reg))


# -- all problems in one error ---------------------------------------------------------------


class Totals(TypedDict):
    count: int
    label: str


@dataclass
class Point:
    x: int
    y: float


class User(pydantic.BaseModel):
    name: str
    age: int


class Pair(NamedTuple):
    left: int
    right: str


def test_every_build_problem_is_collected_into_one_error_naming_task_and_parameter():
    reg = SchedulerRegistry("collect")

    @reg.task()
    def totals() -> Totals:
        return {"count": 1, "label": "x"}

    @reg.task()
    def point() -> Point:
        return Point(1, 2.0)

    @reg.task()
    def user() -> User:
        return User(name="a", age=1)

    @reg.task()
    def unknown_source(a: Ref[int, F("ghost")], ok: int = 0) -> None:
        pass

    @reg.task()
    def bad_locators(
        a: Ref[int, F("totals", "missing_key")],
        b: Ref[int, F("point", "z")],
        c: Ref[str, F("user", "email")],
    ) -> None:
        pass

    @reg.task()
    def needs_input(value: int) -> None:
        pass

    @reg.task()
    def positional_only(a: Ref[int, F("totals", "count")], /) -> None:
        pass

    error = build_error(reg)
    message = str(error)
    problems = error.problems

    assert message.startswith("Data transport validation failed with the following errors:\n- ")
    expected = [
        ("unknown_source", "ghost"),
        ("bad_locators", "missing_key"),
        ("bad_locators", "'z'"),
        ("bad_locators", "email"),
        ("needs_input", "value"),
        ("positional_only", "positional-only"),
    ]
    for task_id, detail in expected:
        matching = [p for p in problems if task_id in p and detail in p]
        assert matching, f"no problem mentions {task_id!r} and {detail!r}: {problems}"
        assert matching[0] in message
    assert sum("Bad locator" in p or "no field" in p for p in problems) >= 3
    assert any("needs_input" in p and "'value'" in p for p in problems)


def test_required_parameter_with_no_provider_is_reported_at_build():
    """D14: upstream only failed at run time with a TypeError."""
    reg = SchedulerRegistry("d14")

    @reg.task()
    def t3(x: int) -> None:
        pass

    error = build_error(reg)
    assert len(error.problems) == 1
    assert "t3" in error.problems[0]
    assert "'x'" in error.problems[0]


def test_parameters_with_defaults_and_var_args_need_no_provider():
    reg = SchedulerRegistry("defaults")

    @reg.task()
    def fine(x: int = 1, *args: int, y: str = "a", **kwargs: Any) -> None:
        pass

    assert dependency_map(reg) == {"fine": []}


def test_keyword_only_ref_parameter_is_provided():
    reg = SchedulerRegistry("kwonly")
    reg.task("s")(lambda: 1)

    @reg.task()
    def t(*, x: Ref[int, F("s")]) -> int:
        return x

    assert dependency_map(reg)["t"] == ["s"]


def test_positional_only_ref_parameter_is_reported_at_build():
    """D14: a positional-only Ref parameter can never receive its value by keyword."""
    reg = SchedulerRegistry("posonly")
    reg.task("s")(lambda: 1)

    @reg.task()
    def t(x: Ref[int, F("s")], /) -> int:
        return x

    error = build_error(reg)
    assert len(error.problems) == 1
    assert "'t'" in error.problems[0]
    assert "'x'" in error.problems[0]
    assert "positional-only" in error.problems[0]


# -- type check ------------------------------------------------------------------------------


def _edge_registry(produced: Any, expected: Any, locator: Any = None) -> SchedulerRegistry:
    reg = SchedulerRegistry("types")

    def producer():
        return None

    producer.__annotations__ = {"return": produced}

    def consumer(value=None):
        return value

    consumer.__annotations__ = {"value": Ref[expected, F("producer", locator)]}
    reg.task("producer")(producer)
    reg.task("consumer")(consumer)
    return reg


class Animal(pydantic.BaseModel):
    name: str


class Dog(Animal):
    pass


class Car(pydantic.BaseModel):
    name: str


COMPATIBLE = [
    (int, int),
    (int, Union[int, str]),  # noqa: UP007
    (str, Union[int, str]),  # noqa: UP007
    (int, Optional[int]),  # noqa: UP045
    (int, int | None),
    (None, Optional[int]),  # noqa: UP045
    (int | None, int | None),
    (Union[int, str], Union[str, int, None]),  # noqa: UP007
    (int, float),
    (bool, int),
    (list[int], list),
    (list, list[int]),
    (list[int], list[int]),
    (dict[str, int], dict),
    (Dog, Animal),
    (Animal, Animal),
    (Totals, dict),
    (int, Any),
    (Any, int),
]

INCOMPATIBLE = [
    (str, int),
    (float, int),
    (int | None, int),
    (Optional[int], int),  # noqa: UP045
    (Union[int, str], int),  # noqa: UP007
    (list[int], list[str]),
    (dict[str, int], dict[str, str]),
    (Animal, Dog),
    (Animal, Car),
    (dict, Animal),
    (list, dict),
]


@pytest.mark.parametrize(("produced", "expected"), COMPATIBLE, ids=[f"{p}->{e}" for p, e in COMPATIBLE])
def test_compatible_types_pass_the_build_check(produced, expected):
    assert dependency_map(_edge_registry(produced, expected)) == {"producer": [], "consumer": ["producer"]}


@pytest.mark.parametrize(("produced", "expected"), INCOMPATIBLE, ids=[f"{p}->{e}" for p, e in INCOMPATIBLE])
def test_incompatible_types_fail_the_build_check(produced, expected):
    error = build_error(_edge_registry(produced, expected))
    assert len(error.problems) == 1
    assert "producer -> consumer.value" in error.problems[0]


@pytest.mark.parametrize(("produced", "expected"), INCOMPATIBLE, ids=[f"{p}->{e}" for p, e in INCOMPATIBLE])
def test_skip_type_check_skips_the_check(produced, expected):
    reg = _edge_registry(produced, expected)
    orders = reg.build_task_orders(config=AstrumConfig(skip_type_check=True))
    assert [o.task_name for o in orders] == ["producer", "consumer"]


def test_type_mismatch_message_names_the_edge_and_both_types():
    reg = SchedulerRegistry("message")

    @reg.task()
    def load() -> Totals:
        return {"count": 1, "label": "x"}

    @reg.task()
    def show(count: Ref[str, F("load", "count")]) -> None:
        pass

    (problem,) = build_error(reg).problems
    assert "load.count -> show.count" in problem
    assert "int" in problem
    assert "str" in problem
    assert problem.index("int") < problem.index("str")  # provided, then expected


def test_unannotated_producer_is_not_rejected():
    reg = SchedulerRegistry("unannotated")

    @reg.task()
    def load():
        return "anything"

    @reg.task()
    def use(x: Ref[int, F("load")]) -> None:
        pass

    assert dependency_map(reg)["use"] == ["load"]


KEYED_OK = [
    (Totals, "count", int),
    (Totals, "label", str),
    (Point, "x", int),
    (Point, "y", float),
    (Point, "x", float),
    (User, "name", str),
    (User, "age", int),
    (Pair, "right", str),
    (dict, "anything", int),
    (dict[str, int], "anything", int),
]

KEYED_BAD = [
    (Totals, "count", str),
    (Point, "y", int),
    (User, "name", int),
    (Pair, "left", str),
]


@pytest.mark.parametrize(("model", "key", "expected"), KEYED_OK)
def test_keyed_access_uses_the_declared_field_type(model, key, expected):
    """D20: keyed refs into TypedDict/dataclass/pydantic/NamedTuple returns are type checked."""
    assert dependency_map(_edge_registry(model, expected, key))["consumer"] == ["producer"]


@pytest.mark.parametrize(("model", "key", "expected"), KEYED_BAD)
def test_keyed_access_with_a_wrong_field_type_is_rejected(model, key, expected):
    (problem,) = build_error(_edge_registry(model, expected, key)).problems
    assert f"producer.{key} -> consumer.value" in problem


@pytest.mark.parametrize("model", [Totals, Point, User, Pair])
def test_keyed_access_to_a_field_the_model_lacks_is_rejected(model):
    (problem,) = build_error(_edge_registry(model, int, "no_such_field")).problems
    assert "no_such_field" in problem
    assert "producer" in problem and "consumer" in problem


def test_indexed_access_into_a_typed_tuple_is_checked():
    assert dependency_map(_edge_registry(tuple[int, str], str, 1))["consumer"] == ["producer"]
    assert dependency_map(_edge_registry(list[int], int, 5))["consumer"] == ["producer"]
    (problem,) = build_error(_edge_registry(tuple[int, str], int, 1)).problems
    assert "producer[1] -> consumer.value" in problem
    (problem,) = build_error(_edge_registry(tuple[int, str], int, 2)).problems
    assert "[2]" in problem


def test_explicit_data_item_types_are_checked_too():
    reg = SchedulerRegistry("explicit_types")

    @reg.task()
    def load() -> Totals:
        return {"count": 1, "label": "x"}

    @reg.task(
        data=TaskData(
            input_data_item=[
                DataItem(
                    allow_data_model=str,
                    from_relation=DTRela(related_task="load", key="count"),
                    to_relation=DTRela(related_task="show", key="text"),
                )
            ]
        )
    )
    def show(text: str) -> None:
        pass

    (problem,) = build_error(reg).problems
    assert "load.count -> show.text" in problem


def test_pushed_value_is_checked_against_the_receiving_parameter():
    reg = SchedulerRegistry("push_types")

    @reg.task()
    def produce() -> Ref[Totals, T("consume", "count", "value")]:
        return {"count": 1, "label": "x"}

    @reg.task()
    def consume(value: str) -> None:
        pass

    (problem,) = build_error(reg).problems
    assert "produce.count -> consume.value" in problem


def _make_from_function_registry(provider: Any, model: type) -> SchedulerRegistry:
    reg = SchedulerRegistry("from_function_types")
    reg.task(
        "use",
        data=TaskData(
            input_data_item=[
                DataItem(
                    allow_data_model=model,
                    from_relation=DTRela(related_task="use", from_function=provider),
                    to_relation=DTRela(related_task="use", key="value"),
                )
            ]
        ),
    )(lambda value: value)
    return reg


def _gives_int() -> int:
    return 1


def test_from_function_return_type_is_checked_against_allow_data_model():
    """Contract 2.4: from_function items are type checked at build."""
    assert dependency_map(_make_from_function_registry(_gives_int, int)) == {"use": []}
    error = build_error(_make_from_function_registry(_gives_int, str))
    assert "use" in str(error)
    assert "_gives_int" in str(error) or "int" in str(error)


def test_constant_from_function_is_validated_as_a_value():
    """Contract 2.4: a non-callable from_function is validated as a constant (isinstance)."""
    assert dependency_map(_make_from_function_registry(5, int)) == {"use": []}
    build_error(_make_from_function_registry(5, str))


# -- run-time value validation (validate_values) ---------------------------------------------


def _wrong_value_registry() -> SchedulerRegistry:
    reg = SchedulerRegistry("values")

    @reg.task()
    def source() -> dict:
        return {"a": "notint", "b": 2}

    @reg.task()
    def consumer(a: Ref[int, F("source", "a")]) -> Any:
        return a

    return reg


async def test_without_validate_values_a_wrong_value_passes_through():
    report = await _wrong_value_registry().run()
    assert report.execution_state == "completed"
    assert report.task_return_set["consumer"] == "notint"


async def test_validate_values_fails_the_consumer_not_the_producer():
    """D15: the consumer's input is wrong, so the consumer fails and the producer completed."""
    report = await _wrong_value_registry().run(config=AstrumConfig(validate_values=True))

    assert report.execution_state == "failed"
    by_name = stats(report)
    assert by_name["source"].status == "completed"
    assert by_name["consumer"].status == "failed"
    message = by_name["consumer"].error_message
    assert "source.a -> consumer.a" in message
    assert "int" in message
    assert "consumer" in report.exceptions
    assert "source" not in report.exceptions


async def test_validate_values_accepts_correct_values_and_int_for_float():
    reg = SchedulerRegistry("values_ok")

    @reg.task()
    def source() -> dict:
        return {"n": 3, "user": User(name="a", age=2), "items": [1, 2]}

    @reg.task()
    def consumer(
        n: Ref[float, F("source", "n")],
        user: Ref[User, F("source", "user")],
        items: Ref[list[int], F("source", "items")],
        maybe: Ref[int | None, F("source", "n")],
    ) -> tuple:
        return n, user.name, items, maybe

    report = await reg.run(config=AstrumConfig(validate_values=True))
    assert report.execution_state == "completed", report.error_summary
    assert report.task_return_set["consumer"] == (3, "a", [1, 2], 3)


def _producer_consumer(value: Any, expected: Any) -> tuple[SchedulerRegistry, list[Any]]:
    """``produce`` returns ``value``; ``consume`` declares ``Ref[expected, F("produce")]``."""
    reg = SchedulerRegistry("strict_values")
    received: list[Any] = []

    @reg.task()
    def produce() -> Any:
        return value

    @reg.task()
    def consume(item: Ref[expected, F("produce")]) -> None:  # type: ignore[valid-type]
        received.append(item)

    return reg, received


async def test_validate_values_fails_a_consumer_given_a_dict_where_a_model_is_declared():
    reg = SchedulerRegistry("dict_for_model")
    received: list[Any] = []

    @reg.task()
    def produce() -> User:
        return {"name": "a", "age": 2}  # type: ignore[return-value]

    @reg.task()
    def consume(user: Ref[User, F("produce")]) -> None:
        received.append(user)

    report = await reg.run(config=AstrumConfig(validate_values=True))

    assert received == []
    assert report.execution_state == "failed"
    assert stats(report)["produce"].status == "completed"
    message = stats(report)["consume"].error_message
    assert "Value check failed on edge produce -> consume.user" in message
    assert "instance of User" in message
    assert isinstance(report.exceptions["consume"], astrum.TaskInputError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param({"x": 1, "y": 2.0}, Point, id="dict-for-dataclass"),
        pytest.param((1, "r"), Pair, id="tuple-for-namedtuple"),
        pytest.param([{"name": "a", "age": 2}], list[User], id="dicts-in-a-list-of-models"),
        pytest.param({"k": {"name": "a", "age": 2}}, dict[str, User], id="dict-values-for-models"),
        pytest.param({"name": "a", "age": 2}, User | None, id="dict-for-optional-model"),
    ],
)
async def test_validate_values_never_passes_on_what_a_model_could_be_built_from(value, expected):
    reg, received = _producer_consumer(value, expected)
    report = await reg.run(config=AstrumConfig(validate_values=True))
    assert received == []
    assert "Value check failed on edge produce -> consume.item" in stats(report)["consume"].error_message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(Point(1, 2.0), Point, id="dataclass"),
        pytest.param(Pair(1, "r"), Pair, id="namedtuple"),
        pytest.param([User(name="a", age=2)], list[User], id="list-of-models"),
        pytest.param(None, User | None, id="none-for-optional-model"),
    ],
)
async def test_validate_values_passes_on_model_instances_unchanged(value, expected):
    reg, received = _producer_consumer(value, expected)
    report = await reg.run(config=AstrumConfig(validate_values=True))
    assert report.execution_state == "completed", report.error_summary
    assert received == [value]
    assert received[0] is value


class Address(TypedDict):  # typing.TypedDict: pydantic refuses it before Python 3.12
    city: str


class Customer(TypedDict, total=False):
    name: Required[str]
    address: Address


@pytest.mark.parametrize(
    ("value", "fits"),
    [
        pytest.param({"name": "a"}, True, id="required-key-only"),
        pytest.param({"name": "a", "address": {"city": "Oslo"}}, True, id="nested"),
        pytest.param({"address": {"city": "Oslo"}}, False, id="missing-required-key"),
        pytest.param({"name": 1}, False, id="wrong-field-type"),
        pytest.param({"name": "a", "address": {"city": 7}}, False, id="wrong-nested-field-type"),
    ],
)
async def test_validate_values_checks_a_typing_typeddict_ref_structurally(value, fits):
    reg, received = _producer_consumer(value, Customer)
    config = AstrumConfig(validate_values=True)
    reg.validate(config=config)

    report = await reg.run(config=config)

    assert (report.execution_state == "completed") is fits, report.error_summary
    assert received == ([value] if fits else [])
    if not fits:
        assert "Value check failed on edge produce -> consume.item" in stats(report)["consume"].error_message


class TreeNode(TypedDict):
    label: str
    children: list["TreeNode"]


async def test_recursive_typing_typeddict_with_validate_values_is_refused_naming_task_and_edge():
    reg, received = _producer_consumer({"label": "root", "children": []}, TreeNode)
    config = AstrumConfig(validate_values=True)
    if sys.version_info >= (3, 12):  # pydantic validates typing.TypedDict itself there
        report = await reg.run(config=config)
        assert report.execution_state == "completed", report.error_summary
        return
    with pytest.raises(TaskRegistrationError) as info:
        reg.validate(config=config)
    message = str(info.value)
    assert "Task 'consume' cannot validate values on edge produce -> consume.item" in message
    assert "typing_extensions" in message
    with pytest.raises(
        TaskRegistrationError, match=r"cannot validate values on edge produce -> consume\.item"
    ):
        await reg.run(config=config)
    assert received == []


def test_constant_from_function_a_model_can_be_built_from_passes_the_build_as_in_astrum_01():
    """Contract 2.4: a constant is validated with model_validate, so a fitting dict passes."""
    assert dependency_map(_make_from_function_registry({"name": "a", "age": 2}, User)) == {"use": []}
    build_error(_make_from_function_registry({"name": "a"}, User))


def test_constant_from_function_is_checked_against_a_typing_typeddict():
    def registry(constant: Any) -> SchedulerRegistry:
        reg = SchedulerRegistry("typeddict_constant")
        item = DataItem(
            allow_data_model=Address,
            from_relation=DTRela(single_item=True, related_task="use", from_function=constant),
            to_relation=DTRela(key="address", related_task="use"),
        )
        reg.task("use", data=TaskData(input_data_item=[item]))(lambda address: address)
        return reg

    assert dependency_map(registry({"city": "Oslo"})) == {"use": []}
    assert "constant -> use.address" in str(build_error(registry({"city": 7})))


async def test_bad_key_at_run_time_fails_the_consumer_without_retrying_the_producer():
    """D15: F("s", "zzz") on a dict: s (retry=2) runs exactly once, the consumer fails."""
    reg = SchedulerRegistry("d15")
    calls: list[int] = []

    @reg.task(retry=2)
    def s() -> dict:
        calls.append(1)
        return {"a": 1}

    @reg.task()
    def c(value: Ref[int, F("s", "zzz")]) -> int:
        return value

    report = await reg.run()

    assert calls == [1]
    assert report.execution_state == "failed"
    by_name = stats(report)
    assert by_name["s"].status == "completed"
    assert by_name["s"].attempt_count == 1
    assert by_name["c"].status == "failed"
    assert "zzz" in by_name["c"].error_message
    assert isinstance(report.exceptions["c"], LookupError)
    assert not any("Task 's'" in line for line in report.error_summary)


# -- allow_no_dir_definition (D18) -----------------------------------------------------------


async def test_allow_no_dir_definition_false_does_not_break_builds_without_data_items():
    reg = SchedulerRegistry("d18")

    @reg.task()
    def a() -> int:
        return 1

    @reg.task(depends_on=["a"])
    def b(x: Ref[int, F("a")]) -> int:
        return x + 1

    @reg.task(data=TaskData())
    def c() -> None:
        pass

    config = AstrumConfig(allow_no_dir_definition=False)
    assert dependency_map(reg) == {"a": [], "b": ["a"], "c": []}
    report = await reg.run(config=config)
    assert report.execution_state == "completed"
    assert report.task_return_set["b"] == 2


def test_allow_no_dir_definition_false_rejects_an_item_without_a_target():
    reg = SchedulerRegistry("d18b")
    reg.task("s")(lambda: 1)

    @reg.task(
        data=TaskData(input_data_item=[DataItem(from_relation=DTRela(related_task="s", single_item=True))])
    )
    def t(x: int = 0) -> None:
        pass

    with pytest.raises(ValueError, match="Data items with no source or target definition are not allowed"):
        reg.build_task_orders(config=AstrumConfig(allow_no_dir_definition=False))
    # the default allows it (the value goes to the first parameter)
    assert dependency_map(reg)["t"] == ["s"]


# -- compatibility flags ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        AstrumConfig(auto_sync_dependencies=False),
        AstrumConfig(strict_topology=True),
        AstrumConfig(silence=False, silence_warnings=True, infer_via_ast=True),
    ],
)
async def test_compatibility_flags_keep_data_relations_as_dependencies(config):
    reg = SchedulerRegistry("flags")

    @reg.task()
    async def produce() -> dict:
        await asyncio.sleep(0.01)
        return {"v": 1}

    @reg.task()
    async def consume(v: Ref[int, F("produce", "v")]) -> int:
        return v + 1

    orders = reg.build_task_orders(config=config)
    assert {o.task_name: [d.task_name for d in o.dependencies] for o in orders} == {
        "produce": [],
        "consume": ["produce"],
    }
    report = await reg.run(config=config)
    assert report.task_return_set["consume"] == 2


def test_config_is_frozen_and_hashable():
    """D27: upstream's AstrumConfig could not be hashed."""
    config = AstrumConfig(ignore_tail_task=["a"], class_instances=[object()])
    assert hash(config) == hash(config)
    assert {config: 1}[config] == 1
    with pytest.raises(AttributeError):
        config.visualize = True  # type: ignore[misc]


@pytest.mark.parametrize("check", ["build", "validate"])
def test_an_unknown_related_task_is_reported_once_as_the_root_cause(check):
    reg = SchedulerRegistry("unknown_rela_once")

    @reg.task(
        data=TaskData(
            input_data_item=[
                DataItem(
                    from_relation=DTRela(key="name", related_task="ghost"),
                    to_relation=DTRela(key="name", related_task="greet"),
                )
            ]
        )
    )
    def greet(name: str) -> str:
        return name

    with pytest.raises(TaskRegistrationError) as info:
        reg.build_task_orders() if check == "build" else reg.validate()

    assert info.value.problems == [
        "Unknown task id 'ghost' referenced by input relation at task 'greet'. Register that task or fix the id."
    ]
    assert "has no value" not in str(info.value)
