"""Data transport (contract section 2): Ref/F/T annotations, explicit TaskData, auto-generation."""

import asyncio
import functools
import importlib.util
import inspect
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import astrum
from astrum import AstrumConfig, F, From, Ref, SchedulerRegistry, T, TaskOrder, To
from astrum.data_transport import (
    DataItem,
    DataRef,
    DTRela,
    TaskData,
    auto_generate_data_transports,
)


@pytest.fixture(autouse=True)
def _clean_registry():
    astrum.clear_registry()
    yield
    astrum.clear_registry()


async def results_of(reg: SchedulerRegistry, targets=None, config=None) -> dict[str, Any]:
    report = await reg.run(targets, config)
    assert report.execution_state == "completed", report.error_summary
    return dict(report.task_return_set)


def dependency_map(reg: SchedulerRegistry, targets=None, config=None) -> dict[str, list[str]]:
    return {
        o.task_name: [d.task_name for d in o.dependencies] for o in reg.build_task_orders(targets, config)
    }


# -- annotations: the basics -----------------------------------------------------------------


def test_ref_is_typing_annotated_and_f_t_are_aliases():
    assert Ref is Annotated
    assert F is From
    assert T is To
    assert Ref[int, F("a")] == Annotated[int, From("a")]
    assert From("a", "k") == From("a", "k")
    with pytest.raises(AttributeError):
        From("a").task = "b"  # type: ignore[misc]
    assert (To("a").local, To("a").target) == (None, None)


async def test_f_reads_a_dict_key_an_attribute_an_index_and_the_whole_result():
    reg = SchedulerRegistry("f")

    @dataclass
    class Box:
        width: int

    @reg.task()
    def as_dict() -> dict:
        return {"k": "from-key"}

    @reg.task()
    def as_object() -> Box:
        return Box(width=7)

    @reg.task()
    def as_tuple() -> tuple:
        return ("zero", "one")

    @reg.task()
    def as_list() -> list:
        return [10, 20, 30]

    @reg.task()
    def use(
        key: Ref[str, F("as_dict", "k")],
        attr: Ref[int, F("as_object", "width")],
        first: Ref[str, F("as_tuple", 0)],
        last: Ref[int, F("as_list", -1)],
        whole: Ref[list, F("as_list")],
    ) -> tuple:
        return key, attr, first, last, whole

    results = await results_of(reg)
    assert results["use"] == ("from-key", 7, "zero", 30, [10, 20, 30])


async def test_int_locator_on_a_mapping_is_a_key_lookup_not_a_position():
    reg = SchedulerRegistry("int_keys")

    @reg.task()
    def scores() -> dict:
        return {1: "bob", 0: "alice"}

    @reg.task()
    def sales() -> dict:
        return {2023: 10, 2024: 25}

    @reg.task()
    def use(first: Ref[str, F("scores", 0)], latest: Ref[int, F("sales", 2024)]) -> tuple:
        return first, latest

    results = await results_of(reg)
    assert results["use"] == ("alice", 25)


async def test_explicit_index_relation_on_a_mapping_is_a_key_lookup_too():
    reg = SchedulerRegistry("explicit_int_keys")

    @reg.task()
    def scores() -> dict:
        return {1: "bob", 0: "alice"}

    item = DataItem(
        from_relation=DTRela(index=0, related_task="scores"),
        to_relation=DTRela(key="name", related_task="use"),
    )

    @reg.task(data=TaskData(input_data_item=[item]))
    def use(name: str) -> str:
        return name

    results = await results_of(reg, config=AstrumConfig(skip_type_check=True))
    assert results["use"] == "alice"


async def test_int_locator_on_a_result_that_can_only_be_iterated_reads_by_position():
    reg = SchedulerRegistry("iterable_position")

    @reg.task()
    def prices() -> Any:
        return {"tea": 3, "coffee": 4}.values()  # a view: iterable, not indexable

    @reg.task()
    def second(price: Ref[int, F("prices", 1)]) -> int:
        return price

    results = await results_of(reg)
    assert results["second"] == 4


async def test_missing_int_key_in_a_mapping_fails_the_consumer_naming_the_key():
    reg = SchedulerRegistry("missing_int_key")

    @reg.task()
    def sales() -> dict:
        return {2023: 10}

    @reg.task()
    def latest(value: Ref[int, F("sales", 2024)]) -> int:
        return value

    report = await reg.run()
    assert report.execution_state == "failed"
    message = str(report.exceptions["latest"])
    assert "has no key 2024" in message
    assert "sales" not in report.exceptions


def test_int_locator_on_a_typed_mapping_checks_the_value_type_at_build():
    reg = SchedulerRegistry("typed_int_keys")

    @reg.task()
    def scores() -> dict[int, str]:
        return {0: "alice"}

    @reg.task()
    def use(first: Ref[int, F("scores", 0)]) -> int:
        return first

    with pytest.raises(astrum.TaskRegistrationError, match=r"scores\[0\] -> use.first"):
        reg.build_task_orders()


async def test_tuple_metadata_forms_work_like_f():
    reg = SchedulerRegistry("tuples")

    @reg.task()
    def source() -> dict:
        return {"beans_ready": True, "n": 2}

    @reg.task()
    def brew(
        ready: Ref[bool, ("source", "beans_ready")],  # noqa: F821
        everything: Ref[dict, ("source",)],
    ) -> tuple:
        return ready, everything

    results = await results_of(reg, config=AstrumConfig(skip_type_check=True))
    assert results["brew"] == (True, {"beans_ready": True, "n": 2})
    assert dependency_map(reg) == {"source": [], "brew": ["source"]}


