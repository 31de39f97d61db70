"""Live progress: AstrumConfig(progress=...) draws a run with rich while it goes."""

import asyncio
import io
import logging
import re
import sys

import pytest
from rich.console import Console

import astrum.viz._progress as progress_module
from astrum import AstrumConfig, ConfigurationTypeError, Retry, SchedulerRegistry
from astrum.viz import ProgressHook


def _console(terminal: bool = True) -> Console:
    return Console(record=True, force_terminal=terminal, width=100, file=io.StringIO())


def _progress_of(scheduler) -> ProgressHook:
    (hook,) = [h for h in scheduler.hooks if isinstance(h, ProgressHook)]
    return hook


async def _until(condition, limit: float = 2.0) -> None:
    """Wait (on the loop) until ``condition()`` holds; the hooks hear events in a dispatcher task."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not condition():
        assert loop.time() < end, "the progress display never caught up"
        await asyncio.sleep(0.005)


def _four_tasks(reg: SchedulerRegistry, seen: dict) -> None:
    calls = {"flaky": 0}

    @reg.task()
    async def load() -> int:
        return 1

    @reg.task(retry=Retry(2, delay=0.001))
    async def flaky() -> int:
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise ConnectionError("first call fails")
        return 2

    @reg.task(depends_on=["load", "flaky"])
    async def slow_step() -> int:
        hook = seen["hook"]
        await _until(lambda: "slow_step" in hook.running)
        seen["frame"] = seen["console"].export_text(clear=False)
        seen["running"] = dict(hook.running)
        return 3

    @reg.task(depends_on=["slow_step"])
    def finish() -> int:
        return 4


async def test_running_tasks_show_while_they_run_and_the_final_frame_counts_every_task():
    console = _console()
    reg = SchedulerRegistry("progress_counts")
    seen: dict = {"console": console}
    _four_tasks(reg, seen)
    scheduler = reg.build_scheduler(config=AstrumConfig(progress=console))
    seen["hook"] = hook = _progress_of(scheduler)

    report = await scheduler.execute()

    assert report.execution_state == "completed"
    assert set(seen["running"]) == {"slow_step"}
    assert not hook.drawing
    assert hook.counts["completed"] == 4 and hook.retries == 1 and not hook.running
    last_frame = console.export_text().rsplit("done", 1)[-1]
    assert last_frame.split() == "· 4 completed · 0 running · 0 waiting · 1 retries · run completed".split()


async def test_the_display_redraws_running_tasks_with_their_elapsed_time():
    console = _console()
    reg = SchedulerRegistry("progress_elapsed")
    seen: dict = {}

    @reg.task()
    async def long_call() -> int:
        # the display thread redraws a few times per second: wait for a frame that lists this task
        await _until(lambda: re.search(r"long_call +\d+\.\d s", console.export_text(clear=False)))
        seen["frame"] = console.export_text(clear=False)
        return 1

    scheduler = reg.build_scheduler(config=AstrumConfig(progress=console))

    await scheduler.execute()

    assert "1/1 done" not in seen["frame"] and "0/1 done · 0 completed · 1 running" in seen["frame"]


async def test_the_display_stops_after_a_failing_run():
    console = _console()
    reg = SchedulerRegistry("progress_failure")

    @reg.task()
    async def broken() -> int:
        raise ValueError("bad input")

    @reg.task(depends_on=["broken"])
    async def after() -> int:
        return 1

    scheduler = reg.build_scheduler(config=AstrumConfig(progress=console))
    hook = _progress_of(scheduler)

    report = await scheduler.execute()

    assert report.execution_state == "failed"
    assert not hook.drawing and hook.counts["failed"] == 1 and hook.counts["skipped"] == 1
    assert console.export_text().rsplit("done", 1)[-1].split() == (
        "· 0 completed · 0 running · 0 waiting · 1 failed · 1 skipped · run failed".split()
    )


async def test_the_display_stops_when_the_run_is_cancelled():
    console = _console()
    reg = SchedulerRegistry("progress_cancel")
    started = asyncio.Event()

    @reg.task()
    async def forever() -> int:
        started.set()
        await asyncio.sleep(60)
        return 1

    scheduler = reg.build_scheduler(config=AstrumConfig(progress=console))
    hook = _progress_of(scheduler)
    stdout = sys.stdout
    running = asyncio.ensure_future(scheduler.execute())
    await started.wait()
    await _until(lambda: hook.drawing and "forever" in hook.running)

    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

    assert not hook.drawing and not hook.running
    assert console.export_text().rsplit("done", 1)[-1].split() == (
        "· 0 completed · 0 running · 0 waiting · 1 cancelled · run cancelled".split()
    )
    assert sys.stdout is stdout  # the display's redirection of stdout is undone


async def test_nothing_is_drawn_when_the_console_is_not_a_terminal():
    console = _console(terminal=False)
    reg = SchedulerRegistry("progress_piped")

    @reg.task()
    async def only() -> int:
        return 1

    scheduler = reg.build_scheduler(config=AstrumConfig(progress=console))
    report = await scheduler.execute()

    assert report.execution_state == "completed"
    assert not [h for h in scheduler.hooks if isinstance(h, ProgressHook)]
    assert console.export_text() == ""


async def test_progress_true_draws_nothing_when_stdout_is_not_a_terminal(capsys):
    reg = SchedulerRegistry("progress_stdout_piped")

    @reg.task()
    async def only() -> int:
        return 1

    scheduler = reg.build_scheduler(config=AstrumConfig(progress=True))

    assert scheduler.hooks == [] and scheduler.progress is None
    assert (await scheduler.execute()).execution_state == "completed"
    assert capsys.readouterr().out == ""


def test_forced_progress_draws_even_when_stdout_is_not_a_terminal():
    hook = progress_module.progress_hook("force")

    assert isinstance(hook, ProgressHook) and hook.console.is_terminal


def test_progress_true_without_rich_warns_once_and_runs_without_a_display(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "rich", None)
    monkeypatch.setitem(sys.modules, "rich.console", None)
    monkeypatch.setattr(progress_module, "_warned_missing_rich", False)
    caplog.set_level(logging.WARNING, logger="astrum")
    reg = SchedulerRegistry("progress_no_rich")

    @reg.task()
    async def only() -> int:
        return 1

    first = reg.build_scheduler(config=AstrumConfig(progress=True))
    second = reg.build_scheduler(config=AstrumConfig(progress=True))

    assert first.hooks == second.hooks == []
    warnings = [r.getMessage() for r in caplog.records if "progress" in r.getMessage()]
    assert warnings == [
        'progress=True draws nothing: Visualisation needs the rich package: pip install "astrum[viz]"'
    ]
    assert asyncio.run(first.execute()).execution_state == "completed"


def test_forced_progress_without_rich_names_the_extra_at_build_time(monkeypatch):
    monkeypatch.setitem(sys.modules, "rich", None)
    monkeypatch.setitem(sys.modules, "rich.console", None)
    reg = SchedulerRegistry("progress_forced_no_rich")

    @reg.task()
    async def only() -> int:
        return 1

    with pytest.raises(ImportError, match=r'pip install "astrum\[viz\]"'):
        reg.build_scheduler(config=AstrumConfig(progress="force"))


def test_a_bad_progress_value_says_what_it_takes():
    with pytest.raises(ConfigurationTypeError, match=r"progress=\.\.\.\) takes True, False, 'force'"):
        AstrumConfig(progress="yes")
