import io

from astrum import Cache, F, Ref, SchedulerRegistry, TaskRegistrationError

files = SchedulerRegistry("files")


@files.task("open_report")
def open_report() -> io.TextIOWrapper:
    return open(__file__)


@files.task("count_lines", cache=Cache())
def count_lines(handle: Ref[io.TextIOWrapper, F("open_report")]) -> int:
    return len(handle.readlines())


try:
    files.validate()
except TaskRegistrationError as error:
    assert "Task 'count_lines' is cached, but its input 'handle'" in str(error)
    print(error)
else:
    raise AssertionError("an open file cannot be part of a cache key")
