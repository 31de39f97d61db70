"""Rate limits in the configuration: ``AstrumConfig(rates={"llm": "60/min"})`` checked and
turned into the per-pool tables of a compiled program."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from .._errors import ConfigurationError, ConfigurationTypeError
from ..core._rates import Rate

__all__ = ["check_rates", "parse_rate", "pool_names", "pool_table"]

_SECONDS = {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0, "h": 3600.0, "hour": 3600.0}
_FORMS = "'N/s', 'N/sec', 'N/second', 'N/min', 'N/minute', 'N/h' or 'N/hour' (N a positive number)"
_RATE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*/\s*([A-Za-z]+)\s*")


def parse_rate(pool: str, text: str) -> Rate:
    """The rate ``text`` (``"60/min"``) of ``pool``.

    Raises:
        ConfigurationError: ``text`` is not ``N/unit`` with a known unit and ``N > 0``.
    """
    match = _RATE.fullmatch(text)
    fix = f"write {_FORMS}, e.g. rates={{{pool!r}: '60/min'}}"
    if match is None:
        raise ConfigurationError(f"rates[{pool!r}] = {text!r} is not a rate: {fix}.")
    number, unit = match.groups()
    period = _SECONDS.get(unit.lower())
    if period is None:
        raise ConfigurationError(f"rates[{pool!r}] = {text!r} has an unknown unit {unit!r}: {fix}.")
    count = float(number)
    if not count > 0 or not math.isfinite(count):
        raise ConfigurationError(
            f"rates[{pool!r}] = {text!r} allows no start at all: N must be positive; {fix}."
        )
    return Rate(count, period, text)


def check_rates(rates: Any) -> dict[str, str]:
    """``rates`` as a dict of pool names to rate strings, each one checked.

    Raises:
        ConfigurationTypeError: ``rates`` is not a mapping of strings to strings.
        ConfigurationError: a rate string is malformed (see `parse_rate`).
    """
    if not isinstance(rates, Mapping):
        raise ConfigurationTypeError(
            f"rates must map pool names to rates such as {{'llm': '60/min'}}, got {type(rates).__name__}."
        )
    checked: dict[str, str] = {}
    for pool, text in rates.items():
        if not isinstance(pool, str):
            raise ConfigurationTypeError(
                f"rates must map pool names (strings) to rates, got the key {pool!r} "
                f"({type(pool).__name__}); e.g. rates={{'llm': '60/min'}}."
            )
        if not isinstance(text, str):
            raise ConfigurationTypeError(
                f"rates[{pool!r}] must be a string such as '60/min', got {text!r} ({type(text).__name__}); "
                f"write {_FORMS}."
            )
        parse_rate(pool, text)
        checked[pool] = text
    return checked


def pool_names(pools: Mapping[str, int], rates: Mapping[str, str]) -> list[str]:
    """Every pool of a configuration in index order: those of ``pools``, then those with a
    rate only."""
    names = list(pools)
    names.extend(name for name in rates if name not in pools)
    return names


def pool_table(
    pools: Mapping[str, int], rates: Mapping[str, str]
) -> tuple[list[str], list[float], list[Rate | None] | None]:
    """Each pool's name, concurrency limit (``math.inf`` for a rate only) and rate (``None``
    instead of the list when no pool has a rate)."""
    names = pool_names(pools, rates)
    limits: list[float] = [pools.get(name, math.inf) for name in names]
    if not rates:
        return names, limits, None
    return names, limits, [parse_rate(name, rates[name]) if name in rates else None for name in names]
