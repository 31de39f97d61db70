"""Run a coroutine's first step at once, without an asyncio task of its own.

Most no-op and cache-hit coroutines finish in their first step; wrapping each in
an ``asyncio.Task`` costs an object, a loop callback and a loop turn. Python 3.12+
has eager tasks for this; on 3.11 a task's first step runs inline instead.

So that the step still sees a real current task (``asyncio.timeout``,
``TaskGroup`` and cancel scopes bind to it), it runs while a *spare* task is the
loop's current task. A coroutine that finishes needs nothing more and the spare
waits for the next one; a coroutine that suspends is adopted by that spare task,
which drives it on in the same context, and a new spare is made for the next.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine, Generator
from typing import Any

__all__ = ["AVAILABLE", "Adoption", "Resumed", "Spare", "cancel_suspended", "enter_task", "leave_task"]

try:
    from asyncio.tasks import _enter_task as enter_task
    from asyncio.tasks import _leave_task as leave_task

    AVAILABLE = True
except ImportError:  # pragma: no cover - every supported CPython has them
    AVAILABLE = False

    def enter_task(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
        raise NotImplementedError

    leave_task = enter_task


#: (task index, coroutine, what its first step yielded, exception to deliver first)
Adoption = tuple[int, Coroutine[Any, Any, Any], Any, BaseException | None]


class Spare:
    """An idle task, current during inline first steps, that adopts a coroutine which suspends.

    First steps run in the spare's own context (a copy of the run's), so an adopted
    coroutine goes on in the context its first step saw.
    """

    __slots__ = ("_waiter", "adopted", "adoption", "context", "task")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context,
        adopt: Callable[[Spare], Coroutine[Any, Any, Any]],
        orphaned: Callable[[Spare], None],
    ) -> None:
        self.adopted = False
        self.adoption: Adoption | None = None
        self._waiter: asyncio.Future[None] | None = None
        self.context = context
        self.task: asyncio.Task[Any] = loop.create_task(adopt(self), context=context)
        # Cancelled before its first step, the task never runs ``adopt``: ``orphaned`` then
        # finishes a coroutine handed over to it.
        self.task.add_done_callback(lambda _: None if self.adopted else orphaned(self))

    def hand_over(self, adoption: Adoption) -> None:
        self.adoption = adoption
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self) -> tuple[Adoption | None, bool]:
        """``(adoption, cancelled)``: the coroutine handed over (``None`` if disposed unused),
        and whether this task was cancelled before it could drive it."""
        if self.adoption is None:
            self._waiter = self.task.get_loop().create_future()
            try:
                await self._waiter
            except asyncio.CancelledError:
                if self.adoption is None:
                    return None, True
                self.adopted = True
                return self.adoption, True
        self.adopted = True
        return self.adoption, False

    def take_orphan(self) -> Adoption | None:
        """The coroutine handed over to this task if the task ended without driving it (once)."""
        if self.adopted:
            return None
        self.adopted = True
        return self.adoption

    def dispose(self) -> None:
        """End the spare while it is idle."""
        if self._waiter is not None:
            if not self._waiter.done():
                self._waiter.cancel()
        else:
            self.task.cancel()  # not started yet: it ends without running


def cancel_suspended(coro: Coroutine[Any, Any, Any], yielded: Any, context: contextvars.Context) -> None:
    """Deliver a cancellation to a suspended coroutine that no task will drive."""
    if isinstance(yielded, asyncio.Future) and not yielded.done():
        yielded.cancel()
    try:
        context.run(coro.throw, asyncio.CancelledError())
    except BaseException:  # CancelledError as expected, or its own error: it ended either way
        return
    try:
        coro.close()  # it wanted to go on waiting: nothing can drive it any more
    except RuntimeError:
        pass


class Resumed:
    """Awaitable that continues a coroutine suspended in its first step.

    ``yielded`` is what the first step yielded (a future, or ``None``); ``throw``
    an exception to deliver first (the adopting task was cancelled meanwhile).
    Once that first wait is over, the coroutine is awaited natively.
    """

    __slots__ = ("coro", "throw", "yielded")

    def __init__(
        self, coro: Coroutine[Any, Any, Any], yielded: Any, throw: BaseException | None = None
    ) -> None:
        self.coro = coro
        self.yielded = yielded
        self.throw = throw

    def __await__(self) -> Generator[Any, Any, Any]:
        coro = self.coro
        yielded = self.yielded
        pending = self.throw
        while True:
            if pending is not None:
                if isinstance(yielded, asyncio.Future) and not yielded.done():
                    yielded.cancel()  # what Task.cancel() does to the future a task waits on
                try:
                    yielded = coro.throw(pending)
                except StopIteration as stop:
                    return stop.value
                pending = None
            try:
                yield yielded  # the asyncio task waits for what the coroutine waits for
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:
                pending = exc
                continue
            break
        return (yield from coro.__await__())  # resumes it where it waits, then natively
