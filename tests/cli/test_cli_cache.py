"""``astrum cache list`` and ``astrum cache clear`` against runs of an app with a cached task."""

from __future__ import annotations

import textwrap

CACHED_APP = textwrap.dedent(
    """
    from pathlib import Path

    from astrum import Cache, F, Ref, SchedulerRegistry

    HERE = Path(__file__).parent
    registry = SchedulerRegistry("cached")


    def executed(task: str) -> None:
        with open(HERE / "executions.log", "a") as log:
            log.write(task + "\\n")


    @registry.task("fetch", cache=Cache(ttl=3600))
    def fetch() -> list:
        executed("fetch")
        return [1, 2, 3]


    @registry.task("total", cache=Cache())
    async def total(rows: Ref[list, F("fetch")]) -> int:
        executed("total")
        return sum(rows)
    """
)


def test_runs_reuse_cached_results_until_cache_clear_deletes_them(cli):
    (cli.cwd / "cached_app.py").write_text(CACHED_APP)
    assert cli("run", "cached_app:registry").returncode == 0
    second = cli("run", "cached_app:registry")
    assert second.returncode == 0, second.stderr
    assert cli.executions() == {"fetch": 1, "total": 1}  # the second run took both from the cache
    latest = cli("runs").stdout.splitlines()[2].split()[0]
    shown = cli("show", latest)
    assert shown.returncode == 0, shown.stderr
    assert [line for line in shown.stdout.splitlines() if "served from the cache" in line] != []

    listed = cli("cache", "list")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()[2:]] == ["total", "fetch"]

    cleared = cli("cache", "clear", "--task", "fetch")
    assert cleared.returncode == 0
    assert "Deleted 1 cache entry of task 'fetch' from .astrum/runs.db" in cleared.stdout
    assert "astrum cache list" in cleared.stdout

    assert cli("run", "cached_app:registry").returncode == 0
    assert cli.executions() == {"fetch": 2, "total": 1}  # same rows again: 'total' still hits

    everything = cli("cache", "clear")
    assert "Deleted 2 cache entries from" in everything.stdout
    assert "No cache entries in .astrum/runs.db." in cli("cache", "list").stdout


def test_cache_commands_on_a_missing_file_or_another_db(cli):
    assert "does not exist yet" in cli("cache", "list").stdout
    assert "Nothing to clear" in cli("cache", "clear").stdout
    (cli.cwd / "cached_app.py").write_text(CACHED_APP)
    assert cli("run", "cached_app:registry", "--db", "other.db").returncode == 0
    listed = cli("cache", "list", "--task", "total", "--db", "other.db")
    assert [line.split()[0] for line in listed.stdout.splitlines()[2:]] == ["total"]
    assert "astrum cache list --db other.db" in cli("cache", "clear", "--db", "other.db").stdout
