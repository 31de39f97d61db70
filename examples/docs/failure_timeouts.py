import asyncio
import time

from astrum import AstrumConfig, SchedulerRegistry

registry = SchedulerRegistry("timeouts")


@registry.task(timeout=0.2)
async def stuck_call() -> None:
    await asyncio.sleep(60)  # cancelled after 0.2 s


@registry.task(timeout=0.2)
def blocking_call() -> None:
    time.sleep(2)  # given up after 0.2 s; the thread sleeps on


@registry.task()
async def independent() -> str:
    return "still done"


async def main() -> None:
    report = await registry.run(config=AstrumConfig(failure_policy="continue"))
    for stat in report.task_statistics:
        print(f"{stat.task_name:14} {stat.status:10} {stat.error_message}")
    assert report.failed_tasks == 2 and report.results == {"independent": "still done"}


asyncio.run(main())
