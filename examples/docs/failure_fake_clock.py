import asyncio

from astrum import AstrumConfig, Retry, SchedulerRegistry
from astrum.testing import FakeClock

clock = FakeClock()
starts: list[float] = []
registry = SchedulerRegistry("fake_clock")


@registry.task(timeout=2.0, retry=Retry(retries=3, delay=1.0, backoff=2.0, jitter=0))
async def hangs() -> None:
    starts.append(clock.now())
    await clock.sleep(100)  # virtual: never really waits


async def main() -> None:
    report = await registry.run(config=AstrumConfig(clock=clock))
    assert starts == [0.0, 3.0, 7.0, 13.0]  # timeout 2, then delays 1, 2, 4
    assert [a.delay_before for a in report.task_statistics[0].attempt_statistics] == [0, 1, 2, 4]
    assert clock.now() == 15.0
    print("virtual seconds:", clock.now())


asyncio.run(main())
