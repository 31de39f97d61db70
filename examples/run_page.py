"""See where a run's time went: a newsletter digest drawn, run, explained and written as a web page.

    fetch_feeds ─┬─ summarise_tech (pool llm, retry) ────┐
                 ├─ summarise_science (pool llm) ────────┼─ compose ─ send
                 └─ pick_images ─────────────────────────┘
    check_quota ┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┘ (ordering only)

The two summaries share a language-model pool of size one, so one waits for the
other; the tech summary's first call fails and is retried after a short backoff.
The script prints the graph as Mermaid, the run as a Mermaid Gantt, the "why was
it slow" summary (``print(report)``), and writes the HTML run page.

Run it::

    python examples/run_page.py                 # writes the page to the temp directory
    python examples/run_page.py digest.html     # or where you say
"""

import asyncio
import sys
import tempfile
from pathlib import Path

from astrum import AstrumConfig, ExecutionReport, F, Ref, Retry, SchedulerRegistry

CONFIG = AstrumConfig(pools={"llm": 1}, silence=True, silence_warnings=True)


class ModelBusyError(ConnectionError):
    """The language model answered 429."""


def build_digest() -> SchedulerRegistry:
    """The digest's tasks in a registry of their own."""
    digest = SchedulerRegistry("digest")
    calls = {"tech": 0}

    @digest.task("fetch_feeds")
    async def fetch_feeds() -> dict:
        await asyncio.sleep(0.04)
        return {
            "tech": ["A faster event loop", "Typed DAGs"],
            "science": ["Comet spotted", "New enzyme"],
            "images": ["comet.png", "loop.png", "enzyme.png"],
        }

    @digest.task("check_quota")
    async def check_quota() -> bool:
        await asyncio.sleep(0.02)
        return True

    @digest.task("summarise_tech", pool="llm", retry=Retry(retries=2, delay=0.02, jitter=0))
    async def summarise_tech(items: Ref[list, F("fetch_feeds", "tech")]) -> str:
        calls["tech"] += 1
        await asyncio.sleep(0.05)
        if calls["tech"] == 1:
            raise ModelBusyError("model answered 429 Too Many Requests")
        return "Tech: " + "; ".join(items)

    @digest.task("summarise_science", pool="llm")
    async def summarise_science(items: Ref[list, F("fetch_feeds", "science")]) -> str:
        await asyncio.sleep(0.06)
        return "Science: " + "; ".join(items)

    @digest.task("pick_images")
    def pick_images(images: Ref[list, F("fetch_feeds", "images")]) -> list:
        return sorted(images)[:2]

    @digest.task("compose", depends_on=["check_quota"])
    async def compose(
        tech: Ref[str, F("summarise_tech")],
        science: Ref[str, F("summarise_science")],
        images: Ref[list, F("pick_images")],
    ) -> dict:
        await asyncio.sleep(0.01)
        return {"body": f"{tech}\n{science}", "images": images}

    @digest.task("send")
    async def send(body: Ref[str, F("compose", "body")]) -> str:
        await asyncio.sleep(0.01)
        return f"sent {len(body)} characters"

    return digest


async def main(path: Path | None = None) -> ExecutionReport:
    """Draw, run, explain and write the page; return the report."""
    digest = build_digest()
    print(digest.to_mermaid())
    report = await digest.run(config=CONFIG)
    assert report.execution_state == "completed", report.error_summary
    print(report.to_mermaid_gantt())
    print(report)  # the "why was it slow" summary, plain text
    page = report.to_html(path or Path(tempfile.gettempdir()) / "astrum-run-page.html")
    print(f"\nRun page written to {page}")
    return report


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
