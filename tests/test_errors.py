"""The error tree: every error astrum raises is an astrum error, and the documented tree is the code's."""

from __future__ import annotations

import builtins
import re
from pathlib import Path
from typing import Any

import pydantic
import pytest

import astrum
from astrum import (
    AstrumConfig,
    AstrumError,
    ConfigurationError,
    ConfigurationTypeError,
    DataItem,
    DataItemError,
    Retry,
    SchedulerRegistry,
    fn_hook,
)
from astrum._errors import __doc__ as errors_module_doc
from astrum.testing import FakeClock

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("make", "error", "builtin", "named"),
    [
        pytest.param(
            lambda: AstrumConfig(failure_policy="x"),
            ConfigurationError,
            ValueError,
            "failure_policy",
            id="policy",
        ),
        pytest.param(
            lambda: Retry(retries=-1), ConfigurationError, ValueError, "Retry.retries", id="retries"
        ),
        pytest.param(
            lambda: AstrumConfig(concurrency_limit="3"),
            ConfigurationTypeError,
            TypeError,
            "concurrency_limit",
            id="limit-type",
        ),
        pytest.param(
            lambda: DataItem(allow_data_model=Any), DataItemError, ValueError, "cannot be Any", id="data-any"
        ),
        pytest.param(
            lambda: AstrumConfig(deadline=-1), ConfigurationError, ValueError, "deadline", id="deadline"
        ),
        pytest.param(
            lambda: AstrumConfig(pools={"llm": 0}), ConfigurationError, ValueError, "pools", id="pools"
        ),
        pytest.param(
            lambda: AstrumConfig(clock=object()), ConfigurationTypeError, TypeError, "clock", id="clock"
        ),
        pytest.param(
            lambda: fn_hook(on_nothing=print), ConfigurationTypeError, TypeError, "fn_hook", id="fn-hook"
        ),
        pytest.param(
            lambda: FakeClock().advance(-1), ConfigurationError, ValueError, "backwards", id="clock-back"
        ),
    ],
)
def test_bad_options_raise_astrum_errors_that_are_also_the_matching_builtin(make, error, builtin, named):
    with pytest.raises(error, match=re.escape(named)) as caught:
        make()

    assert isinstance(caught.value, AstrumError)
    assert isinstance(caught.value, builtin)


async def test_run_many_with_a_bad_concurrency_raises_a_configuration_error():
    registry = SchedulerRegistry("batch")
    registry.register(lambda: 1, "one")

    with pytest.raises(ConfigurationError, match="concurrency must be a positive int, got 0"):
        await registry.run_many([], concurrency=0)


def test_a_refused_data_item_is_still_pydantics_validation_error_with_its_details():
    with pytest.raises(pydantic.ValidationError) as caught:
        DataItem(allow_data_model=5)

    assert isinstance(caught.value, DataItemError)
    assert isinstance(caught.value, AstrumError)
    problem = caught.value.errors()[0]
    assert problem["loc"] == ("allow_data_model",)
    assert "allow_data_model must be a class/type, got 5" in problem["msg"]
    assert "DataItem" in str(caught.value)


def test_a_data_item_with_a_good_model_is_unchanged():
    assert DataItem(allow_data_model=list[int]).allow_data_model is list


def tree_entries(text: str) -> list[tuple[int, str, str]]:
    """(depth, class name, description) of each entry of the first tree drawn in ``text``."""
    start = text.index("SchedulerError (AstrumError)")
    indent = start - (text.rfind("\n", 0, start) + 1)
    lines = text[start:].splitlines()
    entries: list[tuple[int, str, str]] = [(0, "SchedulerError", "")]
    for line in lines[1:]:
        if not line.strip() or line.strip() == "```":
            break
        match = re.search(r"── (\w+)\s*(.*)", line)
        if match:
            depth = (line.index("──") - indent) // 4 + 1
            entries.append((depth, match.group(1), match.group(2)))
        else:  # a description continued on the next line
            depth, name, description = entries[-1]
            entries[-1] = (depth, name, f"{description} {line.strip(' │')}")
    return entries


def exported_classes(base: type[BaseException]) -> set[str]:
    return {
        name
        for name in astrum.__all__
        if isinstance(getattr(astrum, name), type) and issubclass(getattr(astrum, name), base)
    }


def exported_error_classes() -> set[str]:
    """The exported exceptions, warnings aside (they are listed on their own)."""
    return exported_classes(BaseException) - exported_classes(Warning)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param((ROOT / "docs" / "errors.md").read_text(), id="docs-errors"),
        pytest.param(errors_module_doc, id="module-docstring"),
    ],
)
def test_the_drawn_error_tree_is_the_code_s_hierarchy(text):
    entries = tree_entries(text)
    parents: list[type] = []
    for depth, name, description in entries:
        cls = getattr(astrum, name)
        del parents[depth:]
        if parents:
            assert cls.__bases__[0] is parents[-1], f"{name} is drawn under {parents[-1].__name__}"
        parents.append(cls)
        for builtin_name in re.findall(r"also a `*(\w+)", description):
            assert issubclass(cls, getattr(builtins, builtin_name)), f"{name} is not a {builtin_name}"
        if "ValidationError" in description:
            assert issubclass(cls, pydantic.ValidationError)

    assert {name for _, name, _ in entries} | {"AstrumError"} == exported_error_classes()


def test_every_exported_warning_is_described_in_the_errors_page():
    text = (ROOT / "docs" / "errors.md").read_text()
    warnings_part = text[text.index("## Warnings") :]
    for name in exported_classes(Warning):
        assert f"`{name}`" in warnings_part, name
        assert issubclass(getattr(astrum, name), astrum.RunStoreWarning)