async def test_ref_sources_become_dependencies_without_depends_on():
    reg = SchedulerRegistry("deps")

    @reg.task()
    def consumer(a: Ref[int, F("b_src")], b: Ref[int, F("a_src")]) -> int:
        return a - b

    @reg.task()
    def a_src() -> int:
        return 1

    @reg.task()
    def b_src() -> int:
        return 10

    assert dependency_map(reg) == {"consumer": ["b_src", "a_src"], "a_src": [], "b_src": []}
    assert (await results_of(reg))["consumer"] == 9


async def test_ref_parameter_default_is_overridden_by_the_upstream_value():
    reg = SchedulerRegistry("defaults")

    @reg.task()
    def src() -> int:
        return 5

    @reg.task()
    def use(x: Ref[int, F("src")] = 100, plain: int = 7, doc: Annotated[int, "just a note"] = 8) -> tuple:
        return x, plain, doc

    assert (await results_of(reg))["use"] == (5, 7, 8)


async def test_whole_result_and_fields_of_one_task_feed_many_consumers():
    """D6: several F("src") consumers plus field consumers of the same producer."""
    reg = SchedulerRegistry("fanout")

    @reg.task()
    def src() -> dict:
        return {"a": 1, "b": 2}

    @reg.task()
    def whole_one(v: Ref[dict, F("src")]) -> dict:
        return v

    @reg.task()
    def whole_two(v: Ref[dict, F(src)]) -> int:
        return len(v)

    @reg.task()
    def field_a(v: Ref[int, F("src", "a")]) -> int:
        return v

    @reg.task()
    def both(a: Ref[int, F("src", "a")], b: Ref[int, F("src", "b")], all_: Ref[dict, F("src")]) -> tuple:
        return a, b, sorted(all_)

    results = await results_of(reg)
    assert results["whole_one"] == {"a": 1, "b": 2}
    assert results["whole_two"] == 2
    assert results["field_a"] == 1
    assert results["both"] == (1, 2, ["a", "b"])


# -- task references: callables --------------------------------------------------------------


async def test_sources_named_by_the_registered_function_object():
    reg = SchedulerRegistry("fnref")

    @reg.task("loader")
    def load() -> dict:
        return {"n": 3}

    @reg.task()
    def use(n: Ref[int, F(load, "n")]) -> int:
        return n * 2

    assert dependency_map(reg) == {"loader": [], "use": ["loader"]}
    assert (await results_of(reg))["use"] == 6


async def test_functools_partial_registers_and_can_be_named_as_a_source():
    reg = SchedulerRegistry("partial")

    def scale(factor: int) -> int:
        return 7 * factor

    tripled = functools.partial(scale, 3)
    reg.task("tripled")(tripled)

    @reg.task()
    def use(v: Ref[int, F(tripled)]) -> int:
        return v + 1

    assert (await results_of(reg))["use"] == 22


def test_partial_task_id_defaults_to_the_wrapped_function_name():
    def scale(factor: int) -> int:
        return factor

    astrum.task()(functools.partial(scale, 2))
    assert list(astrum.get_registry().get_all_tasks()) == ["scale"]


def test_callable_object_without_a_name_needs_an_explicit_id():
    class Thing:
        def __call__(self) -> None:
            pass

    with pytest.raises(astrum.TaskRegistrationError):
        astrum.task()(Thing())


async def test_callable_objects_with_sync_and_async_call_are_tasks_and_sources():
    reg = SchedulerRegistry("objects")

    class Base:
        def __call__(self) -> dict:
            return {"a": 1}

    class AddOne:
        def __call__(self, a: Ref[int, F("base", "a")]) -> int:
            return a + 1

    class AsyncDouble:
        async def __call__(self, a: Ref[int, F("base", "a")]) -> int:
            return a * 20

    base, add_one, double = Base(), AddOne(), AsyncDouble()
    reg.task("base")(base)
    reg.task("add_one")(add_one)
    reg.task("double")(double)

    @reg.task()
    def use(x: Ref[int, F(add_one)], y: Ref[int, F(double)], z: Ref[dict, F(base)]) -> tuple:
        return x, y, z

    assert dependency_map(reg)["use"] == ["add_one", "double", "base"]
    assert (await results_of(reg))["use"] == (2, 20, {"a": 1})


async def test_static_and_class_methods_can_be_named_as_sources():
    reg = SchedulerRegistry("methods")

    class Kitchen:
        @staticmethod
        def beans() -> int:
            return 3

        @classmethod
        def water(cls) -> str:
            return cls.__name__

    reg.task("beans")(Kitchen.beans)
    reg.task("water")(Kitchen.water)

    @reg.task()
    def brew(b: Ref[int, F(Kitchen.beans)], w: Ref[str, F(Kitchen.water)]) -> str:
        return f"{w}:{b}"

    assert dependency_map(reg)["brew"] == ["beans", "water"]
    assert (await results_of(reg))["brew"] == "Kitchen:3"


async def test_closures_made_in_one_loop_are_distinct_tasks_and_sources():
    """D3: functions sharing a __qualname__ are told apart by identity."""
    reg = SchedulerRegistry("loop")

    def make(previous, k):
        if previous is None:

            def stage() -> int:
                return k

        else:

            def stage(x: Ref[int, F(previous)]) -> int:
                return x * 10 + k

        return stage

    previous = None
    for k in range(1, 6):
        stage = make(previous, k)
        reg.task(f"stage{k}")(stage)
        previous = stage

    assert dependency_map(reg) == {
        "stage1": [],
        "stage2": ["stage1"],
        "stage3": ["stage2"],
        "stage4": ["stage3"],
        "stage5": ["stage4"],
    }
    assert (await results_of(reg))["stage5"] == 12345


# -- return annotations: T(...) pushes (D5) --------------------------------------------------


