"""Live progress: a rich display of a run as it goes (``AstrumConfig(progress=True)``).

`ProgressHook` is a run hook: it counts the run's events and a rich ``Live`` display
draws, a few times per second, the counts by status, the running tasks with their elapsed
time, and the retries. `progress_hook` decides from the ``progress`` setting whether a
run gets one: never when the output is not a terminal (unless forced) or rich is missing.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationTypeError
from ..lifecycle._events import RunEvent, RunHook, TaskEvent
from ._render import INSTALL_HINT, require_rich

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

__all__ = ["ProgressHook", "check_progress", "progress_hook"]

logger = logging.getLogger("astrum")

#: Redraws per second of the live display.
REFRESH_PER_SECOND = 4
#: At most this many running tasks are listed (the longest-running first); the rest are counted.
MAX_LISTED = 12

_warned_missing_rich = False


def check_progress(progress: Any) -> None:
    """Accept ``True``, ``False``, ``"force"`` or a rich ``Console`` as ``AstrumConfig(progress=...)``.

    Raises:
        ConfigurationTypeError: anything else (also a ``TypeError``).
    """
    if isinstance(progress, bool) or progress == "force":
        return
    if callable(getattr(progress, "print", None)) and hasattr(progress, "is_terminal"):
        return
    raise ConfigurationTypeError(
        f"AstrumConfig(progress=...) takes True, False, 'force' (draw even when the output is not a terminal) "
        f"or a rich Console, got {progress!r}"
    )


def progress_hook(progress: Any) -> ProgressHook | None:
    """The hook that draws one scheduler's runs, or ``None`` when nothing is to be drawn.

    ``True`` draws on a new ``Console()`` if the output is a terminal and rich is installed
    (without rich it logs a warning, once, and draws nothing); ``"force"`` draws even when the
    output is not a terminal; a ``Console`` draws on that console if it is a terminal.

    Raises:
        ImportError: ``progress="force"`` and rich is not installed (names ``astrum[viz]``).
    """
    global _warned_missing_rich
    if progress is False:
        return None
    if progress is True:
        try:
            require_rich()
        except ImportError:
            if not _warned_missing_rich:
                _warned_missing_rich = True
                logger.warning("progress=True draws nothing: %s", INSTALL_HINT)
            return None
        from rich.console import Console

        console: Console = Console()
        return ProgressHook(console) if console.is_terminal else None
    if progress == "force":
        require_rich()
        from rich.console import Console

        return ProgressHook(Console(force_terminal=True))
    return ProgressHook(progress) if progress.is_terminal else None


class ProgressHook(RunHook):
    """Draws a run live on ``console``: counts by status, running tasks and their elapsed time, retries.

    The display starts with the run and stops at its end; `stop` also stops it (the
    scheduler calls it after a run that failed or was cancelled, whatever events were delivered).
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.total = 0
        self.counts: dict[str, int] = {}
        self.retries = 0
        #: task -> (attempt, start time in epoch seconds) of the tasks running now.
        self.running: dict[str, tuple[int, float]] = {}
        #: tasks whose failed attempt waits for its retry.
        self.retrying: set[str] = set()
        self.started = 0.0
        self.state = "running"
        self.live: Live | None = None

    # -- events --------------------------------------------------------------------------------

    def on_run_start(self, event: RunEvent) -> None:
        from rich.live import Live

        self.stop()
        self.total = event.total_tasks
        self.counts = dict.fromkeys(("completed", "failed", "cancelled", "skipped"), 0)
        self.retries = 0
        self.running = {}
        self.retrying = set()
        self.started = event.time
        self.state = "running"
        self.live = Live(
            get_renderable=self.render,
            console=self.console,
            refresh_per_second=REFRESH_PER_SECOND,
            transient=False,
        )
        self.live.start()

    def on_task_start(self, event: TaskEvent) -> None:
        if event.attempt == 1 and event.task_id.endswith("]"):
            self.total += 1  # an instance of a mapped task (``embed[3]``): the run's total counts tasks
        self.retrying.discard(event.task_id)
        self.running[event.task_id] = (event.attempt, event.time)

    def on_task_retry(self, event: TaskEvent) -> None:
        self.running.pop(event.task_id, None)
        self.retrying.add(event.task_id)
        self.retries += 1

    def _ended(self, event: TaskEvent, status: str) -> None:
        self.running.pop(event.task_id, None)
        self.retrying.discard(event.task_id)
        self.counts[status] = self.counts.get(status, 0) + 1

    def on_task_success(self, event: TaskEvent) -> None:
        self._ended(event, "completed")

    def on_task_failure(self, event: TaskEvent) -> None:
        self._ended(event, "failed")

    def on_task_cancel(self, event: TaskEvent) -> None:
        self._ended(event, "cancelled")

    def on_task_skip(self, event: TaskEvent) -> None:
        self._ended(event, "skipped")

    def on_run_end(self, event: RunEvent) -> None:
        report = event.report
        self.state = str(report.execution_state) if report is not None else "ended"
        if report is not None:
            self.total = report.total_tasks  # instances that never started included
        self.stop()

    # -- display ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Draw the last frame and stop the display (nothing if it is not running)."""
        live, self.live = self.live, None
        if live is not None:
            live.update(self.render())
            live.stop()

    @property
    def drawing(self) -> bool:
        """Whether the live display is on."""
        return self.live is not None

    def render(self) -> RenderableType:
        """The current frame: a status line, then one line per running task."""
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        now = time.time()
        counts = self.counts
        running = list(self.running.items())
        done = sum(counts.values())
        waiting = max(self.total - done - len(running), 0)
        head = Text()
        head.append(f"{done}/{self.total} done", style="bold")
        for label, value, style in (
            ("completed", counts.get("completed", 0), "green"),
            ("running", len(running), "cyan"),
            ("waiting", waiting, "dim"),
            ("failed", counts.get("failed", 0), "red"),
            ("cancelled", counts.get("cancelled", 0), "yellow"),
            ("skipped", counts.get("skipped", 0), "dim"),
            ("retries", self.retries, "magenta"),
        ):
            if value or label in ("completed", "running", "waiting"):  # the rest only once they happen
                head.append(f" · {value} {label}", style=style if value else "dim")
        elapsed = (now - self.started) if self.live is not None else None
        if elapsed is not None:
            head.append(f" · {elapsed:.1f} s")
        else:
            head.append(f" · run {self.state}")
        if not running and not self.retrying:
            return head
        running.sort(key=lambda item: item[1][1])
        table = Table(box=None, show_header=False, padding=(0, 1, 0, 2))
        table.add_column("task", style="cyan")
        table.add_column("attempt")
        table.add_column("elapsed", justify="right")
        for task, (attempt, started) in running[:MAX_LISTED]:
            table.add_row(task, f"attempt {attempt}" if attempt > 1 else "", f"{max(now - started, 0):.1f} s")
        if len(running) > MAX_LISTED:
            table.add_row(f"... and {len(running) - MAX_LISTED} more", "", "")
        for task in sorted(self.retrying):
            table.add_row(task, "waits to retry", "", style="magenta")
        return Group(head, table)
