# --8<-- [start:tasks]
import asyncio

from astrum import F, Ref, Retry, SchedulerRegistry

shop = SchedulerRegistry("quickstart")


@shop.task()
async def load_order() -> dict:
    await asyncio.sleep(0.05)  # a database call
    return {"id": "A-17", "items": ["tea", "scone"], "email": "mia@example.com"}


@shop.task()
async def load_prices() -> dict[str, float]:
    await asyncio.sleep(0.02)  # another service, called at the same time
    return {"tea": 3.5, "scone": 2.75}


# --8<-- [end:tasks]
# --8<-- [start:data]
@shop.task()
def total(items: Ref[list, F("load_order", "items")], prices: Ref[dict, F("load_prices")]) -> float:
    return sum(prices[item] for item in items)  # a plain function: runs in a worker thread


# --8<-- [end:data]
# --8<-- [start:retry]
attempts = {"send_receipt": 0}


@shop.task(retry=Retry(retries=2, delay=0.05))
async def send_receipt(email: Ref[str, F("load_order", "email")], amount: Ref[float, F("total")]) -> str:
    attempts["send_receipt"] += 1
    if attempts["send_receipt"] == 1:
        raise ConnectionError("mail server busy")  # the first attempt fails; the retry succeeds
    return f"sent {amount:.2f} to {email}"


# --8<-- [end:retry]
# --8<-- [start:run]
async def main() -> None:
    report = await shop.run()
    print(report.execution_state)
    print(report.results["send_receipt"])
    print("critical path:", " -> ".join(report.critical_path))
    print(*report.error_summary, sep="\n")


asyncio.run(main())
# --8<-- [end:run]
