import asyncio
from pathlib import Path

from astrum import F, Ref, SchedulerRegistry

flow = SchedulerRegistry("docs_page")


@flow.task("load")
async def load() -> list:
    await asyncio.sleep(0.01)
    return [3, 1, 2]


@flow.task("sort")
def sort(items: Ref[list, F("load")]) -> list:
    return sorted(items)


async def main() -> None:
    report = await flow.run()
    page = report.to_html("run.html")
    assert Path(page).read_text(encoding="utf-8").startswith("<!doctype html>")
    print(f"open {page.resolve().as_uri()}")


asyncio.run(main())
