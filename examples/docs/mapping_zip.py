import asyncio

from astrum import F, Ref, SchedulerRegistry

pages = SchedulerRegistry("pages")


@pages.task()
def columns() -> dict[str, list]:
    return {"titles": ["Intro", "Usage"], "sizes": [120, 340]}


@pages.task(map=("title", "size"))
def label(title: Ref[str, F("columns", "titles")], size: Ref[int, F("columns", "sizes")]) -> str:
    return f"{title} ({size} words)"


async def main() -> None:
    report = await pages.run()
    assert report.results["label"] == ["Intro (120 words)", "Usage (340 words)"]


asyncio.run(main())