async def test_t_pushes_a_field_of_the_result_into_a_named_parameter():
    reg = SchedulerRegistry("push")

    @reg.task()
    def produce() -> Ref[dict, T("consume", "local_name", "remote_name")]:
        return {"local_name": 21, "other": 0}

    @reg.task()
    def consume(remote_name: int) -> int:
        return remote_name * 2

    assert dependency_map(reg) == {"produce": [], "consume": ["produce"]}
    assert dependency_map(reg, ["consume"]) == {"produce": [], "consume": ["produce"]}
    results = await results_of(reg)
    assert results["consume"] == 42
    # a second run works too (upstream failed even the first build with a self-cycle)
    assert (await results_of(reg))["consume"] == 42


async def test_t_with_int_positions_pushes_an_item_into_a_positional_parameter():
    reg = SchedulerRegistry("push_int")

    @reg.task()
    def produce() -> Ref[tuple, T("consume", 1, 1)]:
        return ("skip", "picked")

    @reg.task()
    def consume(first: str = "default-first", second: str = "default-second") -> tuple:
        return first, second

    assert (await results_of(reg))["consume"] == ("default-first", "picked")


async def test_t_without_locators_pushes_the_whole_result_into_the_first_parameter():
    reg = SchedulerRegistry("push_whole")

    @reg.task()
    def produce() -> Ref[list, T("consume")]:
        return [1, 2]

    @reg.task()
    def consume(values: list, extra: int = 0) -> int:
        return sum(values) + extra

    assert (await results_of(reg))["consume"] == 3


async def test_return_tuple_form_and_callable_target_push_values():
    reg = SchedulerRegistry("push_tuple")

    @reg.task()
    def sink(total: int, bonus: int) -> int:
        return total + bonus

    @reg.task()
    def one() -> Ref[dict, ("sink", "n", "total")]:  # noqa: F821
        return {"n": 9}

    @reg.task()
    def two() -> Ref[int, T(sink, None, "bonus")]:
        return 100

    assert dependency_map(reg, ["sink"]) == {"sink": ["one", "two"], "one": [], "two": []}
    assert (await results_of(reg, ["sink"]))["sink"] == 109


def test_push_into_a_parameter_the_target_does_not_have_is_a_build_problem():
    reg = SchedulerRegistry("push_missing")

    @reg.task()
    def sink(total: int) -> int:
        return total

    @reg.task()
    def src() -> Ref[int, T("sink", None, "bonus")]:
        return 1

    @reg.task()
    def src2() -> Ref[int, T("sink", None, "total")]:
        return 1

    with pytest.raises(astrum.TaskRegistrationError) as info:
        reg.build_task_orders()
    assert "sink" in str(info.value)
    assert "bonus" in str(info.value)


# -- explicit TaskData -----------------------------------------------------------------------


def _item(source: str, consumer: str, *, key=None, index=None, single=False, to_key=None, to_index=None):
    return DataItem(
        from_relation=DTRela(related_task=source, key=key, index=index, single_item=single),
        to_relation=DTRela(related_task=consumer, key=to_key, index=to_index),
    )


async def test_explicit_key_relation_injects_a_keyword_argument_and_adds_a_dependency():
    reg = SchedulerRegistry("explicit")

    @reg.task()
    def load_user() -> dict:
        return {"name": "Alice"}

    @reg.task(data=TaskData(input_data_item=[_item("load_user", "greet", key="name", to_key="who")]))
    def greet(who: str) -> str:
        return f"hello {who}"

    assert dependency_map(reg, ["greet"]) == {"load_user": [], "greet": ["load_user"]}
    assert (await results_of(reg, ["greet"]))["greet"] == "hello Alice"


async def test_explicit_index_relation_and_single_item_relation():
    reg = SchedulerRegistry("explicit2")

    @reg.task()
    def pair() -> tuple:
        return ("left", "right")

    @reg.task(
        data=TaskData(
            input_data_item=[
                _item("pair", "use", index=1, to_key="item"),
                _item("pair", "use", single=True, to_key="whole"),
            ]
        )
    )
    def use(item: str, whole: tuple) -> tuple:
        return item, whole

    assert (await results_of(reg))["use"] == ("right", ("left", "right"))


async def test_explicit_to_relation_index_one_alone_lands_on_the_second_parameter():
    """D16: to_relation index=1 is the second positional parameter, not the first."""
    reg = SchedulerRegistry("d16")

    @reg.task()
    def src() -> int:
        return 7

    @reg.task(data=TaskData(input_data_item=[_item("src", "use", single=True, to_index=1)]))
    def use(a: int = 100, b: int = 200) -> tuple:
        return a, b

    assert (await results_of(reg))["use"] == (100, 7)


async def test_explicit_to_relation_without_key_or_index_lands_on_the_first_parameter():
    reg = SchedulerRegistry("pos0")

    @reg.task()
    def src() -> int:
        return 7

    @reg.task(data=TaskData(input_data_item=[_item("src", "use", single=True)]))
    def use(a: int = 100, b: int = 200) -> tuple:
        return a, b

    assert (await results_of(reg))["use"] == (7, 200)


async def test_from_function_sync_and_async_provide_values_without_dependencies():
    reg = SchedulerRegistry("fromfn")
    calls: list[str] = []

    def sync_value() -> int:
        calls.append("sync")
        return 3

    async def async_value() -> int:
        calls.append("async")
        return 4

    data = TaskData(
        input_data_item=[
            DataItem(
                allow_data_model=int,
                from_relation=DTRela(related_task="add", from_function=sync_value),
                to_relation=DTRela(related_task="add", key="a"),
            ),
            DataItem(
                allow_data_model=int,
                from_relation=DTRela(related_task="add", from_function=async_value),
                to_relation=DTRela(related_task="add", key="b"),
            ),
        ]
    )

    @reg.task(data=data)
    async def add(a: int, b: int) -> int:
        return a + b

    @reg.task()
    def unrelated() -> None:
        pass

    assert dependency_map(reg) == {"add": [], "unrelated": []}
    assert (await results_of(reg))["add"] == 7
    assert (await results_of(reg))["add"] == 7
    assert sorted(calls) == ["async", "async", "sync", "sync"]


