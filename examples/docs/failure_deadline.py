import asyncio

from astrum import AstrumConfig, SchedulerRegistry

registry = SchedulerRegistry("deadline")


@registry.task()
async def quick() -> str:
    return "done"


@registry.task()
async def slow() -> None:
    await asyncio.sleep(60)


@registry.task(depends_on=["slow"])
async def after_slow() -> None: ...


async def main() -> None:
    report = await registry.run(config=AstrumConfig(deadline=0.5))
    print(report.error_summary[0])
    print({s.task_name: s.status for s in report.task_statistics})
    # {'quick': 'completed', 'slow': 'cancelled', 'after_slow': 'skipped'}
    assert report.execution_duration < 1.5


asyncio.run(main())
