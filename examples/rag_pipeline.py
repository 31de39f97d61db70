"""A small RAG pipeline that maps an embedding call over every chunk of a corpus.

    split_documents ─ embed_chunk[0..n-1] ─ embed_chunk (gather) ─┐
                      embed_question ─────────────────────────────┼─ retrieve ─ answer

``embed_chunk`` is declared once with ``@task(map="chunk")``: the run starts one instance
per chunk, at most ``MAX_PARALLEL`` at a time (as a rate-limited embedding endpoint would
want), and hands ``retrieve`` the vectors in chunk order. One chunk is "too long for the
model" and fails: ``retrieve`` asks for partial results
(``Ref[list[Vector | TaskFailure], ...]``), so it ranks the chunks that were embedded and
reports the one that was not.

Everything is offline and deterministic: the embedding is a hashed bag of words, the
latency of the embedding endpoint is simulated with ``asyncio.sleep``.

Run it::

    python examples/rag_pipeline.py
    python examples/rag_pipeline.py "how do I fix a flat tyre"
"""

import asyncio
import math
import re
import sys
import zlib
from dataclasses import dataclass

from astrum import AstrumConfig, ExecutionReport, F, Ref, SchedulerRegistry, TaskFailure

CONFIG = AstrumConfig(silence=True, silence_warnings=True)
DEFAULT_QUESTION = "how do I fix a flat tyre"
MAX_PARALLEL = 3  # embedding calls in flight at once
DIMENSIONS = 64
MAX_WORDS = 40  # the embedding model's input limit

Vector = tuple[float, ...]

CORPUS = {
    "puncture": (
        "Fixing a flat tyre. Remove the wheel and lever the tyre off the rim. Find the puncture in "
        "the inner tube, patch it or fit a new tube, then pump the tyre to the pressure on its wall."
    ),
    "chain": (
        "Chain care. A squeaking chain needs cleaning and lubrication. Wipe the chain, apply one drop "
        "of oil per link, and wipe off the excess so that dirt does not stick to it."
    ),
    "brakes": (
        "Brake pads. Worn pads squeal and stop poorly. Replace them when the groove is gone, and "
        "align the new pads with the rim or the disc before tightening the bolts."
    ),
    "manual": " ".join(["warranty"] * (MAX_WORDS + 5)),  # one chunk too long for the model
}


@dataclass(frozen=True)
class Chunk:
    """One passage of a document."""

    doc_id: str
    position: int
    text: str


@dataclass
class Gauge:
    """Counts the embedding calls in flight, and the most at once."""

    in_flight: int = 0
    most: int = 0


@dataclass(frozen=True)
class Answer:
    """The answer, its sources, and the chunks that could not be embedded."""

    text: str
    sources: list[str]
    skipped: list[str]


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def embed(text: str) -> Vector:
    """A deterministic hashed bag-of-words embedding, normalised to unit length."""
    counts = [0.0] * DIMENSIONS
    for word in tokens(text):
        counts[zlib.crc32(word.encode()) % DIMENSIONS] += 1.0
    norm = math.sqrt(sum(c * c for c in counts)) or 1.0
    return tuple(c / norm for c in counts)


def cosine(a: Vector, b: Vector) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def build_rag_workflow(question: str, gauge: Gauge) -> SchedulerRegistry:
    """The pipeline's tasks in a registry of their own (``gauge`` counts the embedding calls)."""
    rag = SchedulerRegistry("rag_pipeline")

    @rag.task()
    def split_documents() -> dict[str, list[Chunk]]:
        chunks = []
        for doc_id, text in CORPUS.items():
            for position, sentence in enumerate(s for s in re.split(r"(?<=\.) ", text) if s):
                chunks.append(Chunk(doc_id, position, sentence))
        return {"chunks": chunks}

    @rag.task()
    def model() -> str:
        return "hashed-bow-64"

    @rag.task(map="chunk", max_parallel=MAX_PARALLEL, retry=1)
    async def embed_chunk(
        chunk: Ref[Chunk, F("split_documents", "chunks")], model: Ref[str, F("model")]
    ) -> Vector:
        gauge.in_flight += 1
        gauge.most = max(gauge.most, gauge.in_flight)
        try:
            await asyncio.sleep(0.002)  # the embedding endpoint
            if len(tokens(chunk.text)) > MAX_WORDS:
                raise ValueError(f"{model}: chunk {chunk.doc_id}#{chunk.position} is over {MAX_WORDS} words")
            return embed(chunk.text)
        finally:
            gauge.in_flight -= 1

    @rag.task()
    async def embed_question() -> Vector:
        await asyncio.sleep(0.002)
        return embed(question)

    @rag.task()
    def retrieve(
        chunks: Ref[list[Chunk], F("split_documents", "chunks")],
        vectors: Ref[list[Vector | TaskFailure], F("embed_chunk")],
        query: Ref[Vector, F("embed_question")],
    ) -> dict[str, list]:
        scored = [
            (cosine(vector, query), chunk)
            for chunk, vector in zip(chunks, vectors, strict=True)
            if not isinstance(vector, TaskFailure)
        ]
        scored.sort(key=lambda pair: (-pair[0], pair[1].doc_id, pair[1].position))
        failed = [v.task_name for v in vectors if isinstance(v, TaskFailure)]
        return {"top": [chunk for _, chunk in scored[:3]], "failed": failed}

    @rag.task()
    def answer(
        top: Ref[list[Chunk], F("retrieve", "top")], failed: Ref[list[str], F("retrieve", "failed")]
    ) -> Answer:
        best = top[0]
        sources = sorted({f"{c.doc_id}#{c.position}" for c in top})
        return Answer(text=f"From '{best.doc_id}': {best.text}", sources=sources, skipped=failed)

    return rag


async def ask(question: str = DEFAULT_QUESTION) -> tuple[ExecutionReport, Gauge]:
    """Run the pipeline once: its report, and how many embedding calls ran at once."""
    gauge = Gauge()
    report = await build_rag_workflow(question, gauge).run(config=CONFIG)
    return report, gauge


async def main(argv: list[str] | None = None) -> Answer:
    question = " ".join(argv) if argv else DEFAULT_QUESTION
    report, gauge = await ask(question)
    result: Answer = report.results["answer"]
    stats = {s.task_name: s for s in report.task_statistics}
    instances = [name for name in stats if name.startswith("embed_chunk[")]
    print(f"question: {question}")
    print(f"answer:   {result.text}")
    print(f"sources:  {', '.join(result.sources)}")
    embedded = len(instances) - len(result.skipped)
    print(f"embedded {embedded} of {len(instances)} chunks, at most {gauge.most} at once")
    for name in result.skipped:
        print(f"skipped:  {name} ({stats[name].error_message})")
    # The script's own checks.
    assert gauge.most <= MAX_PARALLEL
    assert stats["answer"].status == "completed"
    assert stats["embed_chunk"].status == "failed"
    assert len(result.skipped) == 1
    if question == DEFAULT_QUESTION:
        assert result.text.startswith("From 'puncture'")
    return result


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
