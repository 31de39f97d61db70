"""A retrieval-augmented answering flow using astrum's run-lifecycle features.

    classify_intent ───────────────────────────────┐
    plan_queries ── retrieve ── rank_passages ─────┼─ draft_answer ── cite_sources
    check_safety ──────────────────────────────────┘

* ``RunContext[Deps]``: each run gets the question (``ctx.metadata``) and its
  own language-model client and corpus (``ctx.deps``; ``ctx.llm`` falls through
  to ``ctx.deps.llm``). No ``Ref`` is needed to receive it.
* an ``llm`` pool of 2: four tasks call the (fake) model, three of them could
  start together, but never more than two calls are in flight per run.
* a ``RunHook`` collecting timings, and ``stream()`` printing live progress.
* ``override()`` in a self-check: plan and draft replaced, the model never
  asked to plan or draft.
* ``run_many()``: three questions as a micro-batch, reports in order.

The language model is a fake with a fixed latency; the retrieval is real
keyword scoring over a tiny corpus. The tasks live in their own
``SchedulerRegistry("lifecycle_example")``.

Run it::

    python examples/lifecycle.py
"""

import asyncio
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

from astrum import (
    AstrumConfig,
    ExecutionReport,
    F,
    Ref,
    RunContext,
    RunEvent,
    RunHook,
    SchedulerRegistry,
    TaskEvent,
)

LLM_LATENCY = 0.05  # seconds per (fake) model call
STOP_WORDS = {"a", "an", "the", "my", "is", "do", "i", "how", "why", "does", "to", "of", "on", "it", "so"}


@dataclass(frozen=True)
class Passage:
    """One passage of the knowledge base."""

    doc_id: str
    title: str
    text: str


@dataclass(frozen=True)
class Draft:
    """The model's answer before citations are attached."""

    text: str
    used: tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    """What the flow returns: the answer text and the documents it cites."""

    text: str
    citations: tuple[str, ...]
    intent: str


CORPUS: tuple[Passage, ...] = (
    Passage(
        "chain-care",
        "Cleaning and lubricating a bike chain",
        "A squeaking or noisy chain is dry: wipe it clean, then lubricate each link and wipe off the excess.",
    ),
    Passage(
        "puncture",
        "Fixing a flat tyre",
        "For a flat tyre, remove the wheel, find the puncture in the inner tube and patch it or fit a new tube.",
    ),
    Passage(
        "brakes",
        "Adjusting rim brakes",
        "If the brakes rub or feel weak, centre the calliper and tighten the cable until the pads grip firmly.",
    ),
    Passage(
        "gears",
        "Indexing the rear derailleur",
        "When gears skip or shift slowly, turn the barrel adjuster a quarter turn until the chain runs quietly.",
    ),
)


class FakeLLM:
    """A stand-in for a language-model client: fixed latency, deterministic answers.

    It counts calls per purpose and the most calls ever in flight at once.
    """

    SYNONYMS: ClassVar[dict[str, list[str]]] = {
        "squeak": ["noisy", "dry"],
        "squeaks": ["noisy", "dry"],
        "flat": ["puncture", "tube"],
    }

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.in_flight = 0
        self.peak = 0

    async def complete(self, purpose: str, prompt: str) -> str:
        self.calls[purpose] += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(LLM_LATENCY)
            return self._answer(purpose, prompt)
        finally:
            self.in_flight -= 1

    def _answer(self, purpose: str, prompt: str) -> str:
        raw = re.findall(r"[a-z]+", prompt.lower())
        words = [w for w in raw if w not in STOP_WORDS]
        if purpose == "intent":
            return "troubleshoot" if {"why", "won", "not"} & set(raw) else "howto"
        if purpose == "plan":
            expanded = [*words, *(s for w in words for s in self.SYNONYMS.get(w, []))]
            return " ".join(dict.fromkeys(expanded))
        if purpose == "safety":
            return "unsafe" if "weapon" in words else "safe"
        if purpose == "draft":
            return prompt.split("\n", 1)[1].split(". ")[0].strip() + "."
        raise ValueError(f"unknown purpose {purpose!r}")


@dataclass
class Deps:
    """What every task of one run shares."""

    llm: FakeLLM
    corpus: tuple[Passage, ...] = CORPUS


def tokens(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if w not in STOP_WORDS}


# --- the flow ------------------------------------------------------------------------------

flow = SchedulerRegistry("lifecycle_example")


@flow.task(pool="llm")
async def classify_intent(ctx: RunContext[Deps]) -> str:
    return await ctx.llm.complete("intent", ctx.metadata["question"])


@flow.task(pool="llm")
async def plan_queries(ctx: RunContext[Deps]) -> list[str]:
    return (await ctx.llm.complete("plan", ctx.metadata["question"])).split()


@flow.task(pool="llm")
async def check_safety(ctx: RunContext[Deps]) -> bool:
    return await ctx.llm.complete("safety", ctx.metadata["question"]) == "safe"


@flow.task()
def retrieve(queries: Ref[list[str], F("plan_queries")], ctx: RunContext[Deps]) -> list[Passage]:
    wanted = set(queries)
    return [p for p in ctx.corpus if wanted & tokens(p.title + " " + p.text)]


@flow.task()
def rank_passages(passages: Ref[list[Passage], F("retrieve")], ctx: RunContext[Deps]) -> list[Passage]:
    question = tokens(ctx.metadata["question"])

    def score(p: Passage) -> int:
        return len(question & tokens(p.title + " " + p.text))

    return sorted(passages, key=score, reverse=True)[:2]


