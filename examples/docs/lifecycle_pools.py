import asyncio

from astrum import AstrumConfig, SchedulerRegistry

flow = SchedulerRegistry("pool_demo")
in_flight = {"now": 0, "peak": 0}


def llm_call(i):
    async def call() -> str:
        in_flight["now"] += 1
        in_flight["peak"] = max(in_flight["peak"], in_flight["now"])
        await asyncio.sleep(0.05)
        in_flight["now"] -= 1
        return f"answer {i}"

    return call


for i in range(6):
    flow.register(llm_call(i), f"ask_{i}", pool="llm")


@flow.task()
async def local_work() -> int:  # not in a pool: starts at once
    return 1


report = asyncio.run(flow.run(config=AstrumConfig(pools={"llm": 2})))
assert in_flight["peak"] == 2
for stat in report.task_statistics:
    print(f"{stat.task_name:<10} pool={stat.pool} waited {stat.pool_queued_duration:.2f}s")
