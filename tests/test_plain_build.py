"""The one-pass build of plain-function registries agrees with the general build."""

import random
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astrum import AstrumConfig, F, Ref, RunContext, SchedulerRegistry, TaskRegistrationError
from astrum.authoring._build import _build, build
from astrum.authoring._onepass import build_plain
from astrum.core._program import NO_RESULT, Program


def _function(
    name: str, params: list[tuple[str, Any, bool]], returns: Any, *, postponed: bool = False
) -> Any:
    """An async function ``name(p0, p1=0, ...)`` with the given annotations (``None``: none).

    ``postponed``: the annotations are strings, as under ``from __future__ import annotations``.
    """
    signature = ", ".join(f"{p}=0" if has_default else p for p, _, has_default in params)
    namespace: dict[str, Any] = {"Annotated": Annotated, "F": F, "From": F}
    exec(f"async def {name}({signature}):\n    return 1\n", namespace)
    fn = namespace[name]
    fn.__annotations__ = {p: ann for p, ann, _ in params if ann is not None}
    if returns is not None:
        fn.__annotations__["return"] = returns
    if postponed:
        fn.__annotations__ = {key: _source(ann) for key, ann in fn.__annotations__.items()}
    return fn


def _source(annotation: Any) -> str:
    """The text of an annotation made by these tests (``int`` or ``Annotated[int, F(...)]``)."""
    if annotation is int:
        return "int"
    relation = annotation.__metadata__[0]
    return f"Annotated[int, F({relation.task!r})]"


@st.composite
def plain_registries(draw: st.DrawFn) -> SchedulerRegistry:
    """Random DAGs of plain async functions: ``depends_on`` and ``Ref`` edges, defaults, retries,
    some with postponed (string) annotations."""
    n = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    registry = SchedulerRegistry("plain")
    order = list(range(n))
    if draw(st.booleans()):
        rng.shuffle(order)  # registration order is not always a dependency order
    for i in order:
        earlier = list(range(i))
        depends_on = [f"t{j}" for j in rng.sample(earlier, rng.randint(0, min(2, len(earlier))))]
        refs = rng.sample(earlier, rng.randint(0, min(3, len(earlier))))
        params: list[tuple[str, Any, bool]] = [
            (f"p{k}", Annotated[int, F(f"t{j}")], False) for k, j in enumerate(refs)
        ]
        if refs and rng.random() < 0.3:
            params[-1] = (params[-1][0], params[-1][1], True)  # injected despite its default
        if rng.random() < 0.3:
            params.append(("extra", int, True))  # a parameter with a default: not injected
        fn = _function(f"t{i}", params, int if rng.random() < 0.8 else None, postponed=rng.random() < 0.3)
        registry.task(
            f"t{i}",
            depends_on=depends_on,
            retry=rng.choice([0, 0, 2]),
            timeout=rng.choice([None, None, 5.0]),
        )(fn)
    return registry


def _same_program(fast: Program, general: Program) -> None:
    assert fast.graph == general.graph
    values = [f"value of {name}" for name in fast.graph.names] + [NO_RESULT]
    assert fast.fns == general.fns
    assert fast.kinds == general.kinds
    assert fast.policies == general.policies
    assert fast.tails == general.tails
    assert (fast.stage_count, fast.max_parallelism) == (general.stage_count, general.max_parallelism)
    assert (fast.concurrency_limit, fast.pool_names, fast.context_params) == (
        general.concurrency_limit,
        general.pool_names,
        general.context_params,
    )
    for mine, theirs in zip(fast.binders, general.binders, strict=True):
        assert (mine is None) == (theirs is None)
        if mine is not None and theirs is not None:
            assert mine.bind(values) == theirs.bind(values)


@settings(max_examples=60, deadline=None)
@given(plain_registries(), st.booleans())
def test_the_one_pass_build_compiles_what_the_general_build_compiles(
    registry: SchedulerRegistry, skip_type_check: bool
) -> None:
    config = AstrumConfig(skip_type_check=skip_type_check, ignore_tail_task=("t0",))
    fast = build_plain(registry, config, None)
    general = _build(registry, None, config, None)

    assert fast is not None
    assert fast.selected == general.selected
    assert fast.retries == general.retries
    assert fast.has_data_path == general.has_data_path
    _same_program(fast.program, general.program)


