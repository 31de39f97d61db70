import asyncio

from astrum import AstrumConfig, SchedulerRegistry

registry = SchedulerRegistry("policy")


@registry.task()
async def extract() -> list[int]:
    return [1, 2, 3]


@registry.task(depends_on=["extract"])
async def enrich() -> None:
    raise RuntimeError("enrichment service down")


@registry.task(depends_on=["enrich"])
async def load_enriched() -> None: ...


@registry.task(depends_on=["extract"])
async def load_raw() -> str:
    return "raw rows loaded"


async def main() -> None:
    report = await registry.run(config=AstrumConfig(failure_policy="continue"))
    for stat in report.task_statistics:
        print(f"{stat.task_name:14} {stat.status:9} caused_by={stat.caused_by}")
    assert report.results["load_raw"] == "raw rows loaded"
    assert report.execution_state == "failed"


asyncio.run(main())
