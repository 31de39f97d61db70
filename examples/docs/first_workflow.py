import asyncio

from astrum import AstrumConfig, F, Ref, run, task


@task("load_users")
async def load_users() -> dict:
    await asyncio.sleep(0.1)
    return {"users": ["Alice", "Bob"]}


@task("load_orders")
async def load_orders() -> dict:
    await asyncio.sleep(0.1)
    return {"orders": ["A-001", "A-002", "A-003"]}


@task("build_report")
async def build_report(
    users: Ref[list, F("load_users", "users")],
    orders: Ref[list, F("load_orders", "orders")],
) -> dict:
    return {"summary": f"{len(users)} users, {len(orders)} orders"}


async def main() -> None:
    report = await run(target_tasks=["build_report"], config=AstrumConfig(skip_type_check=True))
    print(report.execution_state, report.results["build_report"])
    print(" -> ".join(report.critical_path))


asyncio.run(main())