async def test_a_registry_of_plain_functions_builds_in_one_pass_and_runs() -> None:
    registry = SchedulerRegistry("one_pass")

    @registry.task("load")
    async def load() -> dict[str, int]:
        return {"a": 1, "b": 2}

    @registry.task("total")
    def total(data: Ref[dict[str, int], F("load")], bonus: int = 10) -> int:
        return sum(data.values()) + bonus

    @registry.task("pick")
    async def pick(b: Ref[int, F("load", "b")], done: Ref[int, F("total")]) -> int:
        return b * done

    result = build(registry, None, AstrumConfig())
    report = await registry.run()

    assert result.prepared == {}  # no per-task build records: the one-pass build compiled it
    assert report.task_return_set == {"load": {"a": 1, "b": 2}, "total": 13, "pick": 26}


def _callable_ref_registry() -> SchedulerRegistry:
    registry = SchedulerRegistry("callable_ref")

    @registry.task()
    async def source() -> int:
        return 1

    @registry.task()
    async def sink(value: Ref[int, F(source)]) -> int:
        return value + 1

    return registry


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        (AstrumConfig(validate_values=True), "values are checked at run time"),
        (AstrumConfig(visualize=True), "visualising reads the per-task build records"),
    ],
)
def test_configurations_needing_build_records_take_the_general_build(
    config: AstrumConfig, reason: str
) -> None:
    registry = SchedulerRegistry("general")

    @registry.task("a")
    async def a() -> int:
        return 1

    @registry.task("b")
    async def b(value: Ref[int, F("a")]) -> int:
        return value

    pytest.importorskip("rich") if config.visualize else None
    assert build(registry, None, config).prepared, reason


def test_a_ref_naming_its_source_by_function_takes_the_general_build() -> None:
    registry = _callable_ref_registry()

    assert build_plain(registry, AstrumConfig(), None) is None
    assert build(registry, None, AstrumConfig()).program.graph.parents == ((), (0,))


def test_problems_found_by_the_one_pass_build_are_reported_by_the_general_build() -> None:
    registry = SchedulerRegistry("problems")

    @registry.task("a")
    async def a() -> str:
        return "x"

    @registry.task("b")
    async def b(value: Ref[int, F("a")], missing: int) -> int:
        return value

    @registry.task("c", depends_on=["nowhere"])
    async def c() -> None:
        return None

    with pytest.raises(TaskRegistrationError, match="unknown dependencies"):
        build(registry, None, AstrumConfig())
    registry.clear()
    registry.task("a")(a)
    registry.task("b")(b)
    with pytest.raises(TaskRegistrationError) as caught:
        build(registry, None, AstrumConfig())
    assert "parameter 'missing' has no value" in str(caught.value)
    assert "Type mismatch on edge a -> b.value" in str(caught.value)


async def test_postponed_annotations_compile_in_one_pass_and_keep_their_parsed_spec() -> None:
    from astrum.authoring._plain import PlainEntry

    registry = SchedulerRegistry("postponed")
    registry.task("a")(_function("a", [], int, postponed=True))
    registry.task("b")(_function("b", [("value", Annotated[int, F("a")], False)], int, postponed=True))
    registry.task("c")(
        _function("c", [("value", Annotated[int, F("b")], False)], int)
    )  # analysed when registered

    result = build(registry, None, AstrumConfig())
    report = await registry.run()

    assert result.prepared == {}
    entry = registry._spec_cache["b"]
    assert type(entry) is PlainEntry and entry.spec is not None  # strings are not evaluated twice
    assert report.successful_tasks == 3


def _signature_registry(kind: str) -> SchedulerRegistry:
    registry = SchedulerRegistry(kind)

    @registry.task("a")
    async def a() -> int:
        return 1

    if kind == "positional-only":

        async def b(value: Ref[int, F("a")], /) -> int:
            return value

    elif kind == "keyword arguments":

        async def b(value: Ref[int, F("a")], **extra: Any) -> int:
            return value

    else:

        async def b(value: Ref[int, F("a")], ctx: "RunContext[Any]") -> int:
            return value

        b.__annotations__["ctx"] = RunContext[Any]
    registry.task("b")(b)
    return registry


@pytest.mark.parametrize("kind", ["positional-only", "keyword arguments", "run context"])
def test_signatures_the_one_pass_build_does_not_handle_take_the_general_build(kind: str) -> None:
    registry = _signature_registry(kind)

    assert build_plain(registry, AstrumConfig(), None) is None
    if kind == "positional-only":
        with pytest.raises(TaskRegistrationError, match="positional-only"):
            build(registry, None, AstrumConfig())
    else:
        assert build(registry, None, AstrumConfig()).program.graph.parents == ((), (0,))
