import asyncio

from astrum import SchedulerRegistry


def spin() -> None:  # module level: the worker imports it by reference
    while True:
        pass


def crunch(n: int = 2_000_000) -> int:
    return sum(i * i for i in range(n))


async def main() -> None:
    registry = SchedulerRegistry("processes")
    registry.register(spin, isolation="process", timeout=0.5)
    registry.register(crunch, isolation="process", timeout=30)
    report = await registry.run()
    print(report.task_statistics[0].error_message)
    assert {s.task_name: s.status for s in report.task_statistics}["spin"] == "timed_out"


if __name__ == "__main__":  # required, as for multiprocessing
    asyncio.run(main())
