"""Tasks declared in a class body (Astrum 0.1.2): instance, static and class methods."""

import pytest

import astrum
from astrum import AstrumConfig, F, Ref, SchedulerRegistry, TaskRegistrationError, run, task


@pytest.fixture(autouse=True)
def _clean_registry():
    astrum.clear_registry()
    yield
    astrum.clear_registry()


# A module-level class (a real, importable __qualname__) registered into its own registry.
module_registry = SchedulerRegistry("methods_module")


class Barista:
    def __init__(self, name: str) -> None:
        self.name = name

    @module_registry.task("grind")
    def grind(self) -> int:
        return len(self.name)

    @module_registry.task("pour")
    @classmethod
    def pour(cls, beans: Ref[int, F("grind")]) -> str:
        return f"{cls.__name__}:{beans}"

    @staticmethod
    @module_registry.task("serve")
    def serve(cup: Ref[str, F("pour")]) -> str:
        return cup + "!"

    @classmethod
    @module_registry.task("menu")
    def menu(cls) -> str:
        return cls.__qualname__


async def test_module_level_class_methods_run_with_an_instance():
    report = await module_registry.run(config=AstrumConfig(class_instances=[Barista("anna")]))
    assert report.execution_state == "completed", report.error_summary
    assert report.task_return_set["grind"] == 4
    assert report.task_return_set["pour"] == "Barista:4"
    assert report.task_return_set["serve"] == "Barista:4!"
    assert report.task_return_set["menu"] == "Barista"


def test_module_level_instance_method_without_an_instance_is_reported():
    with pytest.raises(TaskRegistrationError) as info:
        module_registry.build_task_orders(["serve"])
    message = str(info.value)
    assert message.startswith("Missing class_instances for class-scoped tasks: ")
    assert f"{__name__}.Barista: ['grind']" in message


async def test_classmethod_alone_needs_no_instance():
    report = await module_registry.run(["menu"])
    assert report.execution_state == "completed"
    assert report.task_return_set == {"menu": "Barista"}


def test_two_instances_of_one_class_are_rejected():
    with pytest.raises(TaskRegistrationError) as info:
        module_registry.build_task_orders(config=AstrumConfig(class_instances=[Barista("a"), Barista("b")]))
    assert str(info.value).startswith(f"Duplicate class_instances for the same class: {__name__}.Barista")


# -- classes declared inside tests, global decorator -----------------------------------------


async def test_instance_methods_receive_the_configured_instance():
    class Counter:
        def __init__(self, start: int) -> None:
            self.start = start
            self.calls = 0

        @task("first", namespace="counter")
        def first(self) -> int:
            self.calls += 1
            return self.start

        @task("second", namespace="counter")
        async def second(self, value: Ref[int, F("first")]) -> int:
            self.calls += 1
            return value + self.start

    counter = Counter(10)
    report = await run(namespace="counter", config=AstrumConfig(class_instances=[counter]))

    assert report.execution_state == "completed", report.error_summary
    assert report.task_return_set == {"first": 10, "second": 20}
    assert counter.calls == 2


async def test_missing_instance_lists_every_task_of_the_class_sorted():
    class Pipeline:
        @task("zeta", namespace="pipe")
        def zeta(self) -> None:
            pass

        @task("alpha", namespace="pipe")
        def alpha(self) -> None:
            pass

        @task("static_ok", namespace="pipe")
        @staticmethod
        def static_ok() -> None:
            pass

    with pytest.raises(TaskRegistrationError) as info:
        await run(namespace="pipe")
    message = str(info.value)
    assert "Missing class_instances for class-scoped tasks" in message
    assert "Pipeline: ['alpha', 'zeta']" in message
    assert "static_ok" not in message

    # selecting only the static task needs no instance
    report = await run(["static_ok"], namespace="pipe")
    assert report.execution_state == "completed"


async def test_static_methods_work_in_both_decorator_orders():
    class Tools:
        @task("outer_task", namespace="static")
        @staticmethod
        def outer_task() -> int:
            return 1

        @staticmethod
        @task("inner_task", namespace="static")
        def inner_task(x: Ref[int, F("outer_task")]) -> int:
            return x + 1

    assert Tools.inner_task(5) == 6  # the class still works normally
    report = await run(namespace="static")
    assert report.execution_state == "completed", report.error_summary
    assert report.task_return_set == {"outer_task": 1, "inner_task": 2}


async def test_class_methods_work_in_both_decorator_orders_and_receive_the_class():
    class Recipes:
        label = "recipes"

        @task("outer_cm", namespace="classy")
        @classmethod
        def outer_cm(cls) -> object:
            return cls

        @classmethod
        @task("inner_cm", namespace="classy")
        def inner_cm(cls, seen: Ref[object, F("outer_cm")]) -> tuple:
            return cls, seen, cls.label

    report = await run(namespace="classy", config=AstrumConfig(skip_type_check=True))
    assert report.execution_state == "completed", report.error_summary
    assert report.task_return_set["outer_cm"] is Recipes
    assert report.task_return_set["inner_cm"] == (Recipes, Recipes, "recipes")


async def test_methods_can_refer_to_each_other_by_callable():
    class Flow:
        def __init__(self) -> None:
            self.base = 2

        @task("start", namespace="flow")
        def start(self) -> int:
            return self.base

        @task("double", namespace="flow")
        def double(self, v: Ref[int, F(start)]) -> int:
            return v * self.base

        @task("describe", namespace="flow")
        @staticmethod
        def describe(v: Ref[int, F(double)]) -> str:
            return f"v={v}"

    orders = astrum.build_task_orders(namespace="flow", config=AstrumConfig(class_instances=[Flow()]))
    assert {o.task_name: [d.task_name for d in o.dependencies] for o in orders} == {
        "start": [],
        "double": ["start"],
        "describe": ["double"],
    }
    report = await run(namespace="flow", config=AstrumConfig(class_instances=[Flow()]))
    assert report.task_return_set["describe"] == "v=4"


async def test_instances_of_different_classes_are_matched_to_their_own_methods():
    class Left:
        @task("left", namespace="two_classes")
        def left(self) -> str:
            return f"left:{id(self)}"

    class Right:
        @task("right", namespace="two_classes")
        def right(self) -> str:
            return f"right:{id(self)}"

    left, right = Left(), Right()
    report = await run(namespace="two_classes", config=AstrumConfig(class_instances=[right, left]))
    assert report.task_return_set == {"left": f"left:{id(left)}", "right": f"right:{id(right)}"}


async def test_repeated_runs_use_the_instance_of_each_runs_config():
    class Greeter:
        def __init__(self, name: str) -> None:
            self.name = name

        @task("hello", namespace="greeter")
        def hello(self) -> str:
            return f"hello {self.name}"

    first = await run(namespace="greeter", config=AstrumConfig(class_instances=[Greeter("a")]))
    second = await run(namespace="greeter", config=AstrumConfig(class_instances=[Greeter("b")]))
    assert (first.task_return_set["hello"], second.task_return_set["hello"]) == ("hello a", "hello b")
