"""``RunContext``: dependencies and metadata shared by every task of a run."""

from __future__ import annotations

import asyncio
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

__all__ = ["RunContext", "is_context_annotation"]

Deps = TypeVar("Deps")


class RunContext(Generic[Deps]):
    """What a run shares with its tasks: your dependencies, metadata and the run's identity.

    A task receives it by annotating any parameter ``RunContext`` or
    ``RunContext[MyDeps]`` — no ``Ref`` needed. Attribute access falls through to
    ``deps``, so ``ctx.source_path`` reads ``ctx.deps.source_path``.

    Args:
        deps: anything the tasks need (clients, settings, paths...).
        metadata: free-form values describing this run.

    Attributes set for the task that receives it: ``run_id``, ``task_id``, ``attempt``.
    """

    def __init__(self, deps: Deps = None, metadata: Mapping[str, Any] | None = None) -> None:  # type: ignore[assignment]
        self.deps = deps
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.run_id: str | None = None
        self.task_id: str | None = None
        self.attempt = 0
        self._remaining: Callable[[], float | None] | None = None
        self._stopping: Callable[[], bool] | None = None

    def for_task(
        self,
        run_id: str,
        task_id: str,
        attempt: int,
        remaining: Callable[[], float | None] | None,
        stopping: Callable[[], bool] | None,
    ) -> RunContext[Deps]:
        """A view of this context for one attempt of one task (shares ``deps`` and ``metadata``)."""
        view: RunContext[Deps] = RunContext.__new__(RunContext)
        view.deps = self.deps
        view.metadata = self.metadata
        view.run_id = run_id
        view.task_id = task_id
        view.attempt = attempt
        view._remaining = remaining
        view._stopping = stopping
        return view

    def time_remaining(self) -> float | None:
        """Seconds left before the run's deadline, or ``None`` when the run has no deadline."""
        return self._remaining() if self._remaining is not None else None

    def raise_if_cancelled(self) -> None:
        """Raise ``asyncio.CancelledError`` if the run is stopping (useful in long sync loops)."""
        if self._stopping is not None and self._stopping():
            raise asyncio.CancelledError(f"run {self.run_id} is stopping")

    def __getattr__(self, name: str) -> Any:
        # Only called for names not found normally: fall through to the dependencies.
        if name.startswith("__") or name in ("deps", "metadata"):
            raise AttributeError(name)
        deps = self.__dict__.get("deps")
        try:
            return getattr(deps, name)
        except AttributeError:
            raise AttributeError(
                f"RunContext has no attribute {name!r}, and neither do its deps ({type(deps).__name__})"
            ) from None

    def __getstate__(self) -> dict[str, Any]:
        # Sent to worker processes without the run's live callbacks.
        state = dict(self.__dict__)
        state["_remaining"] = None
        state["_stopping"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"RunContext(deps={self.deps!r}, metadata={self.metadata!r}, run_id={self.run_id!r}, task_id={self.task_id!r})"


_ANNOTATED = type(typing.Annotated[int, "x"])


def is_context_annotation(annotation: Any) -> bool:
    """Whether a (resolved or string) annotation asks for the run context.

    ``RunContext``, ``RunContext[X]`` and optional forms (``RunContext | None``,
    ``Optional[RunContext[X]]``) all do, written as objects or as strings.
    """
    kind = type(annotation)
    if kind is type:  # a plain class (the common case)
        return annotation is RunContext
    if kind is _ANNOTATED:
        return annotation.__origin__ is RunContext  # type: ignore[no-any-return]
    if isinstance(annotation, str):
        text = annotation.strip().strip("'\"")
        if text.startswith(("Optional[", "typing.Optional[")) and text.endswith("]"):
            text = text[text.index("[") + 1 : -1]
        parts = [part.strip() for part in _split_union(text)]
        return any(
            part == "RunContext" or part.startswith("RunContext[") or part.endswith(".RunContext")
            or (part.startswith("astrum.RunContext["))
            for part in parts
        )  # fmt: skip
    if annotation is RunContext or getattr(annotation, "__origin__", None) is RunContext:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(is_context_annotation(arg) for arg in typing.get_args(annotation))
    return False


def _split_union(text: str) -> list[str]:
    """Split ``A | B[C | D]`` at top-level ``|`` only."""
    parts, depth, start = [], 0, 0
    for k, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(text[start:k])
            start = k + 1
    parts.append(text[start:])
    return parts
