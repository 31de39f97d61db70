import asyncio

from astrum import F, Ref, Retry, SchedulerRegistry

flow = SchedulerRegistry("docs_gantt")
calls = {"fetch": 0}


@flow.task("load")
async def load() -> list:
    await asyncio.sleep(0.02)
    return [1, 2, 3]


@flow.task("fetch", retry=Retry(retries=2, delay=0.01))
async def fetch(items: Ref[list, F("load")]) -> int:
    calls["fetch"] += 1
    await asyncio.sleep(0.02)
    if calls["fetch"] == 1:
        raise ConnectionError("503")
    return len(items)


async def main() -> None:
    report = await flow.run()
    gantt = report.to_mermaid_gantt()
    print(gantt)
    assert "fetch · attempt 1 failed :crit" in gantt


asyncio.run(main())
