"""report.to_html(path): one self-contained page, checked as a browser renders it (headless Chromium).

Chromium is Debian's ``chromium`` package (``make browser`` installs it). Without it these
tests fail and say so, unless ``ASTRUM_NO_BROWSER=1`` is set. With
``ASTRUM_UPDATE_SCREENSHOT=1`` the screenshot is also saved as docs/images/run-page.png
(the README shows it).
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from _png import read_png
from _viz_runs import ERROR_TEXT, pipeline_report
from astrum import ExecutionReport, TaskExecutionStatistics
from astrum.viz._html import GANTT_LEFT, GANTT_TOP, GANTT_WIDTH
from astrum.viz._svg import MAX_DRAWN, STATUS_COLOURS, gantt_layout

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
TASKS = ("load_users", "load_orders", "summarise", "classify", "publish", "broken", "after_broken")


def chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("ASTRUM_NO_BROWSER") == "1":
        pytest.skip("ASTRUM_NO_BROWSER=1: the HTML page is not rendered in a browser")
    pytest.fail(f"{CHROMIUM} is missing: run `make browser` (or set ASTRUM_NO_BROWSER=1 to skip these tests)")


def start_chromium(*args: str) -> tuple[subprocess.Popen[str], tempfile.TemporaryDirectory[str]]:
    profile = tempfile.TemporaryDirectory(prefix="astrum-chromium-")
    command = [
        str(chromium()),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile.name}",
        *args,
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), profile


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def close(a: tuple[int, int, int], b: tuple[int, int, int], tolerance: int = 6) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


async def test_html_page_is_self_contained_and_escapes_what_the_run_wrote(tmp_path):
    report = await pipeline_report()

    path = report.to_html(tmp_path / "run.html")

    assert path == tmp_path / "run.html"
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    # Nothing to fetch: no scripts, links, external styles, fonts or images.
    for needle in (
        "<script",
        "<link",
        "<img",
        "<iframe",
        "src=",
        "href=",
        "url(",
        "@import",
        "@font-face",
        "http",
    ):
        assert needle not in page.lower(), needle
    assert page.count("<svg") == 2
    assert html.escape(ERROR_TEXT) in page and ERROR_TEXT not in page
    for name in TASKS:
        assert name in page


async def test_html_page_renders_its_bars_and_task_names_in_chromium(tmp_path):
    report = await pipeline_report()
    page = report.to_html(tmp_path / "run.html")
    screenshot = tmp_path / "run.png"
    url = page.resolve().as_uri()

    # The screenshot and the DOM dump, side by side.
    shot, shot_profile = start_chromium(f"--screenshot={screenshot}", "--window-size=1200,900", url)
    dump, dump_profile = start_chromium("--dump-dom", url)
    with shot_profile, dump_profile:
        shot.communicate(timeout=90)
        dom, dump_err = dump.communicate(timeout=90)
    assert dump.returncode == 0, dump_err[-2000:]
    assert shot.returncode == 0 and screenshot.exists()

    # The page's text has every task name, and the error stayed text.
    text = re.sub(r"<[^>]+>", " ", dom)
    for name in TASKS:
        assert re.search(rf"\b{name}\b", text), name
    assert "<script>" not in dom and "&lt;script&gt;alert" in dom

    # Bars are where the layout puts them: sample inside each bar, and just above the first.
    layout = gantt_layout(report, GANTT_WIDTH)
    png = read_png(screenshot, rows_needed=GANTT_TOP + layout.height)
    assert (png.width, png.height) == (1200, 900)
    completed = hex_rgb(STATUS_COLOURS["completed"])
    failed = hex_rgb(STATUS_COLOURS["failed"])
    checked = {"completed": 0, "failed": 0}
    for placed in layout.bars:
        if placed.bar.milestone or placed.width < 10 or placed.bar.status not in checked:
            continue
        want = completed if placed.bar.status == "completed" else failed
        left, top = GANTT_LEFT + placed.x, GANTT_TOP + placed.y
        for fx, fy in ((0.5, 0.5), (0.25, 0.5), (0.75, 0.5)):
            x, y = int(left + placed.width * fx), int(top + placed.height * fy)
            assert close(png.pixel(x, y), want), (placed.bar.label, (x, y), png.pixel(x, y), want)
        checked[placed.bar.status] += 1
    assert checked["completed"] >= 4 and checked["failed"] == 1  # summarise's first attempt
    first = layout.bars[0]
    above = png.pixel(int(GANTT_LEFT + first.x + first.width / 2), int(GANTT_TOP + first.y) - 4)
    assert not close(above, completed)

    if os.environ.get("ASTRUM_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(screenshot, ROOT / "docs" / "images" / "run-page.png")


def test_html_page_of_a_large_run_draws_the_first_tasks_and_lists_them_all(tmp_path):
    count = MAX_DRAWN + 50
    stats = [
        TaskExecutionStatistics(f"task_{k}", k, k * 0.001, k * 0.001 + 0.001, 0.001, "completed")
        for k in range(count)
    ]
    chain = {f"task_{k}": [f"task_{k - 1}"] if k else [] for k in range(count)}
    report = ExecutionReport(
        total_duration=count * 0.001,
        total_tasks=count,
        successful_tasks=count,
        task_statistics=stats,
        execution_state="completed",
        original_tasks=chain,
        critical_path=list(chain),
    )

    page = report.to_html(tmp_path / "large.html").read_text(encoding="utf-8")

    gantt = page[page.index('<svg id="gantt"') : page.index("</svg>")]
    assert gantt.count('<rect class="bar') == MAX_DRAWN
    assert f"Only the first {MAX_DRAWN} tasks are drawn" in page
    assert page.count("<tr>") >= count + 1  # the task table lists every task
    assert f"<td><strong>task_{count - 1}</strong> ★</td>" in page


def test_html_page_of_an_empty_report_is_still_a_page(tmp_path):
    page = ExecutionReport().to_html(tmp_path / "empty.html").read_text(encoding="utf-8")

    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
