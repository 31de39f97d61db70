import asyncio
import time

from astrum import RunContext, SchedulerRegistry

flow = SchedulerRegistry("cancel_demo")


@flow.task()
def crunch(ctx: RunContext) -> int:
    total = 0
    while True:  # would never end on its own
        ctx.raise_if_cancelled()
        total += 1
        time.sleep(0.01)


@flow.task()
async def fails() -> None:
    await asyncio.sleep(0.05)
    raise RuntimeError("upstream is down")


report = asyncio.run(flow.run())
assert report.execution_state == "failed"
assert {s.task_name: s.status for s in report.task_statistics}["crunch"] == "cancelled"
