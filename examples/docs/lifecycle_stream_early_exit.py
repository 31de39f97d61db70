import asyncio
from contextlib import aclosing

from astrum import SchedulerRegistry

flow = SchedulerRegistry("early_exit_demo")


@flow.task()
async def first_answer() -> str:
    return "good enough"


@flow.task()
async def slow_second_opinion() -> str:
    await asyncio.sleep(60)
    return "too late"


async def main() -> str:
    async with aclosing(flow.stream()) as events:
        async for event in events:
            if event.kind == "task_success" and event.task_id == "first_answer":
                break
    assert asyncio.all_tasks() == {asyncio.current_task()}  # the slow task is gone
    return "done"


print(asyncio.run(main()))
