import asyncio

from astrum import F, Ref, SchedulerRegistry

docs = SchedulerRegistry("docs")


@docs.task()
def split_docs() -> dict[str, list[str]]:
    return {"chunks": ["astrum runs DAGs", "tasks map over lists", "results come back in order"]}


@docs.task()
def cfg() -> str:
    return "tiny-embedder"


@docs.task(map="chunk")
async def embed_chunk(chunk: Ref[str, F("split_docs", "chunks")], model: Ref[str, F("cfg")]) -> list[float]:
    await asyncio.sleep(0.01 * (3 - len(chunk) % 3))  # instances end in any order...
    return [float(len(chunk)), float(len(model))]


@docs.task()
def count(vectors: Ref[list[list[float]], F("embed_chunk")]) -> int:
    return len(vectors)  # ...the gather is in item order


async def main() -> None:
    report = await docs.run()
    assert report.results["embed_chunk"][0] == [16.0, 13.0]
    assert report.results["embed_chunk[2]"] == [26.0, 13.0]  # each instance by name
    assert report.results["count"] == 3


asyncio.run(main())
