import asyncio

from astrum import F, Ref, RunContext, SchedulerRegistry

flow = SchedulerRegistry("override_demo")


@flow.task()
async def fetch_prices(ctx: RunContext) -> dict[str, float]:
    raise RuntimeError("no network in tests")


@flow.task()
def convert(prices: Ref[dict[str, float], F("fetch_prices")], ctx: RunContext) -> dict[str, float]:
    raise RuntimeError("calls a currency service")


@flow.task()
def cheapest(prices: Ref[dict[str, float], F("convert")]) -> str:
    return min(prices, key=prices.get)


def fake_convert(prices, ctx):  # same parameters as convert
    return {name: price * ctx.metadata["rate"] for name, price in prices.items()}


test_flow = flow.override({"fetch_prices": {"tea": 3.0, "coffee": 2.5}, "convert": fake_convert})
report = asyncio.run(test_flow.run(context=RunContext(metadata={"rate": 2.0})))
assert report.task_return_set["convert"] == {"tea": 6.0, "coffee": 5.0}
assert report.task_return_set["cheapest"] == "coffee"
assert test_flow.list_tasks() == flow.list_tasks()
