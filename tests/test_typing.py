"""The decorators keep the decorated function's type (checked with mypy)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from mypy import api

SNIPPET = """
from astrum import SchedulerRegistry, task

registry = SchedulerRegistry("typed")

@task("load")
async def load(limit: int) -> list[str]:
    return []

@registry.task
def count(rows: list[str]) -> int:
    return len(rows)

@registry.task("named", retry=2)
def named(flag: bool) -> str:
    return str(flag)

reveal_type(load)
reveal_type(count)
reveal_type(named)
"""


def test_decorated_functions_keep_their_signatures(tmp_path: Path) -> None:
    module = tmp_path / "typed_tasks.py"
    module.write_text(textwrap.dedent(SNIPPET), encoding="utf-8")
    stdout, stderr, status = api.run(
        [str(module), "--strict", "--no-incremental", "--cache-dir", str(tmp_path / ".mypy_cache")]
    )
    assert status == 0, stdout + stderr
    revealed = [line for line in stdout.splitlines() if "Revealed type" in line]
    assert len(revealed) == 3, stdout
    plain = [line.replace("builtins.", "") for line in revealed]
    assert "def (limit: int) -> typing.Coroutine[Any, Any, list[str]]" in plain[0]
    assert "def (rows: list[str]) -> int" in plain[1]
    assert "def (flag: bool) -> str" in plain[2]
