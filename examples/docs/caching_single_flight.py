import asyncio

from astrum import Cache, MemoryStore, SchedulerRegistry

shared = SchedulerRegistry("shared")
bodies = []


@shared.task("embeddings", cache=Cache())
async def embeddings() -> list:
    bodies.append(1)
    await asyncio.sleep(0.05)
    return [0.1, 0.2]


async def main() -> None:
    store = MemoryStore()
    one, two = await asyncio.gather(shared.run(store=store), shared.run(store=store))
    assert len(bodies) == 1 and one.results == two.results
    assert sorted([one.task_statistics[0].cache, two.task_statistics[0].cache]) == ["hit", "miss"]
    print("computed once; the other run read it:", one.task_statistics[0].cache, two.task_statistics[0].cache)


asyncio.run(main())
