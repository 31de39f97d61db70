import asyncio

from astrum import AstrumConfig, F, Ref, SchedulerRegistry

crawl = SchedulerRegistry("crawl")
running, most = 0, 0


@crawl.task()
def urls() -> list[str]:
    return [f"https://example.org/{n}" for n in range(20)]


@crawl.task(map="url", max_parallel=3, pool="http")
async def fetch(url: Ref[str, F("urls")]) -> int:
    global running, most
    running += 1
    most = max(most, running)
    await asyncio.sleep(0.001)  # a request would go here
    running -= 1
    return len(url)


async def main() -> None:
    report = await crawl.run(config=AstrumConfig(pools={"http": 5}, concurrency_limit=10))
    assert most == 3 and len(report.results["fetch"]) == 20


asyncio.run(main())
