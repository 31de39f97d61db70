import asyncio

from astrum import SchedulerRegistry, run, task, use_namespace

with use_namespace("analytics"):

    @task()
    async def load_csv() -> list[str]:
        return ["id,amount", "1,9.50"]


billing = SchedulerRegistry("billing")


@billing.task("fetch_invoice")
async def fetch_invoice() -> dict:
    return {"invoice": "INV-7", "total": 42}


async def main() -> None:
    analytics_report = await run(namespace="analytics")
    billing_report = await billing.run()
    print(analytics_report.results["load_csv"], billing_report.results["fetch_invoice"])
    assert analytics_report.execution_state == billing_report.execution_state == "completed"


asyncio.run(main())
