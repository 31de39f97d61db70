import asyncio

from astrum import SchedulerRegistry, TaskEvent

flow = SchedulerRegistry("stream_demo")


@flow.task()
async def download() -> bytes:
    await asyncio.sleep(0.02)
    return b"data"


@flow.task(depends_on=["download"])
def parse() -> int:
    return 4


async def main() -> None:
    async for event in flow.stream():
        if isinstance(event, TaskEvent):
            print(f"{event.kind:>12}  {event.task_id}")
        elif event.kind == "run_end":
            assert event.report.execution_state == "completed"


asyncio.run(main())
