import asyncio
from itertools import pairwise

from astrum import AstrumConfig, SchedulerRegistry
from astrum.testing import FakeClock

clock = FakeClock()  # the run's clock: instant here, the real one by default
flow = SchedulerRegistry("rate_demo")
starts = []


def request(i):
    async def call() -> int:
        starts.append(clock.now())
        await clock.sleep(2)  # the request in flight
        return i

    return call


for i in range(30):
    flow.register(request(i), f"get_{i}", pool="api")

config = AstrumConfig(pools={"api": 8}, rates={"api": "600/min"}, clock=clock)
report = asyncio.run(flow.run(config=config))
assert all(b - a >= 0.1 - 1e-9 for a, b in pairwise(starts))  # one start every 0.1 s
assert max(sum(t <= s < t + 1 for s in starts) for t in starts) <= 10  # any 1 s: at most 10
waits = [s.pool_queued_duration for s in report.task_statistics]
print(f"{len(starts)} requests, last one started at {max(starts):.1f}s, waited up to {max(waits):.1f}s")
