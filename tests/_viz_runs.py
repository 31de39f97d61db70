"""Runs with a known shape for the visualisation tests, timed on a FakeClock (instant, exact).

``pipeline_report()``, in virtual milliseconds (pool ``llm`` holds one task at a time)::

    load_users   0 ─ 50 ──────┐
    load_orders  0 ─ 20 ┐     summarise: waits for the pool until 80, attempt 1 80 ─ 120 fails,
                        │       30 backoff, attempt 2 150 ─ 190 ── publish 190 ─ 200
                        ├ classify 20 ─ 80 (pool llm) ┘ (ordering only)
                        └ broken fails at 20 ── after_broken skipped

The critical path is load_users → summarise → publish; classify and load_orders have
110 ms of slack each.
"""

from __future__ import annotations

from astrum import AstrumConfig, ExecutionReport, F, Ref, Retry, SchedulerRegistry
from astrum.testing import FakeClock

ERROR_TEXT = "<script>alert('x')</script> & more"


def pipeline_registry(clock: FakeClock) -> SchedulerRegistry:
    reg = SchedulerRegistry("viz_pipeline")
    calls = {"summarise": 0}

    @reg.task("load_users")
    async def load_users() -> dict:
        await clock.sleep(0.05)
        return {"users": ["ada", "bob"]}

    @reg.task("load_orders")
    async def load_orders() -> dict:
        await clock.sleep(0.02)
        return {"orders": ["A-1"]}

    @reg.task("summarise", pool="llm", retry=Retry(retries=2, delay=0.03, jitter=0))
    async def summarise(users: Ref[list, F("load_users", "users")]) -> str:
        calls["summarise"] += 1
        await clock.sleep(0.04)
        if calls["summarise"] == 1:
            raise ConnectionError("llm answered 503")
        return f"{len(users)} users"

    @reg.task("classify", pool="llm")
    async def classify(orders: Ref[list, F("load_orders", "orders")]) -> str:
        await clock.sleep(0.06)
        return "retail"

    @reg.task("publish", depends_on=["classify"])
    async def publish(summary: Ref[str, F("summarise")]) -> str:
        await clock.sleep(0.01)
        return summary

    @reg.task("broken")
    async def broken(orders: Ref[list, F("load_orders", "orders")]) -> int:
        raise ValueError(ERROR_TEXT)

    @reg.task("after_broken")
    async def after_broken(value: Ref[int, F("broken")]) -> int:
        return value

    return reg


async def pipeline_report() -> ExecutionReport:
    clock = FakeClock()
    config = AstrumConfig(pools={"llm": 1}, failure_policy="continue", clock=clock)
    return await pipeline_registry(clock).run(config=config)


async def cancelled_report() -> ExecutionReport:
    """``slow`` is running when ``fails`` fails: ``slow`` is cancelled, ``after`` skipped."""
    clock = FakeClock()
    reg = SchedulerRegistry("viz_cancelled")

    @reg.task("slow")
    async def slow() -> int:
        await clock.sleep(1.0)
        return 1

    @reg.task("fails")
    async def fails() -> int:
        await clock.sleep(0.1)
        raise RuntimeError("boom")

    @reg.task("after")
    async def after(value: Ref[int, F("fails")]) -> int:
        return value

    return await reg.run(config=AstrumConfig(clock=clock))
