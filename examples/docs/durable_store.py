import asyncio

from astrum import MemoryStore, SchedulerRegistry, SQLiteStore

etl = SchedulerRegistry("etl")


@etl.task()
async def extract() -> list[int]:
    return [3, 1, 2]


@etl.task(depends_on=["extract"])
async def check() -> None:
    raise ValueError("row 2 is malformed")


async def main() -> None:
    store = SQLiteStore(".astrum/runs.db")  # one file; created with its folders
    await etl.run(store=store)
    for summary in store.runs(namespace="etl", state="failed", limit=10):  # newest first
        print(summary.run_id, summary.state, f"{summary.completed}/{summary.total}")
    run_id = store.runs(namespace="etl")[0].run_id
    report = store.report(run_id)  # an ExecutionReport, rebuilt from the records
    values = store.results(run_id)  # {task: result} of the completed tasks
    print(report.execution_state, values)
    store.prune(older_than="30d")  # also "12h", "90m", seconds or a timedelta
    store.close()

    with MemoryStore() as memory:  # the same records, in memory
        assert (await etl.run(store=memory)).run_id == memory.runs()[0].run_id


asyncio.run(main())
