import asyncio

from astrum import DynamicScheduler, TaskOrder


async def extract() -> dict:
    return {"rows": 100}


def load() -> None:
    print("loaded")


async def main() -> None:
    extract_order = TaskOrder("extract")
    load_order = TaskOrder("load", dependencies=[extract_order])  # TaskOrder objects or names
    scheduler = DynamicScheduler(
        tasks=[("extract", extract), ("load", load)],  # functions, not coroutine objects
        task_order=[extract_order, load_order],
        task_retries={"extract": 2},
        concurrency_context=None,  # or an asyncio.Semaphore
        ignore_tail_task=[],  # tasks the run does not wait for
    )
    report = await scheduler.execute()
    assert report.execution_state == "completed", report.error_summary
    stages = scheduler.get_execute_timeline().stages  # Astrum 0.1's levels, for display
    print([stage.start_tasks for stage in stages], scheduler.current_stage)
    assert [stage.start_tasks for stage in stages] == [["extract"], ["load"]]


asyncio.run(main())
