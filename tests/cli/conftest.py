"""Fixtures of the CLI tests: the real ``astrum`` entry point in a subprocess, run in tmp_path."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

#: An app module the tests write into tmp_path: a failing step that a flag file fixes, and a
#: log with one line per task body execution.
PIPELINE_APP = textwrap.dedent(
    """
    from pathlib import Path

    from astrum import F, Ref, SchedulerRegistry

    HERE = Path(__file__).parent
    registry = SchedulerRegistry("pipeline")


    def executed(task: str) -> None:
        with open(HERE / "executions.log", "a") as log:
            log.write(task + "\\n")


    @registry.task("extract")
    async def extract() -> dict:
        executed("extract")
        return {"rows": [1, 2, 3]}


    @registry.task("audit")
    def audit() -> str:
        executed("audit")
        return "audited"


    @registry.task("transform", depends_on=["audit"])
    async def transform(rows: Ref[list, F("extract", "rows")]) -> list:
        executed("transform")
        if not (HERE / "fixed.flag").exists():
            raise ValueError("bad row 2: the fix is not deployed")
        return [row * 10 for row in rows]


    @registry.task("load")
    async def load(rows: Ref[list, F("transform")]) -> int:
        executed("load")
        return sum(rows)
    """
)


class Cli:
    """Runs ``python -m astrum ARGS`` in ``cwd`` with this interpreter; output piped, as text."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "PYTHONPATH")}
        env["PYTHONIOENCODING"] = "utf-8"
        result = subprocess.run(
            [sys.executable, "-m", "astrum", *args],
            cwd=self.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "\x1b" not in result.stdout + result.stderr, "piped output must not hold escape sequences"
        return result

    def executions(self) -> Counter[str]:
        """How many times each task body ran in this folder."""
        log = self.cwd / "executions.log"
        return Counter(log.read_text().split()) if log.exists() else Counter()


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """The CLI, run in tmp_path, where ``pipeline_app.py`` is written."""
    (tmp_path / "pipeline_app.py").write_text(PIPELINE_APP)
    return Cli(tmp_path)
