import asyncio

import astrum
from astrum import F, Ref, SQLiteStore

registry = astrum.get_registry("etl")  # the tasks of namespace "etl"
flaky = {"clean": 1}  # clean fails once


@registry.task()
async def extract() -> list[int]:
    return [3, 1, 2]


@registry.task()
async def clean(rows: Ref[list[int], F("extract")]) -> list[int]:
    if flaky["clean"]:
        flaky["clean"] -= 1
        raise ConnectionError("database went away")
    return sorted(rows)


async def main() -> None:
    with SQLiteStore(".astrum/runs.db") as store:
        run_id = (await registry.run(store=store)).run_id  # clean fails

        report = await astrum.resume(run_id, store=store)  # the run's namespace
        print(report.resumed_from == run_id, report.reused_tasks)  # True ('extract',)
        assert report.execution_state == "completed"

        report = await registry.resume(run_id, store=store)  # or a registry of your own
        report = await registry.resume(run_id, from_tasks=["clean"], store=store)  # clean runs again
        assert report.reused_tasks == ("extract",)


asyncio.run(main())
