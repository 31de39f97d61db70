import asyncio

from astrum import AstrumConfig, F, Ref, SchedulerRegistry

flow = SchedulerRegistry("docs_slow")


@flow.task("load")
async def load() -> dict:
    await asyncio.sleep(0.02)
    return {"a": 1, "b": 2}


@flow.task("summarise_a", pool="llm")
async def summarise_a(a: Ref[int, F("load", "a")]) -> int:
    await asyncio.sleep(0.03)
    return a


@flow.task("summarise_b", pool="llm")
async def summarise_b(b: Ref[int, F("load", "b")]) -> int:
    await asyncio.sleep(0.03)
    return b


@flow.task("thumbnail")
async def thumbnail() -> str:
    await asyncio.sleep(0.01)
    return "ok"


@flow.task("publish", depends_on=["thumbnail"])
async def publish(a: Ref[int, F("summarise_a")], b: Ref[int, F("summarise_b")]) -> int:
    return a + b


async def main() -> None:
    report = await flow.run(config=AstrumConfig(pools={"llm": 1}))
    print(report)
    assert report.execution_state == "completed", report.error_summary


asyncio.run(main())
