"""Regression tests for upstream Astrum defects in the registry and data-transport layer (section 8).

Each test names the defect it pins. Defects covered in more depth elsewhere:
D5/D6/D16 in test_transport.py, D4/D7/D14/D15/D18/D20/D24 in test_build_validation.py,
D19 in test_viz.py, D22 in test_registry.py.
"""

import functools
import subprocess
import sys
import textwrap
import time

import pytest

import astrum
from astrum import AstrumConfig, F, Ref, SchedulerRegistry, TaskOrderLoopError
from astrum.data_transport import DataItem, DTRela, TaskData


@pytest.fixture(autouse=True)
def _clean_registry():
    astrum.clear_registry()
    yield
    astrum.clear_registry()


def stat_of(report, name):
    (stat,) = [s for s in report.task_statistics if s.task_name == name]
    return stat


# -- D3: callables sharing a __qualname__ ----------------------------------------------------


async def test_d3_closures_made_in_a_loop_build_and_run():
    reg = SchedulerRegistry("d3_loop")
    for k in range(4):

        def worker(k=k) -> int:
            return k * k

        reg.task(f"w{k}")(worker)

    report = await reg.run()
    assert report.execution_state == "completed"
    assert dict(report.task_return_set) == {"w0": 0, "w1": 1, "w2": 4, "w3": 9}


async def test_d3_two_lambdas_in_one_scope_build_and_run():
    reg = SchedulerRegistry("d3_lambdas")
    reg.task("one")(lambda: 1)
    reg.task("two")(lambda: 2)

    @reg.task()
    def total(a: Ref[int, F("one")], b: Ref[int, F("two")]) -> int:
        return a + b

    report = await reg.run()
    assert report.task_return_set["total"] == 3


async def test_d3_one_function_under_two_ids_builds_and_runs_twice():
    reg = SchedulerRegistry("d3_twice")
    calls: list[int] = []

    def shared() -> int:
        calls.append(1)
        return 7

    reg.task("first")(shared)
    reg.task("second")(shared)

    @reg.task()
    def use(a: Ref[int, F("first")], b: Ref[int, F("second")]) -> int:
        return a + b

    report = await reg.run()
    assert report.task_return_set["use"] == 14
    assert len(calls) == 2


# -- D4: one build per registry --------------------------------------------------------------


async def test_d4_second_run_with_data_relations_is_no_self_cycle():
    reg = SchedulerRegistry("d4")

    @reg.task()
    def load() -> dict:
        return {"n": 1}

    @reg.task()
    def build_report(n: Ref[int, F("load", "n")]) -> str:
        return f"n={n}"

    for _ in range(2):
        try:
            report = await reg.run()
        except TaskOrderLoopError as exc:  # pragma: no cover - the upstream failure
            pytest.fail(f"second build saw a cycle: {exc}")
        assert report.task_return_set["build_report"] == "n=1"


# -- D10: exception identity -----------------------------------------------------------------


class DomainError(Exception):
    """A user exception whose message does not name its class."""


async def test_d10_failing_task_exception_object_is_kept_with_its_type():
    reg = SchedulerRegistry("d10")
    raised = KeyError("k")

    @reg.task()
    def lookup() -> None:
        raise raised

    report = await reg.run()

    assert report.execution_state == "failed"
    assert report.exceptions["lookup"] is raised
    stat = stat_of(report, "lookup")
    assert stat.exception is raised
    assert isinstance(stat.exception, KeyError)
    assert stat.exception.args == ("k",)
    assert "KeyError" in stat.error_message
    assert "'k'" in stat.error_message


async def test_d10_exception_with_an_empty_message_is_described_by_its_type():
    reg = SchedulerRegistry("d10_empty")

    @reg.task()
    async def silent() -> None:
        raise RuntimeError()

    report = await reg.run()

    stat = stat_of(report, "silent")
    assert stat.error_message == "RuntimeError"
    assert type(report.exceptions["silent"]) is RuntimeError
    assert "Task 'silent' failed during execution: " in report.error_summary  # upstream's line: str(exc)


async def test_d10_custom_exception_type_survives_retries():
    reg = SchedulerRegistry("d10_retry")
    attempts: list[int] = []

    @reg.task(retry=1)
    def flaky() -> None:
        attempts.append(1)
        raise DomainError(f"attempt {len(attempts)}")

    report = await reg.run()

    exc = report.exceptions["flaky"]
    assert type(exc) is DomainError
    assert exc.args == ("attempt 2",)
    assert stat_of(report, "flaky").exception is exc
    assert "DomainError" in stat_of(report, "flaky").error_message
    assert len(attempts) == 2


async def test_d10_successful_tasks_have_no_exception():
    reg = SchedulerRegistry("d10_ok")
    reg.task("fine")(lambda: 1)
    report = await reg.run()
    assert report.exceptions == {}
    assert stat_of(report, "fine").exception is None


# -- D17: explicit items ---------------------------------------------------------------------


async def test_d17_constant_from_function_is_injected_as_a_value():
    reg = SchedulerRegistry("d17")

    @reg.task(
        data=TaskData(
            input_data_item=[
                DataItem(
                    allow_data_model=int,
                    from_relation=DTRela(related_task="use", from_function=5),
                    to_relation=DTRela(related_task="use", key="value"),
                )
            ]
        )
    )
    def use(value: int) -> int:
        return value * 2

    report = await reg.run()
    assert report.execution_state == "completed", report.error_summary
    assert report.task_return_set["use"] == 10


