import asyncio

import astrum
from astrum import AstrumConfig, SchedulerRegistry, SQLiteStore

registry = SchedulerRegistry("etl")


@registry.task()
async def extract() -> list[int]:
    return [3, 1, 2]


async def main() -> None:
    with SQLiteStore(".astrum/runs.db") as store:
        report = await registry.run(store=store)  # this run is recorded
        print(report.run_id)  # its id in the store
        recorded = [report.run_id]

        config = AstrumConfig(store=store)  # every run built with this config is recorded
        report = await registry.run(config=config)
        recorded.append(report.run_id)

        with astrum.use_namespace("etl"):

            @astrum.task()
            async def load() -> str:
                return "loaded"

        report = await astrum.run(namespace="etl", store=store)  # module-level run() too
        recorded.append(report.run_id)
        assert set(recorded) <= {summary.run_id for summary in store.runs(namespace="etl")}


asyncio.run(main())
