import asyncio

from astrum import DynamicScheduler, Retry, TaskOrder


async def fetch() -> str:
    await asyncio.sleep(60)


async def report_rows() -> str:
    return "report"


async def main() -> None:
    scheduler = DynamicScheduler(
        [("fetch", fetch), ("report_rows", report_rows)],
        [TaskOrder("fetch"), TaskOrder("report_rows")],
        task_retries={"fetch": Retry(retries=1, delay=0.1)},  # an int or a Retry
        task_timeouts={"fetch": 0.2},
        task_isolation={},  # e.g. {"fetch": "process"}
        failure_policy="continue",
        deadline=5.0,
        clock=None,  # or a FakeClock
    )
    report = await scheduler.execute()
    print({s.task_name: s.status for s in report.task_statistics})


asyncio.run(main())
