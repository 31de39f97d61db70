import asyncio
from dataclasses import dataclass

from astrum import F, Ref, RunContext, SchedulerRegistry


@dataclass
class Deps:
    source_path: str
    api_key: str


flow = SchedulerRegistry("ctx_demo")


@flow.task()
def load(ctx: RunContext[Deps]) -> list[str]:
    # ctx.source_path falls through to ctx.deps.source_path
    return [f"{ctx.source_path}:{ctx.metadata['tenant']}"]


@flow.task()
async def upload(rows: Ref[list[str], F("load")], ctx: RunContext[Deps]) -> str:
    return f"{len(rows)} row(s) by {ctx.task_id} in run {ctx.run_id[:8]}"


report = asyncio.run(flow.run(context=RunContext(Deps("/data/in.csv", "k"), metadata={"tenant": "acme"})))
assert report.task_return_set["load"] == ["/data/in.csv:acme"]
print(report.task_return_set["upload"])