async def test_explicit_and_annotation_relations_combine_on_one_task():
    reg = SchedulerRegistry("mixed")

    @reg.task()
    def a() -> dict:
        return {"x": 1}

    @reg.task()
    def b() -> dict:
        return {"y": 2}

    @reg.task(data=TaskData(input_data_item=[_item("b", "use", key="y", to_key="y")]))
    def use(x: Ref[int, F("a", "x")], y: int) -> int:
        return x + y

    assert dependency_map(reg)["use"] == ["a", "b"]
    assert (await results_of(reg))["use"] == 3


def test_explicit_models_have_the_contract_defaults():
    rela = DTRela(related_task="t")
    assert (rela.key, rela.index, rela.single_item, rela.from_function) == (None, None, False, None)
    item = DataItem()
    assert (item.allow_data_model, item.data_ref, item.from_relation, item.to_relation) == (
        None,
        None,
        None,
        None,
    )
    assert DataRef().data is None
    data = TaskData()
    assert (data.task_id, data.input_data_item, data.output_data_item, data.from_tasks, data.to_tasks) == (
        "",
        [],
        [],
        [],
        [],
    )
    with pytest.raises(pydantic.ValidationError):
        DTRela()  # related_task is required


def test_allow_data_model_is_normalised():
    assert DataItem(allow_data_model=list[int]).allow_data_model is list
    assert DataItem(allow_data_model=Annotated[int, "x"]).allow_data_model is int
    assert DataItem(allow_data_model=dict[str, int]).allow_data_model is dict

    class Custom:
        pass

    assert DataItem(allow_data_model=Custom).allow_data_model is Custom


def test_allow_data_model_accepts_optional_and_union_types():
    """D20: Optional[int] and int | None are legitimate value types."""
    assert DataItem(allow_data_model=Optional[int]).allow_data_model == Optional[int]  # noqa: UP045
    assert DataItem(allow_data_model=int | None).allow_data_model == (int | None)


def test_allow_data_model_rejects_any_and_non_types():
    with pytest.raises(pydantic.ValidationError, match="cannot be Any"):
        DataItem(allow_data_model=Any)
    with pytest.raises(pydantic.ValidationError, match="must be a class/type"):
        DataItem(allow_data_model=5)


# -- auto_generate_data_transports -----------------------------------------------------------


def _autogen_fixture():
    def source() -> dict:
        return {}

    def other() -> list:
        return []

    def cons(
        a: Ref[int, F("source", "k")],
        b: Ref[list[int], F(other, 0)],
        c: Ref[dict, ("source",)],
        d: Ref[dict, F("source")],
    ) -> Ref[dict, T("sink", "out", "inp")]:
        return {}

    def sink(inp: int) -> None:
        pass

    funcs = {"source": source, "other": other, "cons": cons, "sink": sink}
    so, ot = TaskOrder("source"), TaskOrder("other")
    co = TaskOrder("cons", [so, ot])
    si = TaskOrder("sink", [co])
    return funcs, si


def test_auto_generate_visits_tasks_breadth_first_from_the_orders():
    funcs, sink_order = _autogen_fixture()
    generated = auto_generate_data_transports([sink_order], funcs)
    assert [td.task_id for td in generated] == ["sink", "cons", "source", "other"]
    assert all(isinstance(td, TaskData) for td in generated)


def test_auto_generate_input_item_shapes_follow_the_locator():
    funcs, sink_order = _autogen_fixture()
    cons = {td.task_id: td for td in auto_generate_data_transports([sink_order], funcs)}["cons"]

    shapes = [
        (
            item.allow_data_model,
            item.from_relation.related_task,
            item.from_relation.key,
            item.from_relation.index,
            item.from_relation.single_item,
            item.to_relation.related_task,
            item.to_relation.key,
        )
        for item in cons.input_data_item
    ]
    assert shapes == [
        (int, "source", "k", None, False, "cons", "a"),
        (list, "other", None, 0, False, "cons", "b"),
        (dict, "source", None, None, True, "cons", "c"),
        (dict, "source", None, None, True, "cons", "d"),
    ]
    assert cons.from_tasks == ["source", "other"]


def test_auto_generate_return_relation_gives_an_output_item_and_a_to_task():
    funcs, sink_order = _autogen_fixture()
    cons = {td.task_id: td for td in auto_generate_data_transports([sink_order], funcs)}["cons"]

    assert len(cons.output_data_item) == 1
    out = cons.output_data_item[0]
    assert (out.from_relation.related_task, out.from_relation.key) == ("cons", "out")
    assert (out.to_relation.related_task, out.to_relation.key) == ("sink", "inp")
    assert out.allow_data_model is dict
    assert cons.to_tasks == ["sink"]


def test_auto_generate_int_return_locators_map_to_indices():
    def src() -> Ref[tuple, T("dst", 1, 2)]:
        return ()

    def dst(a=None, b=None, c=None) -> None:
        pass

    generated = auto_generate_data_transports([TaskOrder("src")], {"src": src, "dst": dst})
    out = generated[0].output_data_item[0]
    assert (out.from_relation.index, out.from_relation.key) == (1, None)
    assert (out.to_relation.index, out.to_relation.key, out.to_relation.related_task) == (2, None, "dst")


def test_auto_generate_gives_empty_task_data_for_tasks_without_relations():
    def lonely() -> None:
        pass

    (data,) = auto_generate_data_transports([TaskOrder("lonely")], {"lonely": lonely})
    assert (data.task_id, data.input_data_item, data.output_data_item) == ("lonely", [], [])


