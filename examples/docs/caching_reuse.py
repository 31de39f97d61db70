import asyncio

from astrum import Cache, F, MemoryStore, Ref, SchedulerRegistry

registry = SchedulerRegistry("prices")
calls = []


@registry.task("rates", cache=Cache(ttl=3600))  # reused for an hour
async def rates() -> dict:
    calls.append("rates")
    return {"EUR": 1.0, "USD": 1.08}


@registry.task("quote", cache=Cache())  # reused while rates give the same dict
def quote(rates: Ref[dict, F("rates")]) -> float:
    calls.append("quote")
    return round(100 * rates["USD"], 2)


async def main() -> None:
    store = MemoryStore()  # or SQLiteStore(".astrum/runs.db")
    first = await registry.run(store=store)
    second = await registry.run(store=store)

    assert calls == ["rates", "quote"]  # the second run ran no task body
    assert second.results == {"rates": {"EUR": 1.0, "USD": 1.08}, "quote": 108.0}
    assert [s.cache for s in first.task_statistics] == ["miss", "miss"]
    assert [s.cache for s in second.task_statistics] == ["hit", "hit"]
    print("second run:", [(s.task_name, s.cache) for s in second.task_statistics])


asyncio.run(main())
