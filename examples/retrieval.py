"""A hybrid retrieval pipeline: query expansion, BM25 and dense search, fusion, rerank.

    ---time--->
    expand_query ─┬─ bm25_search ───┐
                  └─ vector_search ─┼─ merge_scores ─ rerank
    embed_query ────────────────────┘

``embed_query`` needs nothing upstream, so it runs while ``expand_query`` is
still waiting on its (simulated) language-model call; the two searches run
side by side as soon as the expansion is ready. Latencies are simulated with
``asyncio.sleep``; the scoring is real: Okapi BM25 over a tokenised corpus and
cosine similarity over hashed bag-of-words embeddings.

The tasks live in their own ``SchedulerRegistry("retrieval")``, which keeps
them out of astrum's module-level registry.

Run it::

    python examples/retrieval.py
    python examples/retrieval.py "bike chain squeaks"
"""

import asyncio
import math
import re
import sys
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from astrum import AstrumConfig, ExecutionReport, F, Ref, SchedulerRegistry

CONFIG = AstrumConfig(silence=True, silence_warnings=True)

# Simulated latencies of the remote calls, in seconds.
LATENCY = {
    "expand_query": 0.06,  # a small language model
    "embed_query": 0.08,  # an embedding endpoint
    "bm25_search": 0.02,  # a local inverted index
    "vector_search": 0.04,  # an ANN index
    "rerank": 0.03,  # a cross-encoder
}


@dataclass(frozen=True)
class Document:
    """One article of the knowledge base."""

    doc_id: str
    title: str
    body: str


@dataclass(frozen=True)
class ExpandedQuery:
    """The user's query plus weighted expansion terms (original terms weigh 1.0)."""

    original: str
    weights: dict[str, float]


@dataclass(frozen=True)
class Candidate:
    """A document with its score at some stage of the pipeline."""

    doc_id: str
    title: str
    score: float


CORPUS: tuple[Document, ...] = (
    Document(
        "puncture-repair",
        "Patching a punctured inner tube",
        "Take the wheel off the bike, lever one side of the tyre off the rim and pull out the tube. "
        "Pump it up to find the puncture, roughen the rubber, spread glue, press the patch on firmly, "
        "then refit the tube and tyre and inflate. A patched tube is a cheap repair for a flat.",
    ),
    Document(
        "tubeless-sealant",
        "Looking after tubeless sealant",
        "Tubeless bike tyres carry liquid sealant that plugs small punctures while you ride. "
        "Sealant dries out, so top it up every two to three months.",
    ),
    Document(
        "car-flat-tire",
        "Changing a flat tire on a car",
        "Loosen the lug nuts, jack up the car, swap the flat tire for the spare and tighten the nuts "
        "in a star pattern. Get the flat tire fixed at a garage.",
    ),
    Document(
        "tire-pressure",
        "Choosing bicycle tire pressure",
        "Higher pressure rolls faster on smooth roads; lower pressure grips better on gravel. "
        "Too little pressure causes pinch flats, so check it weekly with a track pump.",
    ),
    Document(
        "chain-lube",
        "Cleaning and lubricating a bike chain",
        "Degrease the chain, let it dry, then put one drop of lube on each roller and wipe off the excess. "
        "A squeaking chain usually needs lube.",
    ),
    Document(
        "brake-pads",
        "Replacing worn brake pads on a bicycle",
        "When the grooves on the pads are gone, remove the retaining pin, slide the old pads out and fit new ones. "
        "Bed them in with a few firm stops.",
    ),
    Document(
        "wheel-truing",
        "Truing a buckled bicycle wheel",
        "Spin the wheel in the frame and watch the gap to the brake. Tighten spokes on the opposite side of a wobble "
        "a quarter turn at a time.",
    ),
    Document(
        "saddle-height",
        "Setting saddle height",
        "With the pedal at the bottom, your knee should be slightly bent. Raise the saddle in small steps.",
    ),
)

