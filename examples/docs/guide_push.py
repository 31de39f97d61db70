import asyncio

from astrum import Ref, SchedulerRegistry, T

flow = SchedulerRegistry("push")


@flow.task()
def split() -> Ref[dict, T("report", "total", "amount")]:
    return {"total": 42}


@flow.task()
def report(amount: int) -> str:
    return f"total={amount}"


async def main() -> None:
    result = await flow.run()
    print(result.results["report"])
    assert result.results["report"] == "total=42"


asyncio.run(main())
