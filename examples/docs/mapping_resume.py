import asyncio

from astrum import AstrumConfig, F, MemoryStore, Ref, SchedulerRegistry

jobs = SchedulerRegistry("jobs")
calls = {"body": 0}
broken = {7, 42, 99}


@jobs.task()
def items() -> list[int]:
    return list(range(100))


@jobs.task(map="n")
async def square(n: Ref[int, F("items")]) -> int:
    calls["body"] += 1
    if n in broken:
        raise ValueError(f"item {n} is broken")
    return n * n


store = MemoryStore()


async def main() -> None:
    first = await jobs.run(config=AstrumConfig(failure_policy="continue"), store=store)
    broken.clear()
    again = await jobs.resume(first.run_id, store=store)
    assert calls["body"] == 103 and again.execution_state == "completed"


asyncio.run(main())
