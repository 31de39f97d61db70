"""Rate limits per pool: ``AstrumConfig(rates={"api": "600/min"})`` paces the starts of a pool's tasks."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Sequence

import pytest

from astrum import (
    AstrumConfig,
    ConfigurationError,
    ConfigurationTypeError,
    F,
    MemoryStore,
    Ref,
    Retry,
    SchedulerRegistry,
    TaskRegistrationError,
)
from astrum.authoring._build import build
from astrum.core._rates import RateLimiter
from astrum.testing import FakeClock


async def nothing() -> None:
    """A request that returns at once (async: a worker thread would let the fake clock jump)."""


# -- the property: at most N starts in any window of the period, and no slower than needed ----


def most_starts_in_a_window(starts: Sequence[float], window: float) -> int:
    """The most starts that any half-open window ``[t, t + window)`` holds (a busiest window
    begins at a start). Times a float rounding apart (1e-9 s) count as one instant."""
    ordered = sorted(starts)
    return max((sum(1 for s in ordered if t <= s < t + window - 1e-9) for t in ordered), default=0)


def assert_paced(starts: Sequence[float], count: int, period: float) -> None:
    """At most ``count`` starts in any window of ``period``, and consecutive starts at least
    ``period / count`` apart (so no window of any length holds a burst)."""
    interval = period / count
    assert most_starts_in_a_window(starts, period) <= count
    ordered = sorted(starts)
    assert all(b - a >= interval * (1 - 1e-9) for a, b in itertools.pairwise(ordered))


def record_starts(clock: FakeClock, starts: list[float]) -> Callable[[int], Callable[[], object]]:
    def work(k: int) -> Callable[[], object]:
        async def call() -> int:
            starts.append(clock.now())
            await clock.sleep(0.5)  # a request in flight while the next ones start
            return k

        return call

    return work


async def run_units_in_pool(
    add_units: Callable[[SchedulerRegistry, Callable[[int], Callable[[], object]], int], None],
    units: int,
    config: AstrumConfig,
    clock: FakeClock,
) -> tuple[list[float], object]:
    """Run ``units`` units of work in pool "api" (``add_units`` registers them; plain tasks
    now, the instances of one mapped task later) and return when each one started."""
    starts: list[float] = []
    registry = SchedulerRegistry("paced")
    add_units(registry, record_starts(clock, starts), units)
    report = await registry.run(config=config)
    return starts, report


def as_plain_tasks(
    registry: SchedulerRegistry, work: Callable[[int], Callable[[], object]], units: int
) -> None:
    for k in range(units):
        registry.register(work(k), f"call_{k}", pool="api")


def as_mapped_instances(
    registry: SchedulerRegistry, work: Callable[[int], Callable[[], object]], units: int
) -> None:
    @registry.task
    def ids() -> list[int]:
        return list(range(units))

    @registry.task(map="k", pool="api")
    async def call(k: Ref[int, F("ids")]) -> object:
        return await work(k)()  # type: ignore[misc]


@pytest.mark.parametrize("add_units", [as_plain_tasks, as_mapped_instances], ids=["tasks", "instances"])
async def test_starts_in_a_rate_limited_pool_never_exceed_the_rate_in_any_sliding_window(
    add_units: Callable[[SchedulerRegistry, Callable[[int], Callable[[], object]], int], None],
) -> None:
    clock = FakeClock()
    started = time.perf_counter()

    starts, report = await run_units_in_pool(
        add_units, 120, AstrumConfig(rates={"api": "600/min"}, clock=clock), clock
    )

    assert report.execution_state == "completed"  # type: ignore[attr-defined]
    assert len(starts) == 120
    assert most_starts_in_a_window(starts, 1.0) == 10  # every [t, t + 1 s): at most 10 starts
    assert most_starts_in_a_window(starts, 60.0) == 120  # every 60 s: at most 600 (all 120 here)
    assert_paced(starts, 600, 60.0)
    assert min(starts) == 0.0  # the first start does not wait
    assert max(starts) == pytest.approx(119 * 0.1)  # and the run is no slower than the rate needs
    assert time.perf_counter() - started < 10  # on the fake clock: no real waiting


async def test_a_pool_starting_full_would_let_a_burst_through_and_the_limiter_does_not() -> None:
    clock = FakeClock()

    starts, _ = await run_units_in_pool(
        as_plain_tasks, 12, AstrumConfig(rates={"api": "10/s"}, clock=clock), clock
    )

    # A bucket holding 10 tokens at the start would start 10 at once, then 10 more within 1 s.
    assert starts.count(0.0) == 1
    assert sum(1 for s in starts if s < 1.0) == 10
    assert_paced(starts, 10, 1.0)


async def test_different_tasks_of_one_pool_share_its_pacing() -> None:
    clock = FakeClock()
    starts: dict[str, float] = {}
    registry = SchedulerRegistry("shared")

    def body(name: str) -> Callable[[], object]:
        async def call() -> None:
            starts[name] = clock.now()

        return call

    for k in range(4):
        registry.register(body(f"search_{k}"), f"search_{k}", pool="api")
        registry.register(body(f"fetch_{k}"), f"fetch_{k}", pool="api")
    registry.register(body("unpooled"), "unpooled")

    report = await registry.run(config=AstrumConfig(rates={"api": "2/s"}, clock=clock))

    assert report.execution_state == "completed"
    pooled = [at for name, at in starts.items() if name != "unpooled"]
    assert sorted(pooled) == pytest.approx([k * 0.5 for k in range(8)])  # one queue for both kinds
    assert_paced(pooled, 2, 1.0)
    assert starts["unpooled"] == 0.0  # a task outside the pool is not paced


async def test_a_pool_with_a_size_and_a_rate_keeps_both() -> None:
    clock = FakeClock()
    starts: list[float] = []
    in_flight = {"now": 0, "peak": 0}
    registry = SchedulerRegistry("both")

    def call() -> Callable[[], object]:
        async def body() -> None:
            starts.append(clock.now())
            in_flight["now"] += 1
            in_flight["peak"] = max(in_flight["peak"], in_flight["now"])
            await clock.sleep(5)
            in_flight["now"] -= 1

        return body

    for k in range(6):
        registry.register(call(), f"ask_{k}", pool="llm")

    config = AstrumConfig(pools={"llm": 2}, rates={"llm": "60/min"}, clock=clock, concurrency_limit=3)
    report = await registry.run(config=config)

    assert report.execution_state == "completed"
    assert in_flight["peak"] == 2
    assert_paced(starts, 60, 60.0)
    # Two start a second apart; each later one waits for a slot (5 s later), then for its token.
    assert starts == pytest.approx([0, 1, 5, 6, 10, 11])


async def test_waiting_for_a_token_is_reported_as_pool_wait_live_and_stored() -> None:
    clock = FakeClock()
    store = MemoryStore()
    registry = SchedulerRegistry("waits")
    for k in range(3):
        registry.register(nothing, f"call_{k}", pool="api")

    report = await registry.run(config=AstrumConfig(rates={"api": "60/min"}, clock=clock), store=store)

    stats = {s.task_name: s for s in report.task_statistics}
    assert [stats[f"call_{k}"].pool_queued_duration for k in range(3)] == pytest.approx([0.0, 1.0, 2.0])
    assert all(s.queued_duration >= s.pool_queued_duration for s in stats.values())
    assert all(s.pool == "api" for s in stats.values())
    stored = store.report(report.run_id)
    assert {s.task_name: s.pool_queued_duration for s in stored.task_statistics} == pytest.approx(
        {f"call_{k}": float(k) for k in range(3)}
    )
    assert store.run(report.run_id).config["rates"] == {"api": "60/min"}
    assert store.run(report.run_id).config["pools"] == {}  # no concurrency limit to record


async def test_each_retry_of_a_rate_limited_task_takes_a_token() -> None:
    clock = FakeClock()
    attempts: list[float] = []
    others: list[float] = []
    registry = SchedulerRegistry("retries")

    @registry.task(pool="api", retry=2)
    async def flaky() -> str:
        attempts.append(clock.now())
        if len(attempts) < 3:
            raise ConnectionError("429 too many requests")
        return "ok"

    @registry.task(pool="api", depends_on=["flaky"])
    async def after() -> None:
        others.append(clock.now())

    report = await registry.run(config=AstrumConfig(rates={"api": "60/min"}, clock=clock))

    assert report.execution_state == "completed", report.error_summary
    assert attempts == pytest.approx([0.0, 1.0, 2.0])  # no backoff, but one token per attempt
    assert others == pytest.approx([3.0])
    (stat,) = [s for s in report.task_statistics if s.task_name == "flaky"]
    assert [a.delay_before for a in stat.attempt_statistics] == pytest.approx([0.0, 1.0, 1.0])


async def test_a_retry_waits_for_its_token_without_holding_a_concurrency_slot() -> None:
    clock = FakeClock()
    seen: dict[str, list[float]] = {"flaky": [], "free": []}
    registry = SchedulerRegistry("retry_slot")

    @registry.task(pool="api", retry=Retry(retries=1, delay=0.5))
    async def flaky() -> None:
        seen["flaky"].append(clock.now())
        if len(seen["flaky"]) == 1:
            raise ConnectionError("429")

    @registry.task()
    async def gate() -> None:
        await clock.sleep(1)

    @registry.task(depends_on=["gate"])
    async def free() -> None:  # no pool: runs while flaky waits for its next token
        seen["free"].append(clock.now())

    report = await registry.run(config=AstrumConfig(rates={"api": "1/min"}, clock=clock, concurrency_limit=1))

    assert report.execution_state == "completed", report.error_summary
    assert seen["flaky"] == pytest.approx([0.0, 60.0])  # the retry waited for the pool's next token
    assert seen["free"] == pytest.approx([1.0])  # meanwhile the one slot ran gate, then free
    (stat,) = [s for s in report.task_statistics if s.task_name == "flaky"]
    assert stat.attempt_statistics[1].delay_before == pytest.approx(60.0)  # backoff 0.5 + 59.5 for the token


async def test_a_pool_with_only_a_rate_accepts_its_tasks_on_both_build_paths() -> None:
    clock = FakeClock()
    registry = SchedulerRegistry("rate_only")

    @registry.task(pool="api")
    def fetch() -> int:
        return 1

    @registry.task(pool="api")
    async def fetch_more() -> int:
        return 2

    config = AstrumConfig(rates={"api": "120/min"}, clock=clock)
    registry.validate(config=config)
    report = await registry.run(config=config)

    assert report.execution_state == "completed", report.error_summary
    assert {s.task_name: s.pool for s in report.task_statistics} == {"fetch": "api", "fetch_more": "api"}
    assert sorted(s.pool_queued_duration for s in report.task_statistics) == pytest.approx([0.0, 0.5])
    with pytest.raises(TaskRegistrationError, match=r"uses pool 'api'.*rates=\{'api': '60/min'\}"):
        registry.validate(config=AstrumConfig(rates={"web": "1/s"}))


# -- stopping while tasks wait for tokens ------------------------------------------------------


async def test_a_deadline_ends_a_run_whose_tasks_wait_for_tokens_at_once() -> None:
    clock = FakeClock()
    registry = SchedulerRegistry("deadline")
    for k in range(5):
        registry.register(nothing, f"call_{k}", pool="api")
    started = time.perf_counter()

    report = await registry.run(config=AstrumConfig(rates={"api": "1/min"}, deadline=2.5, clock=clock))

    assert time.perf_counter() - started < 5
    assert clock.now() == pytest.approx(2.5)  # it did not wait for the next token (at 60 s)
    statuses = sorted((s.status, s.attempt_count) for s in report.task_statistics)
    assert statuses == [("cancelled", 0)] * 4 + [("completed", 1)]
    waited = [s.pool_queued_duration for s in report.task_statistics if s.status == "cancelled"]
    assert waited == pytest.approx([2.5] * 4)


async def test_a_failure_cancels_the_tasks_waiting_for_tokens() -> None:
    clock = FakeClock()
    registry = SchedulerRegistry("failure")
    for k in range(3):
        registry.register(nothing, f"call_{k}", pool="api")

    @registry.task()
    async def breaks() -> None:
        await clock.sleep(3)
        raise RuntimeError("down")

    report = await registry.run(config=AstrumConfig(rates={"api": "1/min"}, clock=clock))

    assert clock.now() == pytest.approx(3.0)
    stats = {s.task_name: (s.status, s.attempt_count, s.caused_by) for s in report.task_statistics}
    assert sorted(v for k, v in stats.items() if k != "breaks") == [
        ("cancelled", 0, "breaks"),
        ("cancelled", 0, "breaks"),
        ("completed", 1, None),
    ]


async def test_cancelling_a_run_while_tasks_wait_for_tokens_returns_promptly() -> None:
    registry = SchedulerRegistry("cancel")
    starts: list[int] = []
    for k in range(3):
        registry.register(lambda k=k: starts.append(k), f"call_{k}", pool="api")
    run = asyncio.ensure_future(registry.run(config=AstrumConfig(rates={"api": "1/h"})))
    await asyncio.sleep(0.05)
    started = time.perf_counter()

    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(run, 5)

    assert time.perf_counter() - started < 2
    assert len(starts) == 1
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]  # no timer left behind


# -- the configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "interval"),
    [
        ("2/s", 0.5),
        ("4/sec", 0.25),
        ("1/second", 1.0),
        ("120/min", 0.5),
        ("30/minute", 2.0),
        ("7200/h", 0.5),
        ("1800/hour", 2.0),
        ("1.5/s", 1 / 1.5),
        (" 60 / MIN ", 1.0),
    ],
)
def test_every_accepted_rate_spelling_sets_the_interval(text: str, interval: float) -> None:
    registry = SchedulerRegistry("spelling")
    registry.register(lambda: None, "call", pool="api")

    (rate,) = build(registry, None, AstrumConfig(rates={"api": text})).program.pool_rates or ()
    assert rate.period / rate.count == pytest.approx(interval)
    assert rate.text == text


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("60", "is not a rate"),
        ("60/", "is not a rate"),
        ("/min", "is not a rate"),
        ("sixty/min", "is not a rate"),
        ("-5/min", "is not a rate"),
        ("1e3/s", "is not a rate"),
        ("60/fortnight", "unknown unit 'fortnight'"),
        ("5/day", "unknown unit 'day'"),
        ("0/min", "N must be positive"),
        ("0.0/s", "N must be positive"),
    ],
)
def test_a_malformed_rate_is_refused_with_the_accepted_forms(text: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem) as caught:
        AstrumConfig(rates={"llm": text})

    message = str(caught.value)
    assert "rates['llm']" in message
    assert "'N/s', 'N/sec', 'N/second', 'N/min', 'N/minute', 'N/h' or 'N/hour'" in message
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("rates", "problem"),
    [
        ({"llm": 60}, r"rates\['llm'\] must be a string such as '60/min', got 60 \(int\)"),
        ({3: "60/min"}, r"pool names \(strings\).*got the key 3 \(int\)"),
        ("60/min", "rates must map pool names to rates"),
    ],
)
def test_rates_of_the_wrong_type_are_refused(rates: object, problem: str) -> None:
    with pytest.raises(ConfigurationTypeError, match=problem) as caught:
        AstrumConfig(rates=rates)  # type: ignore[arg-type]

    assert isinstance(caught.value, TypeError)


def test_configs_with_different_rates_differ() -> None:
    assert AstrumConfig(rates={"a": "1/s"}) == AstrumConfig(rates={"a": "1/s"})
    assert AstrumConfig(rates={"a": "1/s"}) != AstrumConfig(rates={"a": "2/s"})


def test_a_run_without_rates_gets_no_limiter() -> None:
    registry = SchedulerRegistry("plain_pools")
    registry.register(lambda: None, "call", pool="db")

    program = build(registry, None, AstrumConfig(pools={"db": 2})).program

    assert program.pool_rates is None
    assert program.pool_limits == [2]


# -- the limiter -------------------------------------------------------------------------------


def test_the_limiter_spaces_tokens_evenly_and_starts_a_new_stretch_after_idling() -> None:
    limiter = RateLimiter(10, 1.0)

    assert limiter.delay(5.0) == 0.0
    limiter.take(5.0)
    assert limiter.delay(5.0) == pytest.approx(0.1)
    assert limiter.delay(5.05) == pytest.approx(0.05)
    with pytest.raises(RuntimeError, match="no token is free"):
        limiter.take(5.05)
    limiter.take(limiter.next_at())
    assert limiter.next_at() == pytest.approx(5.2)
    limiter.take(7.0)  # idle since 5.2: the next token is one interval after this start
    assert limiter.next_at() == pytest.approx(7.1)
    assert limiter.interval == pytest.approx(0.1)


def test_the_limiter_grid_lets_exactly_n_tokens_into_each_period() -> None:
    limiter = RateLimiter(600, 60.0)
    times = []
    now = 0.0
    for _ in range(1200):
        now = max(now, limiter.next_at())
        limiter.take(now)
        times.append(now)

    assert times[10] == 1.0 and times[600] == 60.0  # computed on the grid, not summed
    assert most_starts_in_a_window(times[:200], 1.0) == 10


async def test_a_stored_retry_keeps_the_wait_for_its_token() -> None:
    clock = FakeClock()
    store = MemoryStore()
    calls: list[float] = []
    registry = SchedulerRegistry("stored_retry")

    @registry.task(pool="api", retry=2)
    async def flaky() -> None:
        calls.append(clock.now())
        if len(calls) < 3:
            raise ConnectionError("429")

    report = await registry.run(config=AstrumConfig(rates={"api": "60/min"}, clock=clock), store=store)

    live = [a.delay_before for a in report.task_statistics[0].attempt_statistics]
    stored = [a.delay_before for a in store.report(report.run_id).task_statistics[0].attempt_statistics]
    assert live == stored == pytest.approx([0.0, 1.0, 1.0])


async def test_plain_tasks_and_mapped_instances_of_one_pool_share_its_pacing() -> None:
    clock = FakeClock()
    starts: list[float] = []
    work = record_starts(clock, starts)
    registry = SchedulerRegistry("paced_mixed")
    as_plain_tasks(registry, work, 20)
    as_mapped_instances(registry, work, 20)

    report = await registry.run(config=AstrumConfig(rates={"api": "10/s"}, clock=clock))

    assert report.execution_state == "completed"
    assert len(starts) == 40
    assert_paced(starts, 10, 1.0)


async def test_each_retry_of_a_mapped_instance_takes_a_token() -> None:
    clock = FakeClock()
    starts: list[float] = []
    registry = SchedulerRegistry("paced_instance_retry")

    @registry.task
    def ids() -> list[int]:
        return [0, 1, 2]

    failed_once: set[int] = set()

    @registry.task(map="k", pool="api", retry=2)
    async def call(k: Ref[int, F("ids")]) -> int:
        starts.append(clock.now())
        if k not in failed_once:  # the first attempt of each instance fails
            failed_once.add(k)
            raise ConnectionError("rate limited upstream")
        return k

    report = await registry.run(config=AstrumConfig(rates={"api": "2/s"}, clock=clock))

    assert report.results["call"] == [0, 1, 2]
    assert len(starts) == 6  # three first attempts, three retries
    assert_paced(starts, 2, 1.0)  # every attempt took a token: one start every 0.5 s


async def test_concurrent_runs_on_one_loop_share_a_pools_rate() -> None:
    clock = FakeClock()
    starts: list[float] = []
    registry = SchedulerRegistry("paced_shared")
    as_plain_tasks(registry, record_starts(clock, starts), 10)
    config = AstrumConfig(rates={"api": "10/s"}, clock=clock)

    # two requests of a web service, each its own run, against one rate-limited API
    one, two = await asyncio.gather(registry.run(config=config), registry.run(config=config))

    assert one.execution_state == two.execution_state == "completed"
    assert len(starts) == 20
    assert_paced(starts, 10, 1.0)  # together: one start every 0.1 s
    assert max(starts) == pytest.approx(19 * 0.1)


async def test_runs_giving_a_pool_another_rate_have_a_limiter_of_their_own() -> None:
    clock = FakeClock()
    starts: list[float] = []
    registry = SchedulerRegistry("paced_apart")
    as_plain_tasks(registry, record_starts(clock, starts), 5)

    await asyncio.gather(
        registry.run(config=AstrumConfig(rates={"api": "10/s"}, clock=clock)),
        registry.run(config=AstrumConfig(rates={"api": "20/s"}, clock=clock)),
    )

    assert len(starts) == 10
    assert starts.count(0.0) == 2  # 10/s and 20/s are two limiters: each run starts at once