def test_auto_generate_accepts_class_functions_static_and_class_methods_as_references():
    class Kitchen:
        @staticmethod
        def beans() -> int:
            return 1

        @classmethod
        def water(cls) -> int:
            return 2

        def grind(self) -> int:
            return 3

    def brew(
        b: Ref[int, F(Kitchen.beans)], w: Ref[int, F(Kitchen.water)], g: Ref[int, F(Kitchen.grind)]
    ) -> None:
        pass

    funcs = {"beans": Kitchen.beans, "water": Kitchen.water, "grind": Kitchen.grind, "brew": brew}
    (data,) = auto_generate_data_transports([TaskOrder("brew")], funcs)
    assert [i.from_relation.related_task for i in data.input_data_item] == ["beans", "water", "grind"]


# -- annotation errors -----------------------------------------------------------------------


def _errors_for(fn, extra: dict | None = None) -> str:
    funcs = {"fn": fn, "source": lambda: None, **(extra or {})}
    with pytest.raises(ValueError) as info:
        auto_generate_data_transports([TaskOrder("fn")], funcs)
    return str(info.value)


def _build_errors_for(fn) -> str:
    reg = SchedulerRegistry("errors")
    reg.task("source")(lambda: None)
    reg.task("fn")(fn)
    with pytest.raises(ValueError) as info:
        reg.build_task_orders()
    return str(info.value)


def _to_on_param(x: Ref[int, T("source")]) -> None:
    pass


def _from_on_return() -> Ref[int, F("source")]:
    return 1


def _three_item_input(x: Ref[int, ("source", "k", "extra")]) -> None:  # noqa: F821
    pass


def _four_item_return() -> Ref[int, ("source", "a", "b", "c")]:  # noqa: F821
    return 1


def _float_locator(x: Ref[int, F("source", 1.5)]) -> None:
    pass


def _unknown_id(x: Ref[int, F("nowhere")]) -> None:
    pass


def _two_relations(x: Ref[int, F("source"), F("source", "k")]) -> None:
    pass


def _never_registered() -> int:
    return 1


def _unknown_callable(x: Ref[int, F(_never_registered)]) -> None:
    pass


ERROR_CASES = [
    (_to_on_param, "To(...) metadata is only valid on return annotations"),
    (_from_on_return, "From(...) metadata is only valid on parameter annotations"),
    (
        _three_item_input,
        "Invalid input relation at task 'fn' parameter 'x': expected (source_task_id, locator?)",
    ),
    (
        _four_item_return,
        "Invalid return relation at task 'fn': expected (target_task_id, local_locator?, target_locator?)",
    ),
    (_float_locator, "Invalid relation locator at task 'fn' field 'x': expected str, int, or None"),
    (_unknown_id, "Unknown task id 'nowhere' referenced by input relation at task 'fn'"),
    (_two_relations, "Annotated relation metadata is ambiguous"),
    (
        _unknown_callable,
        "Unknown callable task reference '_never_registered' in input parameter 'x' relation at task 'fn'",
    ),
]


@pytest.mark.parametrize(("fn", "expected"), ERROR_CASES, ids=[c[1][:30] for c in ERROR_CASES])
def test_annotation_errors_from_auto_generation(fn, expected):
    message = _errors_for(fn)
    assert message.startswith("Data transport validation failed with the following errors:\n- ")
    assert expected in message


@pytest.mark.parametrize(("fn", "expected"), ERROR_CASES, ids=[c[1][:30] for c in ERROR_CASES])
def test_annotation_errors_from_a_registry_build(fn, expected):
    assert expected in _build_errors_for(fn)


def test_unknown_task_id_in_a_return_relation_is_reported():
    def fn() -> Ref[int, T("nowhere")]:
        return 1

    assert "Unknown task id 'nowhere' referenced by return relation at task 'fn'" in _build_errors_for(fn)


def test_bool_locator_is_not_an_index():
    def fn(x: Ref[int, F("source", True)]) -> None:
        pass

    assert "Invalid relation locator at task 'fn' field 'x'" in _build_errors_for(fn)


def test_callable_registered_under_two_ids_is_ambiguous_only_when_referenced():
    reg = SchedulerRegistry("twice")

    def shared() -> int:
        return 1

    reg.task("first")(shared)
    reg.task("second")(shared)
    assert [o.task_name for o in reg.build_task_orders()] == ["first", "second"]

    @reg.task()
    def use(x: Ref[int, F(shared)]) -> int:
        return x

    with pytest.raises(ValueError) as info:
        reg.build_task_orders()
    assert "Callable task reference is ambiguous: task ids 'first' and 'second'" in str(info.value)


def test_every_annotation_error_is_collected_into_one_error():
    reg = SchedulerRegistry("many")
    reg.task("source")(lambda: None)
    reg.task("a")(_to_on_param)
    reg.task("b")(_unknown_id)
    reg.task("c")(_float_locator)

    with pytest.raises(astrum.TaskRegistrationError) as info:
        reg.build_task_orders()

    text = str(info.value)
    assert "To(...) metadata is only valid on return annotations" in text
    assert "Unknown task id 'nowhere'" in text
    assert "Invalid relation locator at task 'c'" in text
    assert len(info.value.problems) >= 3


# -- tasks wrapped by decorators -------------------------------------------------------------