@flow.task(pool="llm")
async def draft_answer(
    intent: Ref[str, F("classify_intent")],
    passages: Ref[list[Passage], F("rank_passages")],
    safe: Ref[bool, F("check_safety")],
    ctx: RunContext[Deps],
) -> Draft:
    if not safe or not passages:
        return Draft("I can't help with that.", ())
    prompt = f"[{intent}] {ctx.metadata['question']}\n" + " ".join(p.text for p in passages)
    return Draft(await ctx.llm.complete("draft", prompt), tuple(p.doc_id for p in passages))


@flow.task()
def cite_sources(draft: Ref[Draft, F("draft_answer")], intent: Ref[str, F("classify_intent")]) -> Answer:
    return Answer(draft.text, draft.used, intent)


# --- a hook that collects timings ----------------------------------------------------------


@dataclass
class Timings(RunHook):
    """Per-task durations and per-run wall time, from the run's events."""

    tasks: dict[str, list[float]] = field(default_factory=dict)
    runs: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def on_task_success(self, event: TaskEvent) -> None:
        assert event.start_time is not None
        assert event.end_time is not None
        self.tasks.setdefault(event.task_id, []).append(event.end_time - event.start_time)

    def on_task_failure(self, event: TaskEvent) -> None:
        self.failures.append(f"{event.task_id}: {event.error!r}")

    async def on_run_end(self, event: RunEvent) -> None:  # hooks may be async
        assert event.report is not None
        self.runs[event.run_id] = event.report.total_duration


# --- using it ------------------------------------------------------------------------------


def context_for(question: str) -> RunContext[Deps]:
    return RunContext(Deps(llm=FakeLLM()), metadata={"question": question})


async def answer_live(question: str, config: AstrumConfig) -> ExecutionReport:
    """Answer one question, printing each event as it happens."""
    ctx = context_for(question)
    print(f"Q: {question}")
    start = time.perf_counter()
    report: ExecutionReport | None = None
    async for event in flow.stream(config=config, context=ctx):
        elapsed = time.perf_counter() - start
        if isinstance(event, TaskEvent):
            mark = {"task_start": "..", "task_success": "ok"}.get(event.kind, event.kind)
            print(f"  [{elapsed:6.3f}s] {mark:>2} {event.task_id}")
        elif event.kind == "run_end":
            report = event.report
    assert report is not None
    assert report.execution_state == "completed", report.error_summary
    assert ctx.deps.llm.peak <= 2, f"the llm pool allows 2 calls at once, saw {ctx.deps.llm.peak}"
    answer: Answer = report.task_return_set["cite_sources"]
    print(f"A: {answer.text}  (sources: {', '.join(answer.citations)})")
    return report


async def self_check(config: AstrumConfig) -> None:
    """Replace the planning and drafting calls; the rest of the flow runs as it is."""

    def canned_draft(intent: str, passages: list[Passage], safe: bool, ctx: RunContext[Deps]) -> Draft:
        # Same injected arguments as draft_answer, no model call.
        return Draft(f"[{intent}] see {passages[0].title}", tuple(p.doc_id for p in passages))

    offline = flow.override({"plan_queries": ["brakes", "cable"], "draft_answer": canned_draft})
    ctx = context_for("why do my brakes rub")
    report = await offline.run(config=config, context=ctx)
    assert report.execution_state == "completed", report.error_summary
    answer: Answer = report.task_return_set["cite_sources"]
    assert answer.citations[0] == "brakes", answer
    assert answer.text == "[troubleshoot] see Adjusting rim brakes", answer
    assert set(ctx.deps.llm.calls) == {"intent", "safety"}, ctx.deps.llm.calls
    print(f"self-check: ok ({answer.text})")


async def main() -> list[Answer]:
    timings = Timings()
    config = AstrumConfig(pools={"llm": 2}, hooks=[timings])
    flow.validate(config=config)  # every problem at once, before anything runs (pools need the config)

    first = await answer_live("why does my chain squeak", config)
    roots = [
        s for s in first.task_statistics if s.task_name in ("classify_intent", "plan_queries", "check_safety")
    ]
    assert all(s.pool == "llm" for s in roots)
    waited = [s.task_name for s in roots if s.pool_queued_duration > 0]
    assert len(waited) == 1, f"three llm tasks are ready at once, one waits for the pool: {waited}"
    print(f"waited for the llm pool: {waited[0]}")

    await self_check(config)

    questions = ["how do I fix a flat tyre", "why won't my gears shift", "why does my chain squeak"]
    contexts = [context_for(q) for q in questions]
    reports = await flow.run_many(contexts, config=config, concurrency=2)
    answers: list[Answer] = [r.task_return_set["cite_sources"] for r in reports]
    for question, answer in zip(questions, answers, strict=True):
        print(f"batch: {question!r} -> {answer.citations[0]} ({answer.intent})")
    assert [a.citations[0] for a in answers] == ["puncture", "gears", "chain-care"], answers
    assert [a.intent for a in answers] == ["howto", "troubleshoot", "troubleshoot"], answers
    assert all(ctx.deps.llm.peak <= 2 for ctx in contexts)

    assert not timings.failures, timings.failures
    assert len(timings.runs) == 5, timings.runs  # live run, self-check, three batch runs
    assert len(timings.tasks["draft_answer"]) == 5  # an overridden task still runs (and is timed)
    slowest = max(timings.tasks, key=lambda t: sum(timings.tasks[t]))
    print(f"hook: {len(timings.runs)} runs, slowest task overall: {slowest}")
    return answers


if __name__ == "__main__":
    asyncio.run(main())
