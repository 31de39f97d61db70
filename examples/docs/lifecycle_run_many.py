import asyncio

from astrum import RunContext, SchedulerRegistry

flow = SchedulerRegistry("batch_demo")


@flow.task()
async def answer(ctx: RunContext) -> str:
    await asyncio.sleep(0.01)
    return ctx.metadata["question"].upper()


async def questions():
    for q in ["what is a dag?", "why async?", "what is a pool?"]:
        yield RunContext(metadata={"question": q})


async def main() -> None:
    reports = await flow.run_many(questions(), concurrency=2)
    assert [r.task_return_set["answer"] for r in reports] == [
        "WHAT IS A DAG?",
        "WHY ASYNC?",
        "WHAT IS A POOL?",
    ]


asyncio.run(main())