def _logged(fn):
    """An ordinary decorator: ``functools.wraps`` over ``*args, **kwargs``."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args, **kwargs):
            return await fn(*args, **kwargs)

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


def _with_signature(fn):
    """A decorator that sets ``__signature__`` instead of ``__wrapped__``."""

    def wrapper(**kwargs):
        return fn(**kwargs)

    wrapper.__signature__ = inspect.signature(fn)
    wrapper.__name__ = fn.__name__
    return wrapper


def _decorated_registry(decorate) -> tuple[SchedulerRegistry, list[str]]:
    reg = SchedulerRegistry("decorated")
    started: list[str] = []

    @reg.task()
    async def load() -> list:
        await asyncio.sleep(0.01)  # ``count`` would start first if the edge were lost
        started.append("load")
        return [1, 2, 3]

    @reg.task()
    @decorate
    def count(rows: Ref[list, F("load")], scale: Ref[int, F("factor")]) -> int:
        started.append("count")
        return len(rows) * scale

    reg.task("factor")(lambda: 10)
    return reg, started


@pytest.mark.parametrize("decorate", [_logged, _with_signature], ids=["functools.wraps", "__signature__"])
@pytest.mark.parametrize(
    "targets",
    [
        pytest.param(None, id="one-pass-build"),
        pytest.param(["count"], id="general-build"),
    ],
)
async def test_decorated_tasks_keep_their_ref_inputs_and_edges(decorate, targets):
    from astrum.authoring._onepass import build_plain

    reg, started = _decorated_registry(decorate)

    reg.validate()
    assert dependency_map(reg, targets)["count"] == ["load", "factor"]
    if targets is None:
        assert build_plain(reg, AstrumConfig(), None) is not None  # compiled in one pass
    assert (await results_of(reg, targets))["count"] == 30
    assert started == ["load", "count"]


def test_validate_reads_the_annotations_of_the_wrapped_function():
    reg = SchedulerRegistry("decorated_bad")

    @reg.task()
    @_logged
    def count(rows: Ref[list, F("nowhere")]) -> int:
        return len(rows)

    with pytest.raises(astrum.TaskRegistrationError) as info:
        reg.validate()
    assert info.value.problems == [
        "Unknown task id 'nowhere' referenced by input relation at task 'count'. Register that task or fix the id."
    ]


async def test_decorated_async_methods_keep_their_ref_inputs():
    reg = SchedulerRegistry("decorated_methods")

    class Pipeline:
        def __init__(self, scale: int) -> None:
            self.scale = scale

        @reg.task("load")
        @staticmethod
        def load() -> int:
            return 4

        @reg.task("scaled")
        @_logged
        async def scaled(self, value: Ref[int, F("load")]) -> int:
            return value * self.scale

    assert (await results_of(reg, config=AstrumConfig(class_instances=[Pipeline(5)])))["scaled"] == 20


async def test_string_annotations_of_a_wrapped_function_resolve_in_its_own_module(future_module):
    module = future_module(
        "astrum_future_wrapped",
        """
        from __future__ import annotations

        from astrum import F, Ref, SchedulerRegistry

        Rows = list  # a name only this module defines (the decorator's module does not)

        def build(decorate):
            reg = SchedulerRegistry("wrapped_future")

            @reg.task()
            def load() -> Rows:
                return [1, 2]

            @reg.task()
            @decorate
            def count(rows: Ref[Rows, F("load")]) -> int:
                return len(rows)

            return reg
        """,
    )
    reg = module.build(_logged)

    assert dependency_map(reg)["count"] == ["load"]
    assert (await results_of(reg))["count"] == 2


# -- from __future__ import annotations ------------------------------------------------------


def _import_module(tmp_path: Path, name: str, source: str):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


@pytest.fixture
def future_module(tmp_path):
    made: list[str] = []

    def load(name: str, source: str):
        made.append(name)
        return _import_module(tmp_path, name, source)

    yield load
    for name in made:
        sys.modules.pop(name, None)


async def test_string_annotations_refer_to_task_ids_and_functions(future_module):
    module = future_module(
        "astrum_future_refs",
        """
        from __future__ import annotations

        from astrum import F, Ref, SchedulerRegistry, T

        reg = SchedulerRegistry("future")

        @reg.task()
        def report(total: Ref[int, F(summed)], raw: Ref[dict, F("load")]) -> str:
            # `summed` is defined further down: string annotations resolve at build time
            return f"{total} of {sorted(raw)}"

        @reg.task("load")
        def load_rows() -> dict:
            return {"a": 1, "b": 2}

        @reg.task()
        def summed(a: Ref[int, F(load_rows, "a")], b: Ref[int, F(loader_id, "b")]) -> int:
            # `loader_id` is no Python name at all: only a task id
            return a + b

        reg.task("loader_id")(lambda: {"b": 40})

        @reg.task()
        def pusher() -> Ref[dict, T(sink, "v", "value")]:
            return {"v": "pushed"}

        @reg.task()
        def sink(value: str) -> str:
            return value
        """,
    )
    reg = module.reg
    assert isinstance(module.report.__annotations__["total"], str)

    orders = {o.task_name: [d.task_name for d in o.dependencies] for o in reg.build_task_orders()}
    assert orders["report"] == ["summed", "load"]
    assert orders["summed"] == ["load", "loader_id"]
    assert orders["sink"] == ["pusher"]

    results = await results_of(reg, ["report", "sink"])
    assert results["report"] == "41 of ['a', 'b']"
    assert results["sink"] == "pushed"


async def test_string_annotations_resolve_names_of_nested_task_functions(future_module):
    module = future_module(
        "astrum_future_nested",
        """
        from __future__ import annotations

        from astrum import F, Ref, SchedulerRegistry

        def build():
            reg = SchedulerRegistry("nested")

            @reg.task("producer_id")
            def hidden_producer() -> dict:
                return {"k": 5}

            @reg.task()
            def consumer(k: Ref[int, F("producer_id", "k")]) -> int:
                return k + 1

            return reg

        def build_by_function_name():
            reg = SchedulerRegistry("nested2")

            def make():
                def inner_producer() -> int:
                    return 8
                return inner_producer

            reg.task("p")(make())

            @reg.task()
            def consumer(k: Ref[int, F(inner_producer)]) -> int:
                return k * 2

            return reg
        """,
    )
    assert (await results_of(module.build()))["consumer"] == 6
    assert (await results_of(module.build_by_function_name()))["consumer"] == 16


def test_string_annotation_naming_nothing_known_is_a_build_problem(future_module):
    module = future_module(
        "astrum_future_bad",
        """
        from __future__ import annotations

        from astrum import F, Ref, SchedulerRegistry

        reg = SchedulerRegistry("future_bad")

        @reg.task()
        def consumer(k: Ref[int, F(no_such_name)]) -> int:
            return k
        """,
    )
    with pytest.raises(astrum.TaskRegistrationError) as info:
        module.reg.build_task_orders()
    assert "consumer" in str(info.value)
    assert "no_such_name" in str(info.value)


_LOCAL_FLOW_SOURCE = """
from __future__ import annotations

