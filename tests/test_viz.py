"""Quiet by default (D19), visualisation on request (section 7), and astrum.viz.print_report."""

import logging
import subprocess
import sys

import pytest

import astrum
from astrum import AstrumConfig, F, Ref, SchedulerRegistry, build_scheduler, build_task_orders, run, task
from astrum.viz import print_report

INSTALL_HINT = 'pip install "astrum[viz]"'


@pytest.fixture(autouse=True)
def _clean_registry():
    astrum.clear_registry()
    yield
    astrum.clear_registry()


@pytest.fixture
def no_rich(monkeypatch):
    """Make rich unimportable for the duration of a test."""
    monkeypatch.setitem(sys.modules, "rich", None)
    monkeypatch.setitem(sys.modules, "rich.console", None)


def _workflow(reg: SchedulerRegistry) -> None:
    @reg.task()
    async def fetch() -> dict:
        return {"v": 2, "w": [1]}

    @reg.task()
    def untyped():  # no return annotation: upstream warned about it on every build
        return 5

    @reg.task()
    async def shape(v: Ref[int, F("fetch", "v")], u: Ref[int, F("untyped")]) -> int:
        return v + u

    @reg.task(depends_on=["shape"])
    def finish(w: Ref[list, F("fetch", "w")]) -> int:
        return len(w)


# -- quiet by default (D19) ------------------------------------------------------------------


async def test_default_build_and_run_print_and_warn_nothing(capsys, caplog):
    caplog.set_level(logging.WARNING)
    reg = SchedulerRegistry("quiet")
    _workflow(reg)

    reg.build_task_orders()
    reg.build_scheduler()
    report = await reg.run()

    assert report.execution_state == "completed"
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""
    assert caplog.records == []


async def test_module_level_build_and_run_are_quiet_too(capsys, caplog):
    caplog.set_level(logging.WARNING)
    _workflow(astrum.get_registry())

    build_task_orders()
    await build_scheduler().execute()
    await run()

    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "")
    assert caplog.records == []


async def test_a_failing_run_prints_nothing_and_logs_only_to_the_astrum_logger(capsys, caplog):
    caplog.set_level(logging.DEBUG)
    reg = SchedulerRegistry("failing")

    @reg.task()
    def explode() -> None:
        raise RuntimeError("kaboom")

    report = await reg.run()

    assert report.execution_state == "failed"
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "")
    astrum_records = [r for r in caplog.records if r.name == "astrum" or r.name.startswith("astrum.")]
    assert astrum_records, "a failed run should be logged through the 'astrum' logger"
    assert all(r.levelno < logging.WARNING for r in astrum_records)


def test_importing_astrum_does_not_import_rich():
    code = "import sys, astrum, astrum.viz, astrum.data_transport; print('rich' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


async def test_default_builds_work_without_rich(no_rich):
    reg = SchedulerRegistry("no_rich_default")
    _workflow(reg)
    assert (await reg.run()).execution_state == "completed"


# -- visualize=True --------------------------------------------------------------------------


async def test_visualize_prints_the_tree_and_the_data_transport_matrix(capsys):
    reg = SchedulerRegistry("viz")
    _workflow(reg)

    report = await reg.run(config=AstrumConfig(visualize=True))

    assert report.execution_state == "completed"
    out = capsys.readouterr().out
    assert "Astrum Execution Plan" in out
    assert "Astrum DAG" in out
    assert "Data Transport Matrix" in out
    for name in ["fetch", "untyped", "shape", "finish"]:
        assert name in out
    assert "'v'" in out  # the keyed relation fetch.v -> shape.v


async def test_module_level_visualize_flags_print(capsys):
    _workflow(astrum.get_registry())

    build_task_orders(visualize=True)
    out = capsys.readouterr().out
    assert "Data Transport Matrix" in out

    build_scheduler(visualize=True)
    assert "Data Transport Matrix" in capsys.readouterr().out

    await run(visualize=True)
    assert "Data Transport Matrix" in capsys.readouterr().out


def test_visualize_without_rich_raises_an_import_error_with_the_install_hint(no_rich):
    reg = SchedulerRegistry("viz_no_rich")
    _workflow(reg)

    with pytest.raises(ImportError) as info:
        reg.build_task_orders(config=AstrumConfig(visualize=True))
    assert INSTALL_HINT in str(info.value)


async def test_run_with_visualize_without_rich_raises_before_running_anything(no_rich):
    calls: list[str] = []
    task("only")(lambda: calls.append("ran"))

    with pytest.raises(ImportError, match=r'pip install "astrum\[viz\]"'):
        await run(visualize=True)
    assert calls == []


# -- print_report ----------------------------------------------------------------------------


async def test_print_report_lists_every_task_and_the_critical_path(capsys):
    reg = SchedulerRegistry("report")
    _workflow(reg)
    report = await reg.run()
    capsys.readouterr()

    print_report(report)

    out = capsys.readouterr().out
    for stat in report.task_statistics:
        assert stat.task_name in out
    assert "Critical path" in out
    assert report.critical_path
    assert " → ".join(report.critical_path) in out
    assert "completed" in out


async def test_print_report_of_a_failed_run_shows_the_failure(capsys):
    reg = SchedulerRegistry("report_failed")

    @reg.task()
    def ok() -> int:
        return 1

    @reg.task(depends_on=["ok"])
    def bad() -> None:
        raise ValueError("nope")

    report = await reg.run()
    capsys.readouterr()
    print_report(report)

    out = capsys.readouterr().out
    assert "ok" in out
    assert "bad" in out
    assert "failed" in out


async def test_print_report_without_rich_raises_the_install_hint(no_rich):
    reg = SchedulerRegistry("report_no_rich")
    reg.task("a")(lambda: None)
    report = await reg.run()

    with pytest.raises(ImportError) as info:
        print_report(report)
    assert INSTALL_HINT in str(info.value)
