"""The two ways a registry is built agree: the one-pass compile of plain functions and the
general build compile the same program, field by field, and report the same errors.

The corpus holds registries of every kind the build meets: plain functions, string
annotations, methods, explicit task data, pools, retries, overrides, and every kind of problem.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, TypedDict

import pytest

from astrum import AstrumConfig, F, Ref, Retry, RunContext, SchedulerRegistry, T, TaskRegistrationError
from astrum.authoring._build import _build, build
from astrum.authoring._inject import ArgBinder, Input, WholeBinder
from astrum.authoring._onepass import build_plain
from astrum.authoring._sources import ref_input
from astrum.authoring._transport import InputRef
from astrum.core._program import Program
from astrum.data_transport import DataItem, DTRela, TaskData
from astrum.testing import FakeClock

Case = Callable[[], tuple[SchedulerRegistry, AstrumConfig]]
CORPUS: dict[str, Case] = {}
#: Cases the one-pass compile handles (with and without the type check).
ONE_PASS: set[str] = set()


def case(*, one_pass: bool = False) -> Callable[[Case], Case]:
    def register(fn: Case) -> Case:
        CORPUS[fn.__name__] = fn
        if one_pass:
            ONE_PASS.add(fn.__name__)
        return fn

    return register


def _fn(name: str, source: str, returns: Any = int) -> Any:
    """A function ``name`` defined from ``source`` (its ``def`` line names it ``fn``)."""
    namespace: dict[str, Any] = {"Ref": Ref, "F": F, "T": T, "Any": Any, "RunContext": RunContext}
    exec(source, namespace)
    fn = namespace["fn"]
    fn.__name__ = fn.__qualname__ = name
    return fn


class Pair(NamedTuple):
    left: int
    right: str


class Row(TypedDict):
    id: int
    name: str


@dataclass
class Point:
    x: int
    y: int


def picklable_task() -> int:
    return 1


# -- plain registries ------------------------------------------------------------------------


@case(one_pass=True)
def empty() -> tuple[SchedulerRegistry, AstrumConfig]:
    return SchedulerRegistry("empty"), AstrumConfig()


@case(one_pass=True)
def one_task() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("one")
    reg.task("only")(_fn("only", "async def fn() -> int:\n    return 1"))
    return reg, AstrumConfig()


@case(one_pass=True)
def wide() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("wide")
    for i in range(6):
        reg.task(f"w{i}")(_fn(f"w{i}", "async def fn() -> int:\n    return 0"))
    return reg, AstrumConfig()


@case(one_pass=True)
def chain_of_refs() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("chain")
    reg.task("c0")(_fn("c0", "async def fn() -> int:\n    return 0"))
    for i in range(1, 6):
        reg.task(f"c{i}", depends_on=[f"c{i - 1}"])(
            _fn(f"c{i}", f"async def fn(value: Ref[int, F('c{i - 1}')]) -> int:\n    return value + 1")
        )
    return reg, AstrumConfig()


@case(one_pass=True)
def locators() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("locators")

    @reg.task()
    def make_dict() -> dict[str, int]:
        return {"a": 1}

    @reg.task()
    def make_pair() -> Pair:
        return Pair(1, "x")

    @reg.task()
    def make_tuple() -> tuple[int, str]:
        return (1, "x")

    @reg.task()
    def make_row() -> Row:
        return {"id": 1, "name": "n"}

    @reg.task()
    def use(
        a: Ref[int, F("make_dict", "a")],
        left: Ref[int, F("make_pair", "left")],
        second: Ref[str, F("make_tuple", 1)],
        name: Ref[str, F("make_row", "name")],
        whole: Ref[Pair, F("make_pair")],
    ) -> str:
        return f"{a}{left}{second}{name}{whole}"

    return reg, AstrumConfig()


@case(one_pass=True)
def refs_and_depends_on() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("mixed_edges")
    reg.task("a")(_fn("a", "def fn() -> int:\n    return 1"))
    reg.task("b")(_fn("b", "def fn() -> int:\n    return 2"))
    reg.task("c", depends_on=["a", "b"])(_fn("c", "def fn(x: Ref[int, F('a')]) -> int:\n    return x"))
    reg.task("d", depends_on=["c"])(
        _fn("d", "async def fn(x: Ref[int, F('b')], y: Ref[int, F('a')]) -> int:\n    return x + y")
    )
    return reg, AstrumConfig()


@case(one_pass=True)
def defaults_and_keyword_only() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("defaults")
    reg.task("a")(_fn("a", "def fn(scale: int = 2) -> int:\n    return scale"))
    reg.task("b")(_fn("b", "def fn(x: Ref[int, F('a')] = 0, *, y: Ref[int, F('a')]) -> int:\n    return x"))
    reg.task("c")(_fn("c", "async def fn(x: Ref[int, F('b')], *, bonus: int = 1) -> int:\n    return x"))
    return reg, AstrumConfig()


@case(one_pass=True)
def unannotated() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("unannotated")
    reg.task("a")(_fn("a", "def fn():\n    return 1"))
    reg.task("b")(_fn("b", "def fn(x: Ref[Any, F('a')]):\n    return x"))
    return reg, AstrumConfig()


@case(one_pass=True)
def retries_and_timeouts() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("policies")
    reg.task("a", retry=2)(_fn("a", "async def fn() -> int:\n    return 1"))
    reg.task("b", retry=Retry(3, delay=0.5, backoff=2.0), timeout=2.0)(
        _fn("b", "async def fn(x: Ref[int, F('a')]) -> int:\n    return x")
    )
    reg.task("c", timeout=1.5)(_fn("c", "def fn(x: Ref[int, F('b')]) -> int:\n    return x"))
    return reg, AstrumConfig()


@case(one_pass=True)
def not_in_dependency_order() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("unordered")
    reg.task("last")(_fn("last", "async def fn(x: Ref[int, F('middle')]) -> int:\n    return x"))
    reg.task("middle", depends_on=["first"])(_fn("middle", "def fn() -> int:\n    return 1"))
    reg.task("first")(_fn("first", "def fn() -> int:\n    return 1"))
    return reg, AstrumConfig()


@case(one_pass=True)
def string_annotations() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("strings")
    a = _fn("a", "def fn() -> int:\n    return 1")
    a.__annotations__ = {"return": "int"}
    b = _fn("b", "def fn(x) -> int:\n    return x")
    b.__annotations__ = {"x": "Ref[int, F('a')]", "return": "int"}
    reg.task("a")(a)
    reg.task("b")(b)
    reg.task("c")(_fn("c", "def fn(x: Ref[int, F('b')]) -> int:\n    return x"))
    return reg, AstrumConfig()


@case(one_pass=True)
def run_settings() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("settings")
    reg.task("a")(_fn("a", "async def fn() -> int:\n    return 1"))
    reg.task("b")(_fn("b", "async def fn(x: Ref[int, F('a')]) -> int:\n    return x"))
    reg.task("tail")(_fn("tail", "async def fn(x: Ref[int, F('a')]) -> int:\n    return x"))
    config = AstrumConfig(
        ignore_tail_task=("tail", "nowhere"), concurrency_limit=3, failure_policy="continue", deadline=9.0
    )
    return reg, config


@case(one_pass=True)
def decorated_function() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("decorated")
    reg.task("a")(_fn("a", "async def fn() -> int:\n    return 1"))
    inner = _fn("b", "async def fn(x: Ref[int, F('a')]) -> int:\n    return x")

    @functools.wraps(inner)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        return await inner(*args, **kwargs)

    reg.task("b")(wrapper)
    return reg, AstrumConfig()


@case(one_pass=True)
def type_mismatch_without_the_check() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("unchecked")
    reg.task("a")(_fn("a", "def fn() -> str:\n    return 'x'"))
    reg.task("b")(_fn("b", "def fn(x: Ref[int, F('a')]) -> int:\n    return x"))
    return reg, AstrumConfig(skip_type_check=True)


@case(one_pass=True)
def types_that_fit() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("fitting_types")

    @reg.task()
    def count() -> int:
        return 1

    @reg.task()
    def numbers() -> list[int]:
        return [1]

    @reg.task()
    def scores() -> dict[str, float]:
        return {"a": 1.0}

    @reg.task()
    def by_id() -> dict[int, str]:
        return {0: "x"}

    @reg.task()
    def use(
        ratio: Ref[float, F("count")],
        maybe: Ref[int | None, F("count")],
        items: Ref[list, F("numbers")],
        score: Ref[float, F("scores", "a")],
        label: Ref[str, F("by_id", 0)],
        anything: Ref[Any, F("numbers")],
    ) -> str:
        return label

    return reg, AstrumConfig()


@case(one_pass=True)
def sync_and_async_mixed() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("mixed_kinds")
    reg.task("a")(_fn("a", "def fn() -> int:\n    return 1"))
    reg.task("b")(_fn("b", "async def fn(x: Ref[int, F('a')]) -> int:\n    return x"))
    reg.task("c")(_fn("c", "def fn(x: Ref[int, F('b')], y: Ref[int, F('a')]) -> int:\n    return x + y"))
    reg.task("d", depends_on=["a"])(_fn("d", "async def fn() -> None:\n    return None"))
    return reg, AstrumConfig()


@case(one_pass=True)
def a_semaphore_and_a_fake_clock() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("clocked")
    reg.task("a", retry=Retry(2, delay=1.0))(_fn("a", "async def fn() -> int:\n    return 1"))
    reg.task("b")(_fn("b", "async def fn(x: Ref[int, F('a')]) -> int:\n    return x"))
    return reg, AstrumConfig(clock=FakeClock())


@case()
def generic_mismatch() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("generic_mismatch")
    reg.task("a")(_fn("a", "def fn() -> list[str]:\n    return []"))
    reg.task("b")(_fn("b", "def fn(x: Ref[list[int], F('a')]) -> int:\n    return 1"))
    reg.task("c")(_fn("c", "def fn() -> dict[str, str]:\n    return {}"))
    reg.task("d")(_fn("d", "def fn(x: Ref[int, F('c', 'k')]) -> int:\n    return x"))
    return reg, AstrumConfig()


@case()
def string_annotation_with_a_mismatch() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("string_mismatch")
    a = _fn("a", "def fn():\n    return 'x'")
    a.__annotations__ = {"return": "str"}
    b = _fn("b", "def fn(x) -> int:\n    return 1")
    b.__annotations__ = {"x": "Ref[int, F('a')]", "return": "int"}
    reg.task("a")(a)
    reg.task("b")(b)
    return reg, AstrumConfig()


# -- registries only the general build compiles ------------------------------------------------


@case()
def ref_by_callable() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("callable_ref")

    @reg.task()
    async def source() -> int:
        return 1

    @reg.task()
    async def sink(value: Ref[int, F(source)]) -> int:
        return value

    return reg, AstrumConfig()


@case()
def string_annotation_naming_a_task_function() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("string_callable")
    reg.task("load")(_fn("load", "def fn() -> int:\n    return 1"))
    use = _fn("use", "def fn(x) -> int:\n    return x")
    use.__annotations__ = {"x": "Ref[int, F(load)]", "return": "int"}
    reg.task("use")(use)
    return reg, AstrumConfig()


@case()
def positional_only_with_default() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("posonly")
    reg.task("a")(_fn("a", "def fn() -> int:\n    return 1"))
    reg.task("b")(_fn("b", "def fn(n=1, /, x: Ref[int, F('a')] = 0) -> int:\n    return x"))
    return reg, AstrumConfig()


@case()
def variadic_parameters() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("variadic")
    reg.task("a")(_fn("a", "def fn() -> int:\n    return 1"))
    reg.task("b")(_fn("b", "def fn(x: Ref[int, F('a')], *rest, **extra) -> int:\n    return x"))
    return reg, AstrumConfig()


@case()
def run_context_parameter() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("context")
    reg.task("a")(_fn("a", "def fn() -> int:\n    return 1"))
    reg.task("b")(_fn("b", "def fn(x: Ref[int, F('a')], ctx: RunContext[Any]) -> int:\n    return x"))
    return reg, AstrumConfig()


@case()
def pushed_values() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("pushes")
    reg.task("a")(_fn("a", "def fn() -> Ref[dict, T('b', 'v', 'x')]:\n    return {'v': 1}"))
    reg.task("b")(_fn("b", "def fn(x: int, y: Ref[dict, F('a')]) -> int:\n    return x"))
    reg.task("c")(_fn("c", "def fn() -> Ref[int, T('d', None, 0)]:\n    return 1"))
    reg.task("d")(_fn("d", "def fn(first: int) -> int:\n    return first"))
    return reg, AstrumConfig()


@case()
def pools() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("pools")
    reg.task("a", pool="db")(_fn("a", "async def fn() -> int:\n    return 1"))
    reg.task("b", pool="api")(_fn("b", "async def fn(x: Ref[int, F('a')]) -> int:\n    return x"))
    reg.task("c")(_fn("c", "async def fn(x: Ref[int, F('a')]) -> int:\n    return x"))
    return reg, AstrumConfig(pools={"api": 1, "db": 2})


@case()
def process_isolation() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("process")
    reg.task("picklable_task", isolation="process", timeout=5.0)(picklable_task)
    reg.task("after")(_fn("after", "async def fn(x: Ref[int, F('picklable_task')]) -> int:\n    return x"))
    return reg, AstrumConfig()


@case()
def methods_with_instances() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("methods")

    class Kitchen:
        def __init__(self, name: str) -> None:
            self.name = name

        @reg.task("prep")
        def prep(self) -> int:
            return len(self.name)

        @reg.task("cook")
        @classmethod
        def cook(cls, amount: Ref[int, F("prep")]) -> str:
            return f"{cls.__name__}:{amount}"

        @staticmethod
        @reg.task("plate")
        def plate(dish: Ref[str, F("cook")]) -> str:
            return dish

    return reg, AstrumConfig(class_instances=[Kitchen("k")])


@case()
def explicit_task_data() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("task_data")
    reg.task("load")(_fn("load", "def fn() -> dict:\n    return {'a': 1, 'b': [1, 2]}"))
    reg.task(
        "use",
        data=TaskData(
            input_data_item=[
                DataItem(
                    allow_data_model=int,
                    from_relation=DTRela(related_task="load", key="a"),
                    to_relation=DTRela(related_task="use", key="a"),
                ),
                DataItem(
                    from_relation=DTRela(related_task="load", single_item=True),
                    to_relation=DTRela(related_task="use", index=1),
                ),
                DataItem(
                    allow_data_model=int,
                    from_relation=DTRela(related_task="use", from_function=picklable_task),
                    to_relation=DTRela(related_task="use", key="c"),
                ),
            ]
        ),
    )(_fn("use", "def fn(a, whole, c) -> int:\n    return a"))
    return reg, AstrumConfig()


@case()
def overridden() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("override")
    reg.task("a")(_fn("a", "async def fn() -> int:\n    return 1"))
    reg.task("b")(_fn("b", "async def fn(x: Ref[int, F('a')]) -> int:\n    return x"))
    return reg.override({"a": 5, "b": _fn("fake", "def fn(x):\n    return x")}), AstrumConfig()


@case()
def callable_object() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("callable_object")

    class Step:
        __name__ = "step"

        async def __call__(self) -> int:
            return 1

    reg.task("step")(Step())
    reg.task("after")(_fn("after", "def fn(x: Ref[int, F('step')]) -> int:\n    return x"))
    return reg, AstrumConfig()


# -- registries with problems ------------------------------------------------------------------


@case()
def unknown_dependency() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("unknown_dep")
    reg.task("a", depends_on=["nowhere", "elsewhere"])(_fn("a", "def fn() -> int:\n    return 1"))
    return reg, AstrumConfig()


@case()
def unknown_ref_source() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("unknown_ref")
    reg.task("a")(_fn("a", "def fn(x: Ref[int, F('missing')]) -> int:\n    return x"))
    return reg, AstrumConfig()


@case()
def type_mismatch() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("mismatch")
    reg.task("a")(_fn("a", "def fn() -> str:\n    return 'x'"))
    reg.task("b")(_fn("b", "def fn(x: Ref[int, F('a')]) -> int:\n    return x"))
    reg.task("c")(_fn("c", "def fn(x: Ref[list[int], F('b')]) -> int:\n    return 1"))
    return reg, AstrumConfig()


@case()
def bad_locators() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("bad_locators")

    @reg.task()
    def point() -> Point:
        return Point(1, 2)

    @reg.task()
    def pair() -> tuple[int, str]:
        return (1, "x")

    @reg.task()
    def use(z: Ref[int, F("point", "z")], third: Ref[int, F("pair", 2)], y: Ref[str, F("point", "y")]) -> int:
        return z

    return reg, AstrumConfig()


@case()
def parameter_without_value() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("no_value")
    reg.task("a")(_fn("a", "def fn() -> int:\n    return 1"))
    reg.task("b")(_fn("b", "def fn(x: Ref[int, F('a')], missing: int, *, also: str) -> int:\n    return x"))
    return reg, AstrumConfig()


@case()
def positional_only_ref() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("posonly_ref")
    reg.task("a")(_fn("a", "def fn() -> int:\n    return 1"))
    reg.task("b")(_fn("b", "def fn(x: Ref[int, F('a')], /) -> int:\n    return x"))
    return reg, AstrumConfig()


@case()
def cycle() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("cycle")
    reg.task("a", depends_on=["c"])(_fn("a", "def fn() -> int:\n    return 1"))
    reg.task("b")(_fn("b", "def fn(x: Ref[int, F('a')]) -> int:\n    return x"))
    reg.task("c")(_fn("c", "def fn(x: Ref[int, F('b')]) -> int:\n    return x"))
    return reg, AstrumConfig()


@case()
def cycle_and_type_mismatch() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("cycle_and_mismatch")
    reg.task("a", depends_on=["b"])(_fn("a", "def fn() -> str:\n    return 'x'"))
    reg.task("b")(_fn("b", "def fn(x: Ref[int, F('a')]) -> int:\n    return 1"))
    return reg, AstrumConfig()


@case()
def depends_on_itself() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("self_loop")
    reg.task("a", depends_on=["a"])(_fn("a", "def fn() -> int:\n    return 1"))
    return reg, AstrumConfig()


@case()
def unknown_pool() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("unknown_pool")
    reg.task("a", pool="gpu")(_fn("a", "def fn() -> int:\n    return 1"))
    return reg, AstrumConfig(pools={"cpu": 2})


@case()
def missing_instance() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("missing_instance")

    class Oven:
        @reg.task("bake")
        def bake(self) -> int:
            return 1

    return reg, AstrumConfig()


@case()
def duplicate_instances() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("duplicate_instances")

    class Oven:
        @reg.task("bake")
        def bake(self) -> int:
            return 1

    return reg, AstrumConfig(class_instances=[Oven(), Oven()])


@case()
def unpicklable_process_task() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("unpicklable")
    reg.task("local", isolation="process")(_fn("local", "def fn() -> int:\n    return 1"))
    return reg, AstrumConfig()


@case()
def ambiguous_callable_ref() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("ambiguous")
    shared = _fn("shared", "def fn() -> int:\n    return 1")
    reg.task("one")(shared)
    reg.task("two")(shared)
    reg.task("use")(_fn("use", "def fn(x) -> int:\n    return x"))
    reg.get_task("use").function.__annotations__["x"] = Ref[int, F(shared)]
    return reg, AstrumConfig()


@case()
def unresolvable_string_annotation() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("unresolvable")
    use = _fn("use", "def fn(x) -> int:\n    return x")
    use.__annotations__ = {"x": "Ref[int, F(no_such_task)]", "return": "NoSuchType"}
    reg.task("use")(use)
    return reg, AstrumConfig()


@case()
def data_item_without_source() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("no_source")
    reg.task("a")(_fn("a", "def fn() -> int:\n    return 1"))
    reg.task(
        "b",
        data=TaskData(
            input_data_item=[
                DataItem(to_relation=DTRela(related_task="b", key="x")),
                DataItem(
                    from_relation=DTRela(related_task="a"), to_relation=DTRela(related_task="b", key="y")
                ),
                DataItem(
                    from_relation=DTRela(related_task="gone", key="k"),
                    to_relation=DTRela(related_task="b", key="z"),
                ),
            ]
        ),
    )(_fn("b", "def fn(x, y, z, w) -> int:\n    return 1"))
    return reg, AstrumConfig(allow_no_dir_definition=True)


@case()
def from_function_mismatch() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("from_function")
    reg.task(
        "use",
        data=TaskData(
            input_data_item=[
                DataItem(
                    allow_data_model=str,
                    from_relation=DTRela(related_task="use", from_function=picklable_task),
                    to_relation=DTRela(related_task="use", key="value"),
                ),
                DataItem(
                    allow_data_model=int,
                    from_relation=DTRela(related_task="use", from_function="constant"),
                    to_relation=DTRela(related_task="use", key="other"),
                ),
            ]
        ),
    )(_fn("use", "def fn(value, other) -> int:\n    return 1"))
    return reg, AstrumConfig()


@case()
def undirected_data_items_refused() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("undirected")
    reg.task("b", data=TaskData(input_data_item=[DataItem(to_relation=DTRela(related_task="b", key="x"))]))(
        _fn("b", "def fn(x) -> int:\n    return 1")
    )
    return reg, AstrumConfig()


@case()
def many_problems_at_once() -> tuple[SchedulerRegistry, AstrumConfig]:
    reg = SchedulerRegistry("many")
    reg.task("a", depends_on=["ghost"])(_fn("a", "def fn() -> str:\n    return 'x'"))
    reg.task("b")(_fn("b", "def fn(x: Ref[int, F('a')], y: Ref[int, F('nobody')], z) -> int:\n    return 1"))
    reg.task("c", pool="p")(_fn("c", "def fn(q: Ref[int, F('b', 'field')]) -> int:\n    return q"))
    return reg, AstrumConfig()


# -- the comparison ----------------------------------------------------------------------------


def _binder(binder: Any) -> Any:
    """A binder's structure: its class and what it reads (a value check counts by presence)."""
    if binder is None:
        return None
    if isinstance(binder, WholeBinder):
        return ("whole", binder.task, binder.param, binder.source, binder.slot)
    assert isinstance(binder, ArgBinder)
    return (
        "args",
        binder.task,
        [inp._replace(check=inp.check is not None) for inp in binder.inputs],
        [(inp.target, slot) for inp, slot in binder._keyword],
        [(inp.target, slot) for inp, slot in binder._positional],
        binder.receiver,
        binder.needs_await,
    )


