import asyncio

from astrum import F, Ref, SchedulerRegistry, SQLiteStore

flow = SchedulerRegistry("nightly")
calls = []


@flow.task("download")
async def download() -> list:
    calls.append("download")
    return [3, 1, 2]


@flow.task("publish")
async def publish(rows: Ref[list, F("download")]) -> str:
    calls.append("publish")
    if calls.count("publish") == 1:
        raise ConnectionError("CDN unreachable")  # the first try fails
    return f"published {sorted(rows)}"


async def main() -> None:
    with SQLiteStore(".astrum/runs.db") as store:  # one file; nothing to install or start
        first = await flow.run(store=store)
        print(first.execution_state, first.run_id == store.runs()[0].run_id)
        again = await flow.resume(first.run_id, store=store)  # download is reused, publish runs
        print(again.execution_state, again.results["publish"], calls)


asyncio.run(main())
