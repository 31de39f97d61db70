import asyncio

from astrum import F, Ref, SchedulerRegistry, TaskFailure

batch = SchedulerRegistry("batch")


@batch.task()
def rows() -> list[str]:
    return ["1", "2", "x", "4"]


@batch.task(map="row")
def parse(row: Ref[str, F("rows")]) -> int:
    return int(row)


@batch.task()
def total(values: Ref[list[int | TaskFailure], F("parse")]) -> dict:
    good = [v for v in values if not isinstance(v, TaskFailure)]
    bad = [v.task_name for v in values if isinstance(v, TaskFailure)]
    return {"sum": sum(good), "bad": bad}


async def main() -> None:
    report = await batch.run()
    assert report.results["total"] == {"sum": 7, "bad": ["parse[2]"]}
    stats = {s.task_name: s.status for s in report.task_statistics}
    assert stats["parse"] == "failed" and stats["parse[2]"] == "failed" and stats["total"] == "completed"
    assert report.execution_state == "failed"


asyncio.run(main())
