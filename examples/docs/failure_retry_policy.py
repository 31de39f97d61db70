import asyncio

from astrum import AstrumConfig, Retry, SchedulerRegistry

registry = SchedulerRegistry("retries")
calls = 0


@registry.task(
    retry=Retry(
        retries=4, delay=0.05, backoff=2.0, max_delay=1.0, jitter=0.1, on=(ConnectionError, TimeoutError)
    )
)
async def fetch_prices() -> dict:
    global calls
    calls += 1
    if calls <= 2:
        raise ConnectionResetError("connection dropped")
    return {"kettle": 29.0}


@registry.task(retry=Retry(retries=4, on=ConnectionError))
async def fetch_inventory() -> dict:
    raise ValueError("HTTP 500")  # not a ConnectionError: fails at once, one attempt


async def main() -> None:
    report = await registry.run(config=AstrumConfig(failure_policy="continue"))
    stats = {s.task_name: s for s in report.task_statistics}
    print([round(a.delay_before, 3) for a in stats["fetch_prices"].attempt_statistics])
    # e.g. [0.0, 0.052, 0.094]: no wait, then about 0.05 and 0.1 (±10 %)
    print(*report.error_summary, sep="\n")
    assert stats["fetch_prices"].status == "completed"
    assert stats["fetch_inventory"].attempt_count == 1


asyncio.run(main())
