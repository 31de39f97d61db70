"""``stream()``: a run's events as an async iterator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from ._context import RunContext
from ._events import RunEvent, TaskEvent

__all__ = ["stream_scheduler"]


async def stream_scheduler(
    scheduler: Any, context: RunContext[Any] | None
) -> AsyncIterator[RunEvent | TaskEvent]:
    """Execute ``scheduler`` and yield each event as it happens, ending with the run-end event.

    Buffering: the run never waits for the consumer. Events wait in an in-memory
    queue whose size is bounded by the run itself: at most 2 run events plus 3
    per task attempt (start, then success/failure/retry) plus one skip or
    cancel per task. Leaving the ``async for`` early cancels the run and waits
    for its tasks to end.
    """
    queue: asyncio.Queue[RunEvent | TaskEvent] = asyncio.Queue()
    run = asyncio.ensure_future(scheduler.execute(context=context, _event_queue=queue))
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait([getter, run], return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                event = getter.result()
                yield event
                if isinstance(event, RunEvent) and event.kind == "run_end":
                    return
                continue
            getter.cancel()
            # The run ended; deliver what is still queued, then surface its error if it raised.
            while not queue.empty():
                event = queue.get_nowait()
                yield event
                if isinstance(event, RunEvent) and event.kind == "run_end":
                    return
            run.result()
            return
    finally:
        if not run.done():
            run.cancel()
            await asyncio.wait([run])
        if run.done() and not run.cancelled():
            run.exception()  # retrieved: the consumer already saw the run's end or left early
