import asyncio

from astrum import AstrumConfig, run, task
from astrum.data_transport import DataItem, DTRela, TaskData


@task("load_user", data=TaskData())
async def load_user() -> dict:
    return {"name": "Alice"}


@task(
    "greet",
    data=TaskData(
        input_data_item=[
            DataItem(
                allow_data_model=str,
                from_relation=DTRela(key="name", related_task="load_user"),
                to_relation=DTRela(key="name", related_task="greet"),
            )
        ]
    ),
)
async def greet(name: str) -> None:
    print(f"hello {name}")


async def main() -> None:
    report = await run(target_tasks=["greet"], config=AstrumConfig(skip_type_check=True))
    assert report.execution_state == "completed", report.error_summary


asyncio.run(main())
