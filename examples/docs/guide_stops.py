import asyncio

from astrum import SchedulerRegistry

flow = SchedulerRegistry("stops")


@flow.task()
async def check() -> None:
    raise RuntimeError("bad input")  # fails at once


@flow.task()
async def fetch() -> str:  # ready at the same moment: cancelled, never started
    await asyncio.sleep(1)
    return "rows"


@flow.task(depends_on=["fetch"])
async def store() -> None: ...  # its input never became ready: skipped


async def main() -> None:
    stopped = await flow.run()  # a failed run's report
    outcome = {s.task_name: (s.status, s.attempt_count) for s in stopped.task_statistics}
    print(outcome)
    assert outcome == {"check": ("failed", 1), "fetch": ("cancelled", 0), "store": ("skipped", 0)}


asyncio.run(main())
