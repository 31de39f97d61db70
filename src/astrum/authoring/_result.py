"""What a build gives: the compiled program and what a scheduler reports about it."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..core._graph import Graph, TaskOrder, orders_from_graph
from ..core._policies import Retry
from ..core._program import Program
from ._config import AstrumConfig
from ._scheduler import DynamicScheduler

if TYPE_CHECKING:
    from ._prepare import Prepared
    from ._taskdata import TaskData
    from ._tasks import TaskTable

__all__ = ["BuildResult"]


@dataclass
class BuildResult:
    """A validated build: the compiled program plus what a scheduler reports about it.

    ``prepared`` (per-task build details, used by visualisation) is dropped by
    `compact` before a build is cached.
    """

    registry: TaskTable
    config: AstrumConfig
    selected: list[str]
    graph: Graph
    program: Program
    prepared: dict[str, Prepared]
    concurrency_context: asyncio.Semaphore | None = None
    task_data: dict[str, TaskData] = field(default_factory=dict)
    retries: dict[str, int | Retry] = field(default_factory=dict)
    has_data_path: bool = False

    def __post_init__(self) -> None:
        if not self.prepared:  # a compacted copy: the summaries were passed in
            return
        for tid in self.selected:
            record = self.prepared[tid].record
            if record.data is not None:
                self.task_data[tid] = record.data
            if record.retry:
                self.retries[tid] = record.retry
        self.has_data_path = any(self.prepared[t].inputs for t in self.selected)

    @property
    def orders(self) -> list[TaskOrder]:
        """One `TaskOrder` per selected task (made on demand)."""
        return orders_from_graph(self.graph)

    def compact(self) -> BuildResult:
        """This build without its per-task build details (what a cache keeps)."""
        return dataclasses.replace(self, prepared={}) if self.prepared else self

    def scheduler(self) -> DynamicScheduler:
        config = self.config
        scheduler = DynamicScheduler._from_program(
            self.program,
            None,
            None,
            task_data_refs=dict(self.task_data),
            has_data_path=self.has_data_path,
            ignore_tail_task=list(config.ignore_tail_task),
            concurrency_context=self.concurrency_context,
            task_retries=dict(self.retries),
            silence=config.silence,
        )
        scheduler.hooks = list(config.hooks)
        if config.progress is not False:
            from ..viz._progress import progress_hook

            progress = progress_hook(config.progress)
            if progress is not None:
                scheduler.hooks.append(progress)
                scheduler.progress = progress
        return scheduler