def _program(program: Program) -> dict[str, Any]:
    """Every field of a program; the graph's and the binders' field by field."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(Program):
        value = getattr(program, field.name)
        if field.name == "graph":
            value = {f.name: list(getattr(value, f.name)) if f.name in ("topo", "levels") else getattr(value, f.name)
                     for f in dataclasses.fields(value)}  # fmt: skip
        elif field.name == "binders":
            value = [_binder(b) for b in value]
        out[field.name] = value
    return out


def _outcome(builder: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        result = builder()
    except Exception as exc:
        return ("error", type(exc), str(exc), getattr(exc, "problems", None))
    return (
        "program",
        _program(result.program),
        result.selected,
        result.retries,
        result.task_data,
        result.has_data_path,
    )


def _configs(config: AstrumConfig) -> list[AstrumConfig]:
    return [config, dataclasses.replace(config, skip_type_check=not config.skip_type_check)]


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_a_build_compiles_and_reports_what_the_general_build_does(name: str) -> None:
    registry, config = CORPUS[name]()
    for variant in _configs(config):
        built = _outcome(lambda variant=variant: build(registry, None, variant))
        general = _outcome(lambda variant=variant: _build(registry, None, variant, None))

        assert built == general


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_the_one_pass_compile_takes_exactly_the_plain_registries(name: str) -> None:
    registry, config = CORPUS[name]()

    compiled = build_plain(registry, config, None)

    assert (compiled is not None) == (name in ONE_PASS)


def test_the_corpus_holds_several_dozen_registries_of_both_kinds() -> None:
    assert len(CORPUS) >= 40
    assert 10 <= len(ONE_PASS) <= len(CORPUS) - 25


def test_a_ref_parameter_becomes_the_input_its_binder_reads() -> None:
    made = ref_input(InputRef("value", lambda: None, "key", int), "producer")

    assert made == Input("value", "producer", "key", expected=int)
    assert (made.target, made.source, made.locator, made.check, made.use_function) == (
        "value",
        "producer",
        "key",
        None,
        False,
    )


def test_a_cycle_and_a_type_mismatch_give_the_same_error_whether_or_not_targets_are_chosen() -> None:
    registry, _ = CORPUS["cycle_and_type_mismatch"]()

    with pytest.raises(TaskRegistrationError) as whole:
        registry.build_task_orders()
    with pytest.raises(TaskRegistrationError) as targeted:
        registry.build_task_orders(["b"])

    assert str(whole.value) == str(targeted.value)
    assert "Type mismatch on edge a -> b.x: 'a' provides str but 'b' expects int" in str(whole.value)
