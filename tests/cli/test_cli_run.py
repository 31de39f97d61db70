"""``astrum run`` and ``astrum resume`` against an app module, through the real entry point."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

APP = "pipeline_app:registry"


def run_id_of(stdout: str) -> str:
    match = re.match(r"Run (\S+) ", stdout)
    assert match is not None, stdout
    return match.group(1)


def task_rows(show_stdout: str) -> dict[str, list[str]]:
    """The rows of the task table of ``astrum show``, by task."""
    names = ("extract", "audit", "transform", "load")
    return {
        line.split()[0]: line.split()[1:]
        for line in show_stdout.splitlines()
        if line.split()[:1] in [[n] for n in names]
    }


def test_run_fail_fix_resume_then_prune(cli):
    failed = cli("run", APP)
    run_id = run_id_of(failed.stdout)

    assert failed.returncode == 1, failed.stderr
    assert f"Run {run_id} failed: 2/4 tasks completed" in failed.stdout
    assert "transform: ValueError: bad row 2: the fix is not deployed" in failed.stdout
    assert f"astrum show {run_id}\n" in failed.stdout
    assert f"astrum resume {run_id} --app {APP}\n" in failed.stdout
    assert cli.executions() == {"extract": 1, "audit": 1, "transform": 1}

    listed = cli("runs")
    assert listed.stdout.splitlines()[2].split()[:3] == [run_id, "pipeline", "failed"]

    shown = cli("show", run_id[:8])
    assert shown.returncode == 0, shown.stderr
    table = {task: row[0] for task, row in task_rows(shown.stdout).items()}
    assert table == {"extract": "completed", "audit": "completed", "transform": "failed", "load": "skipped"}
    assert "Traceback (most recent call last)" in shown.stdout
    assert 'pipeline_app.py", line' in shown.stdout and "ValueError: bad row 2" in shown.stdout
    assert "Critical path: " in shown.stdout

    (cli.cwd / "fixed.flag").touch()  # the fix is deployed
    resumed = cli("resume", run_id, "--app", APP)
    new_id = run_id_of(resumed.stdout)

    assert resumed.returncode == 0, resumed.stderr
    assert f"Run {new_id} (resumes {run_id}) completed: 4/4 tasks completed (2 reused)" in resumed.stdout
    assert cli.executions() == {"extract": 1, "audit": 1, "transform": 2, "load": 1}
    runs = [line.split() for line in cli("runs").stdout.splitlines()[2:]]
    assert [row[:3] for row in runs] == [[new_id, "pipeline", "completed"], [run_id, "pipeline", "failed"]]
    assert runs[0][-1] == run_id  # the resumed run names the run it resumes
    reused = task_rows(cli("show", new_id).stdout)
    assert reused["extract"][-3:] == ["reused", "from", run_id] and "reused" not in reused["transform"]

    pruned = cli("prune", "--older-than", "0s")
    assert pruned.stdout.startswith("Deleted 2 runs older than 0s")
    assert "No runs in" in cli("runs").stdout


def test_run_targets_and_resume_from_rerun_only_what_they_name(cli):
    (cli.cwd / "fixed.flag").touch()
    partial = cli("run", APP, "--target", "extract", "audit")
    complete = cli("run", APP)
    again = cli("resume", run_id_of(complete.stdout)[:10], "--app", APP, "--from", "transform")

    assert partial.returncode == complete.returncode == again.returncode == 0, again.stderr
    assert "2/2 tasks completed" in partial.stdout
    assert "4/4 tasks completed (2 reused)" in again.stdout
    assert cli.executions() == {"extract": 2, "audit": 2, "transform": 2, "load": 2}


def test_run_finds_module_level_tasks_and_file_paths(cli):
    (cli.cwd / "jobs").mkdir()
    (cli.cwd / "jobs" / "nightly.py").write_text(
        textwrap.dedent(
            """
            from astrum import task

            @task("greet")
            def greet() -> str:
                return "hello"
            """
        )
    )

    by_path = cli("run", "jobs/nightly.py", "--db", "nightly.db")
    by_name = cli("run", f"{cli.cwd / 'pipeline_app.py'}:registry", "--target", "extract")

    assert by_path.returncode == 0, by_path.stderr
    assert "1/1 tasks completed" in by_path.stdout and "(namespace default)" in by_path.stdout
    assert "astrum show " in by_path.stdout and " --db nightly.db" in by_path.stdout
    assert (cli.cwd / "nightly.db").exists()
    assert by_name.returncode == 0, by_name.stderr


def test_mistakes_exit_2_with_one_message_and_no_traceback(cli):
    (cli.cwd / "broken_app.py").write_text(
        "from astrum import SchedulerRegistry\nregistry = SchedulerRegistry()\n1 / 0\n"
    )
    failed = cli("run", APP)
    run_id = run_id_of(failed.stdout)

    cases = {
        "cannot import module 'no_such_app'": cli("run", "no_such_app"),
        "has no attribute 'nope'": cli("run", "pipeline_app:nope"),
        "'pipeline_app:executed' is a function, not a SchedulerRegistry": cli("run", "pipeline_app:executed"),
        "registered no task in the 'default' namespace; name one of its registries: `astrum run pipeline_app:registry`": cli(
            "run", "pipeline_app"
        ),
        "Task 'nowhere' is not registered": cli("run", APP, "--target", "nowhere"),
        "'not-a-run'": cli("resume", "not-a-run", "--app", APP),
        "from ['nowhere']: the run has no such task": cli(
            "resume", run_id, "--app", APP, "--from", "nowhere"
        ),
    }
    broken = cli("run", "broken_app")

    for message, result in cases.items():
        assert result.returncode == 2, (message, result.stdout, result.stderr)
        assert result.stderr.startswith("astrum: ") and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert broken.returncode == 2
    assert broken.stderr.startswith(
        "astrum: importing 'broken_app' failed: ZeroDivisionError: division by zero"
    )
    assert 'broken_app.py", line 3' in broken.stderr  # the user's own frame, to find the mistake
    assert "importlib" not in broken.stderr


def test_ctrl_c_exits_130_and_the_run_is_recorded_cancelled(cli):
    (cli.cwd / "slow_app.py").write_text(
        textwrap.dedent(
            """
            import asyncio
            from pathlib import Path
            from astrum import SchedulerRegistry

            registry = SchedulerRegistry("slow")

            @registry.task("wait")
            async def wait() -> None:
                Path("started.flag").touch()
                await asyncio.sleep(60)
            """
        )
    )
    # A shell starts background commands with SIGINT ignored; restore Python's handler first.
    entry = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from astrum.cli._main import main; sys.exit(main())"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", entry, "run", "slow_app:registry"],
        cwd=cli.cwd,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not (cli.cwd / "started.flag").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 130
    assert stderr.startswith("astrum: interrupted; a run in progress is recorded as cancelled")
    assert cli("runs").stdout.splitlines()[2].split()[1:3] == ["slow", "cancelled"]


def test_run_progress_draws_the_run_on_a_terminal_and_nothing_when_piped(cli):
    piped = cli("run", APP, "--progress")
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "PYTHONPATH", "TERM")}
    env.update(FORCE_COLOR="1", COLUMNS="200", PYTHONIOENCODING="utf-8")  # rich takes the pipe for a terminal
    drawn = subprocess.run(
        [sys.executable, "-m", "astrum", "run", APP, "--progress"],
        cwd=cli.cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert piped.returncode == drawn.returncode == 1, piped.stderr + drawn.stderr
    assert " done · " not in piped.stdout and piped.stdout.startswith("Run ")
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn.stdout)
    assert re.search(
        r"4/4 done · 2 completed · 0 running · 0 waiting · 1 failed · 1 skipped · run failed", plain
    )
