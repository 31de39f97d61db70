import asyncio

from astrum import run, task


@task("extract")
async def extract() -> dict:
    return {"rows": 100}


@task("load", depends_on=["extract"])
def load() -> None:  # sync tasks run in a worker thread
    print("loaded")


async def main() -> None:
    report = await run(target_tasks=["load"])
    assert report.execution_state == "completed", report.error_summary


asyncio.run(main())
