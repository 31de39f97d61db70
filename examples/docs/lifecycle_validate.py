import asyncio

from astrum import F, Ref, SchedulerRegistry, TaskRegistrationError

flow = SchedulerRegistry("validate_demo")


@flow.task()
def count() -> str:
    return "3"


@flow.task(depends_on=["audit"])
def double(n: Ref[int, F("count")]) -> int:
    return n * 2


assert flow.list_tasks() == ["count", "double"]
try:
    flow.validate()
except TaskRegistrationError as error:
    for problem in error.problems:
        print("-", problem)
    assert len(error.problems) == 2  # the unknown dependency and the str -> int mismatch

fixed = SchedulerRegistry("validate_fixed")
fixed.register(lambda: 3, "count")
assert fixed.validate() is None
print(asyncio.run(fixed.run()).execution_state)
