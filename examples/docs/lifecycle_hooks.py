import asyncio

from astrum import AstrumConfig, Retry, RunHook, SchedulerRegistry, fn_hook


class Timings(RunHook):
    def __init__(self) -> None:
        self.durations: dict[str, float] = {}

    def on_task_success(self, event) -> None:
        self.durations[event.task_id] = event.end_time - event.start_time

    async def on_run_end(self, event) -> None:  # async methods are awaited
        print(f"run {event.run_id[:8]}: {event.report.execution_state}")


alerts = []
pager = fn_hook(on_task_retry=lambda e: alerts.append(f"{e.task_id} retry in {e.delay:.2f}s: {e.error}"))

flow = SchedulerRegistry("hook_demo")
tries = {"n": 0}


@flow.task(retry=Retry(2, delay=0.01))
async def fetch() -> int:
    tries["n"] += 1
    if tries["n"] == 1:
        raise ConnectionError("reset by peer")
    return 42


timings = Timings()
report = asyncio.run(flow.run(config=AstrumConfig(hooks=[timings, pager])))
assert report.execution_state == "completed"
assert set(timings.durations) == {"fetch"}
assert len(alerts) == 1