from typing import Annotated

from astrum import F, SchedulerRegistry, TaskOrder
from astrum.data_transport import auto_generate_data_transports


def generated():
    class Flow:
        def load(self) -> dict:
            return {"value": 1}

        @staticmethod
        def load_static() -> dict:
            return {"value": 20}

        @classmethod
        def load_class(cls) -> dict:
            return {"value": 300}

    def target(
        value: Annotated[int, F(Flow.load, "value")],
        static: Annotated[int, F(Flow.load_static, "value")],
        klass: Annotated[int, F(Flow.load_class, "value")],
    ) -> int:
        return value + static + klass

    functions = {
        "load": Flow.load,
        "load_static": Flow.load_static,
        "load_class": Flow.load_class,
        "target": target,
    }
    return auto_generate_data_transports([TaskOrder("target")], functions)


def registry():
    reg = SchedulerRegistry("local_flow")

    class Flow:
        @reg.task("load")
        def load(self) -> dict:
            return {"value": 1}

        @reg.task("load_static")
        @staticmethod
        def load_static() -> dict:
            return {"value": 20}

        @reg.task("load_class")
        @classmethod
        def load_class(cls) -> dict:
            return {"value": 300}

    @reg.task("target")
    def target(
        value: Annotated[int, F(Flow.load, "value")],
        static: Annotated[int, F(Flow.load_static, "value")],
        klass: Annotated[int, F(Flow.load_class, "value")],
    ) -> int:
        return value + static + klass

    return reg, Flow()
"""


def test_string_annotations_name_methods_of_a_local_class_by_qualified_name_in_auto_generation(
    future_module,
):
    module = future_module("astrum_future_local_flow_gen", _LOCAL_FLOW_SOURCE)

    (data,) = module.generated()

    assert data.from_tasks == ["load", "load_static", "load_class"]
    relations = [
        (i.from_relation.related_task, i.from_relation.key, i.to_relation.key) for i in data.input_data_item
    ]
    assert relations == [
        ("load", "value", "value"),
        ("load_static", "value", "static"),
        ("load_class", "value", "klass"),
    ]


@pytest.mark.parametrize(
    "targets",
    [
        pytest.param(None, id="whole-registry"),  # the one-pass build is tried first
        pytest.param(["target"], id="targets"),  # the general build only
    ],
)
async def test_string_annotations_name_methods_of_a_local_class_by_qualified_name_in_registry_builds(
    future_module, targets
):
    module = future_module("astrum_future_local_flow_reg", _LOCAL_FLOW_SOURCE)
    reg, flow = module.registry()
    config = AstrumConfig(class_instances=[flow])

    reg.validate(config=config)
    assert dependency_map(reg, targets, config)["target"] == ["load", "load_static", "load_class"]
    for _ in range(2):  # the second build reuses the parsed annotations
        assert (await results_of(reg, targets, config))["target"] == 321


def test_a_module_level_class_in_a_string_annotation_stays_the_class(future_module):
    module = future_module(
        "astrum_future_module_class",
        """
        from __future__ import annotations

        from dataclasses import dataclass

        from astrum import F, Ref, SchedulerRegistry

        @dataclass
        class Point:
            x: int

            @staticmethod
            def make() -> Point:
                return Point(3)

        reg = SchedulerRegistry("module_class")
        reg.task("make")(Point.make)

        @reg.task()
        def use(point: Ref[Point, F(Point.make)]) -> int:
            return point.x

        checked = SchedulerRegistry("module_class_checked")
        checked.task("make")(Point.make)

        @checked.task()
        def number() -> int:
            return 1

        @checked.task()
        def wrong(point: Ref[Point, F(number)]) -> int:
            return point.x
        """,
    )

    # ``Point`` is the global class, not the path of its registered methods: it is the Ref type
    assert dependency_map(module.reg)["use"] == ["make"]
    assert asyncio.run(results_of(module.reg))["use"] == 3
    with pytest.raises(astrum.TaskRegistrationError) as info:
        module.checked.validate()
    assert "'number' provides int but 'wrong' expects astrum_future_module_class.Point" in str(info.value)


def test_a_qualified_name_two_local_classes_share_is_not_guessed(future_module):
    module = future_module(
        "astrum_future_two_flows",
        """
        from __future__ import annotations

        from astrum import F, Ref, SchedulerRegistry

        reg = SchedulerRegistry("two_flows")

        def first():
            class Flow:
                @staticmethod
                def load() -> int:
                    return 1
            return Flow

        def second():
            class Flow:
                @staticmethod
                def load() -> int:
                    return 2
            return Flow

        reg.task("one")(first().load)
        reg.task("two")(second().load)

        @reg.task()
        def use(value: Ref[int, F(Flow.load)]) -> int:
            return value
        """,
    )

    with pytest.raises(astrum.TaskRegistrationError) as info:
        module.reg.validate()
    assert "['one', 'two'] are different callables named 'Flow.load'" in str(info.value)
    assert "refer to one by its task id" in str(info.value)


_MISSING_SOURCE = """
from __future__ import annotations

