import asyncio

from astrum import AstrumConfig, SchedulerRegistry

flow = SchedulerRegistry("docs_progress")


@flow.task("fetch")
async def fetch() -> int:
    await asyncio.sleep(0.05)
    return 1


async def main() -> None:
    report = await flow.run(config=AstrumConfig(progress=True))  # drawn only on a terminal
    assert report.execution_state == "completed", report.error_summary


asyncio.run(main())
