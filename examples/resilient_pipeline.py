"""A product-ranking pipeline that survives flaky APIs.

Three upstream services feed a ranking job, and each misbehaves differently:

    fetch_prices      drops the connection twice, then answers
                      -> Retry with exponential backoff, only on connection errors
    fetch_reviews     hangs on the first call, then answers quickly
                      -> timeout per attempt, and a retry after it
    fetch_inventory   answers HTTP 500: a real error, not worth retrying
                      -> Retry(on=...) does not retry it; it fails at once

    score_products    CPU-bound scoring of prices and reviews
                      -> isolation="process": a worker process, killed if it overruns
    publish_ranking   needs score_products
    restock_report    needs fetch_inventory -> skipped, naming the failed task

With ``failure_policy="continue"`` the ranking is published although the
inventory service is down; only what depends on the inventory is skipped. A
``deadline`` bounds the whole run.

Run it::

    python examples/resilient_pipeline.py

Process isolation sends ``score_products`` to a worker process by reference,
so it is defined at module level and the script keeps its work under
``if __name__ == "__main__":`` (the same rule as for ``multiprocessing``).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter

from astrum import AstrumConfig, F, Ref, Retry, SchedulerRegistry

CALLS: Counter[str] = Counter()


class ApiError(Exception):
    """The service answered with an error status (retrying will not help)."""

    def __init__(self, status: int, service: str) -> None:
        super().__init__(f"{service} answered HTTP {status}")
        self.status = status


# -- the flaky services (simulated) ------------------------------------------------------------


async def fetch_prices() -> dict[str, float]:
    """Drops the connection on the first two calls."""
    CALLS["prices"] += 1
    await asyncio.sleep(0.01)
    if CALLS["prices"] <= 2:
        raise ConnectionResetError("prices service closed the connection")
    return {"kettle": 29.0, "toaster": 45.5, "blender": 79.9, "grinder": 55.0}


async def fetch_reviews() -> dict[str, list[int]]:
    """Hangs on the first call (a stuck upstream), answers at once afterwards."""
    CALLS["reviews"] += 1
    if CALLS["reviews"] == 1:
        await asyncio.sleep(60)
    return {"kettle": [5, 4, 5], "toaster": [3, 2, 4], "blender": [5, 5, 4, 5], "grinder": [4]}


async def fetch_inventory() -> dict[str, int]:
    """The inventory service is down."""
    CALLS["inventory"] += 1
    await asyncio.sleep(0.01)
    raise ApiError(500, "inventory")


# -- the work --------------------------------------------------------------------------------------


def score_products(
    prices: Ref[dict, F("fetch_prices")], reviews: Ref[dict, F("fetch_reviews")]
) -> dict[str, object]:
    """CPU-bound scoring; runs in a worker process (module level, so it can be sent there).

    The score is a rating shrunk towards zero for few reviews, minus a price
    penalty; ``simulate_model`` stands in for the expensive part of a real model.
    """
    scores: dict[str, float] = {}
    for product, price in prices.items():
        stars = reviews.get(product, [])
        rating = sum(stars) / len(stars) if stars else 0.0
        confidence = len(stars) / (len(stars) + 2)
        scores[product] = round(rating * confidence - price / 100, 3)
    return {"scores": scores, "checksum": simulate_model(300_000), "pid": os.getpid()}


def simulate_model(steps: int) -> int:
    """Pure-Python number crunching that holds the GIL (a thread would block the others)."""
    state = 1
    for _ in range(steps):
        state = (state * 48271) % 2_147_483_647
    return state


def publish_ranking(scored: Ref[dict, F("score_products")]) -> list[str]:
    scores = scored["scores"]
    return sorted(scores, key=scores.__getitem__, reverse=True)


def restock_report(stock: Ref[dict, F("fetch_inventory")]) -> list[str]:
    return [product for product, count in stock.items() if count < 5]


# -- wiring ----------------------------------------------------------------------------------------


def build_registry() -> SchedulerRegistry:
    registry = SchedulerRegistry("resilient_pipeline")
    transient = (ConnectionError, TimeoutError)  # a timed-out attempt raises a TimeoutError
    backoff = Retry(retries=4, delay=0.05, backoff=2.0, max_delay=1.0, jitter=0.1, on=transient)
    registry.register(fetch_prices, retry=backoff)
    registry.register(fetch_reviews, retry=backoff, timeout=0.3)
    registry.register(fetch_inventory, retry=backoff)
    registry.register(score_products, isolation="process", timeout=30)
    registry.register(publish_ranking)
    registry.register(restock_report)
    return registry


async def main() -> None:
    registry = build_registry()
    config = AstrumConfig(failure_policy="continue", deadline=45)
    report = await registry.run(config=config)
    stats = {stat.task_name: stat for stat in report.task_statistics}

    for name, stat in stats.items():
        delays = ", ".join(f"{a.delay_before:.2f}" for a in stat.attempt_statistics[1:])
        print(f"{name:16} {stat.status:10} attempts={stat.attempt_count}  waited=[{delays}]")
    print("ranking:", report.results.get("publish_ranking"))
    for line in report.error_summary:
        print("  |", line)

    # prices: two dropped connections, then an answer; the backoff grows (±10 % jitter)
    prices = stats["fetch_prices"]
    assert prices.status == "completed"
    assert prices.attempt_count == 3
    first, second = (a.delay_before for a in prices.attempt_statistics[1:])
    assert 0.045 <= first <= 0.055
    assert 0.09 <= second <= 0.11
    # reviews: the hung first call was cut off at 0.3 s, the retry answered
    reviews = stats["fetch_reviews"]
    assert [a.status for a in reviews.attempt_statistics] == ["timed_out", "completed"]
    # inventory: HTTP 500 is not a connection error, so it was not retried
    assert stats["fetch_inventory"].status == "failed"
    assert CALLS["inventory"] == 1
    assert isinstance(report.exceptions["fetch_inventory"], ApiError)
    # only the inventory's descendant was skipped; the ranking was published
    assert stats["restock_report"].status == "skipped"
    assert stats["restock_report"].caused_by == "fetch_inventory"
    assert report.results["publish_ranking"] == ["kettle", "blender", "toaster", "grinder"]
    # the scoring ran in a worker process
    assert report.results["score_products"]["pid"] != os.getpid()
    # the run is failed (one task failed) and finished well within its deadline
    assert report.execution_state == "failed"
    assert report.execution_duration < 45
    print("resilient pipeline OK")


if __name__ == "__main__":
    asyncio.run(main())
