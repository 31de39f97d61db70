import asyncio
from concurrent.futures import ProcessPoolExecutor

from astrum import AstrumConfig, F, Ref, SchedulerRegistry

flow = SchedulerRegistry("crunching")


@flow.task(executor="cpu")
def crunch() -> int:
    return sum(i * i for i in range(1_000_000))


@flow.task(executor="cpu")
def report(total: Ref[int, F("crunch")]) -> str:
    return f"total: {total}"


async def main() -> None:
    with ProcessPoolExecutor(2) as cpu:
        result = await flow.run(config=AstrumConfig(executors={"cpu": cpu}))
    print(result.results["report"])
    assert result.execution_state == "completed", result.error_summary


if __name__ == "__main__":  # the pool's worker processes may import this module
    asyncio.run(main())
