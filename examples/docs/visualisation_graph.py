from astrum import F, Ref, Retry, SchedulerRegistry

flow = SchedulerRegistry("docs_graph")


@flow.task("load_users")
async def load_users() -> dict:
    return {"users": ["ada", "bob"], "source": "crm"}


@flow.task("fetch", pool="llm", retry=Retry(retries=3))
async def fetch(users: Ref[list, F("load_users", "users")]) -> tuple:
    return ("profile", len(users))


@flow.task("audit", depends_on=["load_users"])
def audit() -> None:
    pass


@flow.task("report")
async def report(kind: Ref[str, F("fetch", 0)]) -> str:
    return kind


print(flow.to_mermaid())