STOPWORDS = frozenset(
    {"a", "an", "and", "at", "do", "each", "for", "how", "i", "in", "is", "it", "my", "of", "off", "on"}
    | {"one", "out", "so", "the", "then", "to", "while", "with", "you", "your"}
)
# A tiny thesaurus standing in for the language model that expands queries.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "fix": ("repair", "patch"),
    "repair": ("fix", "patch"),
    "flat": ("puncture",),
    "tire": ("tyre", "tube"),
    "tyre": ("tire", "tube"),
    "bicycle": ("bike",),
    "bike": ("bicycle",),
    "squeak": ("lube",),
}


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without stop words, with a crude plural/-ed/-ing stemmer."""
    tokens: list[str] = []
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in STOPWORDS:
            continue
        for suffix, replacement in (("ies", "y"), ("ing", ""), ("ed", ""), ("s", "")):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
                word = word[: -len(suffix)] + replacement
                break
        tokens.append(word)
    return tokens


def embed(tokens: Iterable[str], dim: int = 256) -> list[float]:
    """A unit-length hashed bag of words and character trigrams (deterministic across runs)."""
    vector = [0.0] * dim
    for token in tokens:
        padded = f"#{token}#"
        for feature in [token, *(padded[i : i + 3] for i in range(len(padded) - 2))]:
            vector[zlib.crc32(feature.encode()) % dim] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two unit vectors."""
    return sum(x * y for x, y in zip(a, b, strict=True))


class Index:
    """The search indexes over a corpus: term statistics for BM25 and one vector per document."""

    def __init__(self, corpus: Sequence[Document], k1: float = 1.5, b: float = 0.75) -> None:
        self.docs = {doc.doc_id: doc for doc in corpus}
        self.tokens = {doc.doc_id: tokenize(f"{doc.title} {doc.title} {doc.body}") for doc in corpus}
        self.term_counts = {doc_id: Counter(tokens) for doc_id, tokens in self.tokens.items()}
        self.avg_len = sum(len(t) for t in self.tokens.values()) / len(self.tokens)
        self.doc_freq = Counter(term for tokens in self.tokens.values() for term in set(tokens))
        self.vectors = {doc_id: embed(tokens) for doc_id, tokens in self.tokens.items()}
        self.k1, self.b = k1, b

    def bm25(self, weights: dict[str, float]) -> dict[str, float]:
        """Okapi BM25 of every document for weighted query terms (documents scoring 0 left out)."""
        n = len(self.docs)
        scores: dict[str, float] = {}
        for doc_id, counts in self.term_counts.items():
            length_norm = self.k1 * (1 - self.b + self.b * len(self.tokens[doc_id]) / self.avg_len)
            score = 0.0
            for term, weight in weights.items():
                tf = counts.get(term, 0)
                if tf:
                    df = self.doc_freq[term]
                    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                    score += weight * idf * tf * (self.k1 + 1) / (tf + length_norm)
            if score > 0:
                scores[doc_id] = score
        return scores

    def nearest(self, vector: Sequence[float], k: int) -> dict[str, float]:
        """The ``k`` documents most similar to ``vector``, with their cosine similarity."""
        ranked = sorted(((cosine(vector, v), doc_id) for doc_id, v in self.vectors.items()), reverse=True)
        return {doc_id: score for score, doc_id in ranked[:k]}