from typing import Annotated

from astrum import F, SchedulerRegistry, T, TaskOrder
from astrum.data_transport import auto_generate_data_transports

reg = SchedulerRegistry("missing_ref")


@reg.task()
def target(value: Annotated[int, F(missing, "value")]) -> int:
    return value


def generate():
    return auto_generate_data_transports([TaskOrder("target")], {"target": target})


def never_registered() -> dict:
    return {"value": 1}


def target_of_a_function(value: Annotated[int, F(never_registered, "value")]) -> int:
    return value


def pusher() -> Annotated[int, T(nowhere)]:
    return 1
"""

_UNKNOWN_MISSING = (
    "Unknown callable task reference 'missing' in input parameter 'value' relation at task 'target'"
)
_FIX_IT = "Register the function as a task, or refer to the task by its id."


def test_an_undefined_callable_in_a_string_annotation_is_named_with_its_parameter(future_module):
    module = future_module("astrum_future_missing", _MISSING_SOURCE)

    with pytest.raises(ValueError) as generated:
        module.generate()
    with pytest.raises(astrum.TaskRegistrationError) as built:
        module.reg.validate()

    for error in (generated.value, built.value):
        assert f"{_UNKNOWN_MISSING}. {_FIX_IT}" in str(error)
    # the root cause only: the parameter is not also reported as having no value
    assert built.value.problems == [f"{_UNKNOWN_MISSING}. {_FIX_IT}"]


def test_an_unregistered_callable_and_an_undefined_push_target_are_named_like_upstream(future_module):
    module = future_module("astrum_future_unregistered", _MISSING_SOURCE)

    with pytest.raises(ValueError) as unregistered:
        auto_generate_data_transports([TaskOrder("target")], {"target": module.target_of_a_function})
    with pytest.raises(ValueError) as push:
        auto_generate_data_transports([TaskOrder("pusher")], {"pusher": module.pusher})

    assert (
        "Unknown callable task reference 'never_registered' in input parameter 'value' relation at task 'target'"
        in str(unregistered.value)
    )
    assert "Unknown callable task reference 'nowhere' in return relation at task 'pusher'" in str(push.value)


def test_auto_generation_refuses_two_task_ids_for_one_callable():
    def shared() -> int:
        return 1

    orders = [TaskOrder("a"), TaskOrder("b")]
    with pytest.raises(ValueError) as info:
        auto_generate_data_transports(orders, {"a": shared, "b": shared})

    assert "Callable task reference is ambiguous: task ids 'a' and 'b' refer to the same callable" in str(
        info.value
    )
    assert auto_generate_data_transports(orders, {"a": shared, "b": lambda: 2})  # one callable each is fine


@pytest.mark.parametrize(
    "targets", [pytest.param(None, id="whole-registry"), pytest.param(["use"], id="targets")]
)
async def test_a_string_annotation_naming_a_callable_registered_twice_is_refused(future_module, targets):
    module = future_module(
        "astrum_future_shared",
        """
        from __future__ import annotations

        from astrum import F, Ref, SchedulerRegistry

        reg = SchedulerRegistry("shared")

        def shared() -> int:
            return 1

        reg.task("a")(shared)
        reg.task("b")(shared)

        @reg.task()
        def use(value: Ref[int, F(shared)]) -> int:
            return value
        """,
    )

    with pytest.raises(ValueError) as info:
        await module.reg.run(targets)
    assert "Callable task reference is ambiguous: task ids 'a' and 'b' refer to the same callable" in str(
        info.value
    )


# -- property: random DAGs wired only by Ref annotations -------------------------------------


def _summing_task(index: int, sources: list[int]):
    """A task ``t{index}`` returning ``index + sum(values of its sources)``, wired by Ref/F."""
    params = ", ".join(f"p{s}" for s in sources)
    namespace: dict[str, Any] = {}
    exec(f"def t{index}({params}):\n    return {index} + sum([{params}])", namespace)
    fn = namespace[f"t{index}"]
    fn.__annotations__ = {f"p{s}": Ref[int, F(f"t{s}")] for s in sources}
    fn.__annotations__["return"] = int
    return fn


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), size=st.integers(min_value=1, max_value=12))
def test_random_ref_wired_dags_compute_the_same_values_in_any_registration_order(data, size):
    sources = [
        sorted(data.draw(st.sets(st.integers(min_value=0, max_value=i - 1), max_size=3))) if i else []
        for i in range(size)
    ]
    order = data.draw(st.permutations(list(range(size))))
    target = data.draw(st.integers(min_value=0, max_value=size - 1))

    expected: dict[int, int] = {}
    for i in range(size):
        expected[i] = i + sum(expected[s] for s in sources[i])
    needed: set[int] = set()
    stack = [target]
    while stack:
        i = stack.pop()
        if i not in needed:
            needed.add(i)
            stack.extend(sources[i])

    reg = SchedulerRegistry("prop")
    for i in order:
        reg.task(f"t{i}")(_summing_task(i, sources[i]))

    orders = reg.build_task_orders([f"t{target}"])
    assert {o.task_name for o in orders} == {f"t{i}" for i in needed}
    assert [o.task_name for o in orders] == [f"t{i}" for i in order if i in needed]
    for o in orders:
        assert sorted(d.task_name for d in o.dependencies) == sorted(
            f"t{s}" for s in sources[int(o.task_name[1:])]
        )

    report = asyncio.run(reg.run([f"t{target}"]))
    assert report.execution_state == "completed", report.error_summary
    assert dict(report.task_return_set) == {f"t{i}": expected[i] for i in needed}