def test_d17_item_without_from_relation_does_not_silently_inject_none():
    reg = SchedulerRegistry("d17_none")

    @reg.task(data=TaskData(input_data_item=[DataItem(to_relation=DTRela(related_task="use", key="value"))]))
    def use(value: int = 3) -> int:
        return value

    with pytest.raises(ValueError, match="Data item in task use has"):
        reg.build_task_orders()


# -- D21: deep graphs ------------------------------------------------------------------------


async def test_d21_two_thousand_task_chain_registered_sink_first_builds_and_runs():
    reg = SchedulerRegistry("d21")
    n = 2000
    for k in reversed(range(n)):
        if k == 0:
            reg.task("t0")(lambda: 0)
        else:

            def step(prev: int = 0) -> int:
                return prev + 1

            step.__annotations__ = {"prev": Ref[int, F(f"t{k - 1}")], "return": int}
            reg.task(f"t{k}")(step)

    started = time.perf_counter()
    orders = reg.build_task_orders([f"t{n - 1}"])
    assert len(orders) == n
    scheduler = reg.build_scheduler()
    scheduler.detect_cycle()  # no RecursionError, no cycle
    plan = scheduler.get_execute_timeline()
    assert len(plan.stages) == n
    report = await scheduler.execute()
    elapsed = time.perf_counter() - started

    assert report.execution_state == "completed", report.error_summary[:3]
    assert report.successful_tasks == n
    assert report.task_return_set[f"t{n - 1}"] == n - 1
    assert elapsed < 10


# -- D23: partial and callable objects -------------------------------------------------------


async def test_d23_partial_and_callable_objects_with_annotations_build_and_run():
    reg = SchedulerRegistry("d23")

    def scale(factor: int, value: Ref[int, F("seed")]) -> int:
        return factor * value

    class Offset:
        def __init__(self, by: int) -> None:
            self.by = by

        def __call__(self, value: Ref[int, F("scaled")]) -> int:
            return value + self.by

    class AsyncFormat:
        async def __call__(self, value: Ref[int, F("offset")]) -> str:
            return f"<{value}>"

    reg.task("seed")(lambda: 4)
    reg.task("scaled")(functools.partial(scale, 10))
    reg.task("offset")(Offset(2))
    reg.task("formatted")(AsyncFormat())

    orders = {o.task_name: [d.task_name for d in o.dependencies] for o in reg.build_task_orders()}
    assert orders == {"seed": [], "scaled": ["seed"], "offset": ["scaled"], "formatted": ["offset"]}
    report = await reg.run()
    assert report.task_return_set["formatted"] == "<42>"


async def test_d23_builtin_callables_without_a_signature_are_tasks_too():
    reg = SchedulerRegistry("d23_builtins")
    reg.task("now")(time.time)
    reg.task("biggest")(functools.partial(max, 1, 2))
    reg.task("empty")(dict)

    report = await reg.run()

    assert report.execution_state == "completed", report.error_summary
    assert report.task_return_set["biggest"] == 2
    assert report.task_return_set["empty"] == {}
    assert isinstance(report.task_return_set["now"], float)


# -- the README quick start, verbatim --------------------------------------------------------

README_QUICKSTART = """
import asyncio
from astrum import F, AstrumConfig, Ref, run, task
@task("load_users")
async def load_users() -> dict:
    await asyncio.sleep(0.1)
    return {"users": ["Alice", "Bob"]}
@task("load_orders")
async def load_orders() -> dict:
    await asyncio.sleep(0.1)
    return {"orders": ["A-001", "A-002", "A-003"]}
@task("build_report", depends_on=["load_users", "load_orders"])
async def build_report(
    users: Ref[list, F("load_users", "users")],
    orders: Ref[list, F("load_orders", "orders")],
) -> dict:
    return {"summary": f"{len(users)} users, {len(orders)} orders"}
@task("publish_report", depends_on=["build_report"])
async def publish_report(
    summary: Ref[str, F("build_report", "summary")],
) -> None:
    print(summary)
async def main() -> None:
    report = await run(
        target_tasks=["publish_report"],
        config=AstrumConfig(skip_type_check=True, silence_warnings=True),
    )
    print(report.execution_state)
    print(f"{report.successful_tasks}/{report.total_tasks} tasks completed")
asyncio.run(main())
"""


def test_readme_quickstart_prints_exactly_its_three_expected_lines(tmp_path):
    script = tmp_path / "quickstart.py"
    script.write_text(textwrap.dedent(README_QUICKSTART), encoding="utf-8")

    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "2 users, 3 orders\ncompleted\n4/4 tasks completed\n"
    assert result.stderr == ""


def test_readme_quickstart_also_passes_the_type_check(tmp_path):
    script = tmp_path / "quickstart_typed.py"
    script.write_text(
        textwrap.dedent(README_QUICKSTART).replace(
            "AstrumConfig(skip_type_check=True, silence_warnings=True)", "AstrumConfig()"
        ),
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["2 users, 3 orders", "completed", "4/4 tasks completed"]


def test_config_used_by_the_readme_is_accepted():
    config = AstrumConfig(skip_type_check=True, silence_warnings=True)
    assert config.skip_type_check is True
    assert config.silence_warnings is True