def min_max(scores: dict[str, float]) -> dict[str, float]:
    """Scale scores to [0, 1] (all 1.0 if they are equal)."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    return {k: (v - low) / (high - low) if high > low else 1.0 for k, v in scores.items()}


def build_retrieval_workflow(
    query: str, corpus: Sequence[Document] = CORPUS, *, top_k: int = 3
) -> SchedulerRegistry:
    """A fresh ``SchedulerRegistry("retrieval")`` whose six tasks answer ``query`` over ``corpus``."""
    workflow = SchedulerRegistry("retrieval")
    index = Index(corpus)

    @workflow.task("expand_query")
    async def expand_query() -> ExpandedQuery:
        await asyncio.sleep(LATENCY["expand_query"])
        weights = dict.fromkeys(tokenize(query), 1.0)
        for term in list(weights):
            for synonym in SYNONYMS.get(term, ()):
                weights.setdefault(synonym, 0.6)
        return ExpandedQuery(original=query, weights=weights)

    @workflow.task("embed_query")
    async def embed_query() -> list[float]:
        await asyncio.sleep(LATENCY["embed_query"])
        return embed(tokenize(query))

    @workflow.task("bm25_search")
    async def bm25_search(weights: Ref[dict[str, float], F("expand_query", "weights")]) -> dict[str, float]:
        await asyncio.sleep(LATENCY["bm25_search"])
        return index.bm25(weights)

    @workflow.task("vector_search")
    async def vector_search(weights: Ref[dict[str, float], F("expand_query", "weights")]) -> dict[str, float]:
        await asyncio.sleep(LATENCY["vector_search"])
        return index.nearest(embed(weights), k=5)

    @workflow.task("merge_scores")
    def merge_scores(
        lexical: Ref[dict[str, float], F("bm25_search")],
        dense: Ref[dict[str, float], F("vector_search")],
        query_vector: Ref[list[float], F("embed_query")],
    ) -> list[Candidate]:
        # Expansion widens recall; similarity to the unexpanded query keeps the intent.
        lexical_n, dense_n = min_max(lexical), min_max(dense)
        fused = [
            Candidate(
                doc_id,
                index.docs[doc_id].title,
                0.5 * lexical_n.get(doc_id, 0.0)
                + 0.3 * dense_n.get(doc_id, 0.0)
                + 0.2 * cosine(query_vector, index.vectors[doc_id]),
            )
            for doc_id in lexical.keys() | dense.keys()
        ]
        return sorted(fused, key=lambda c: (-c.score, c.doc_id))

    @workflow.task("rerank")
    async def rerank(candidates: Ref[list[Candidate], F("merge_scores")]) -> list[Candidate]:
        await asyncio.sleep(LATENCY["rerank"])
        # Stand-in cross-encoder: reward documents covering every concept of the query.
        concepts = [{term, *SYNONYMS.get(term, ())} for term in tokenize(query)]
        rescored = []
        for cand in candidates[: 2 * top_k]:
            present = set(index.tokens[cand.doc_id])
            coverage = sum(1 for concept in concepts if concept & present) / max(1, len(concepts))
            rescored.append(Candidate(cand.doc_id, cand.title, round(cand.score + 0.5 * coverage, 4)))
        return sorted(rescored, key=lambda c: (-c.score, c.doc_id))[:top_k]

    return workflow


async def search(query: str, *, config: AstrumConfig = CONFIG) -> ExecutionReport:
    """Answer ``query``; the ranked candidates are ``report.results["rerank"]``."""
    report = await build_retrieval_workflow(query).run(config=config)
    assert report.execution_state == "completed", report.error_summary
    return report


def overlapped(report: ExecutionReport, first: str, second: str) -> bool:
    """Whether the runs of two tasks overlapped in time."""
    stats = {s.task_name: s for s in report.task_statistics}
    a, b = stats[first], stats[second]
    return a.start_time < b.end_time and b.start_time < a.end_time


def describe(report: ExecutionReport) -> list[str]:
    """Ranked results, then a small text timeline of the run."""
    lines = [
        f"{rank}. {c.title} [{c.doc_id}] score={c.score:.3f}"
        for rank, c in enumerate(report.results["rerank"], 1)
    ]
    origin = report.total_start_time
    for stat in sorted(report.task_statistics, key=lambda s: s.start_time):
        offset = (stat.start_time - origin) * 1000
        lines.append(f"   {stat.task_name:<14} starts {offset:6.1f} ms, runs {stat.duration * 1000:5.1f} ms")
    busy = sum(s.duration for s in report.task_statistics)
    lines.append(f"   makespan {report.total_duration * 1000:.0f} ms for {busy * 1000:.0f} ms of task time")
    return lines


PIPELINE_SHAPE = {
    "expand_query": set(),
    "embed_query": set(),
    "bm25_search": {"expand_query"},
    "vector_search": {"expand_query"},
    "merge_scores": {"bm25_search", "vector_search", "embed_query"},
    "rerank": {"merge_scores"},
}
DEFAULT_QUERY = "how do I fix a flat bicycle tire"
#: The article a reader would want first, for queries we know the answer to.
EXPECTED_TOP = {DEFAULT_QUERY: "puncture-repair", "bike chain squeaks": "chain-lube"}


async def main(query: str = DEFAULT_QUERY) -> list[str]:
    """Run the pipeline for ``query``, check the answer and the overlap, print the ranking."""
    report = await search(query)
    ranking = report.results["rerank"]
    if query in EXPECTED_TOP:
        assert ranking[0].doc_id == EXPECTED_TOP[query], ranking
    assert {task: set(deps) for task, deps in report.original_tasks.items()} == PIPELINE_SHAPE
    # embed_query has no upstream task: it runs during expand_query, not after it.
    assert overlapped(report, "embed_query", "expand_query")
    assert overlapped(report, "bm25_search", "vector_search")
    assert report.critical_path[-1] == "rerank"
    lines = [f"query: {query!r}", *describe(report)]
    for line in lines:
        print(line)
    return lines


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:2]))
