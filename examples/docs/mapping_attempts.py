import asyncio

from astrum import F, Ref, SchedulerRegistry

flaky = SchedulerRegistry("flaky")
tries: dict[int, int] = {}


@flaky.task()
def items() -> list[int]:
    return [1, 2, 3]


@flaky.task(map="n", retry=2, timeout=5.0)
async def call(n: Ref[int, F("items")]) -> int:
    tries[n] = tries.get(n, 0) + 1
    if n == 2 and tries[n] == 1:
        raise ConnectionError("try again")
    return n * 10


async def main() -> None:
    report = await flaky.run()
    stats = {s.task_name: s for s in report.task_statistics}
    assert stats["call[1]"].attempt_count == 2 and stats["call[0]"].attempt_count == 1


asyncio.run(main())
