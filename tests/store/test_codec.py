"""Result serialization: JSON with tagged forms that load back to the same types, and pickle."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import zoneinfo
from typing import Any

import pytest
from _store_records import Color, Mode, Opaque, Point, same, tagged_values
from hypothesis import given, settings
from hypothesis import strategies as st

from astrum.store._codec import JSON, PICKLE, DecodeError, UnstorableValue


@pytest.mark.parametrize(("name", "value"), list(tagged_values().items()), ids=list(tagged_values()))
def test_tagged_value_loads_back_with_the_same_type(name: str, value: Any) -> None:
    assert same(JSON.decode(JSON.encode(value)), value)


@pytest.mark.parametrize(
    "value",
    [None, True, 0, -7, 2**70, 1.5, -0.0, "", "naïve ☃", [1, "a", None], {"a": {"b": [1.25, False]}}],
)
def test_plain_json_is_stored_as_plain_json(value: Any) -> None:
    text = JSON.encode(value)
    assert json.loads(text) == value
    assert "__astrum__" not in text
    assert same(JSON.decode(text), value)


def test_tagged_forms_are_json_objects_naming_their_type() -> None:
    stored = json.loads(JSON.encode({"when": dt.date(2024, 1, 2), "color": Color.RED, "at": Point(1, 2.0)}))
    assert stored["when"] == {"__astrum__": "date", "iso": "2024-01-02"}
    assert stored["color"] == {"__astrum__": "enum", "type": "_store_records:Color", "value": "red"}
    assert stored["at"]["type"] == "_store_records:Point"
    assert stored["at"]["fields"] == {"x": 1, "y": 2.0, "tags": {"__astrum__": "tuple", "items": []}}


def test_datetime_in_a_named_zone_keeps_its_zone() -> None:
    when = dt.datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    loaded = JSON.decode(JSON.encode(when))
    assert loaded == when and loaded.tzinfo == zoneinfo.ZoneInfo("Europe/Paris")
    assert loaded.utcoffset() == when.utcoffset()


def test_dict_using_the_tag_key_is_escaped_not_taken_for_a_tag() -> None:
    value = {"__astrum__": "tuple", "items": [1, 2]}
    assert same(JSON.decode(JSON.encode(value)), value)


def test_str_subclass_keys_and_values_keep_their_type() -> None:
    value = {Mode.FAST: Mode.SAFE, "plain": "x"}
    loaded = JSON.decode(JSON.encode(value))
    assert same(loaded, value)
    assert type(next(iter(loaded))) is Mode


@pytest.mark.parametrize(
    ("value", "where"),
    [
        pytest.param(threading.Lock(), "result is a _thread.lock", id="top-level"),
        pytest.param(
            {"rows": [1, {"conn": object()}]}, "result['rows'][1]['conn'] is a builtins.object", id="nested"
        ),
        pytest.param(Point(1, 2.0, (object(),)), "result.tags[0] is a builtins.object", id="dataclass-field"),
        pytest.param((i for i in range(3)), "result is a builtins.generator", id="generator"),
    ],
)
def test_unstorable_value_names_where_and_what_it_is(value: Any, where: str) -> None:
    with pytest.raises(UnstorableValue) as caught:
        JSON.encode(value)
    assert str(caught.value).startswith(where)
    assert "serializer='pickle'" in str(caught.value)


def test_value_that_contains_itself_is_unstorable() -> None:
    rows: list[Any] = [1]
    rows.append({"again": rows})
    with pytest.raises(UnstorableValue, match=r"result\[1\]\['again'\] contains itself"):
        JSON.encode(rows)


def test_class_defined_inside_a_function_is_unstorable_because_it_cannot_be_imported_back() -> None:
    @dataclasses.dataclass
    class Local:
        x: int

    with pytest.raises(UnstorableValue, match=r"cannot be imported back.*module level"):
        JSON.encode(Local(1))


def test_int_too_long_to_write_is_unstorable_not_an_error() -> None:
    with pytest.raises(UnstorableValue, match="cannot be written as JSON"):
        JSON.encode([10**5000])


def test_lone_surrogates_survive_the_round_trip() -> None:
    value = {"text": "a\ud800b"}
    assert JSON.decode(JSON.encode(value)) == value


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        pytest.param(
            '{"__astrum__": "enum", "type": "os:system", "value": "x"}', "is not a enum", id="not-a-type"
        ),
        pytest.param(
            '{"__astrum__": "dataclass", "type": "json:dumps", "fields": {}}',
            "is not a dataclass",
            id="function",
        ),
        pytest.param(
            '{"__astrum__": "enum", "type": "no_such_module_x:E", "value": 1}', "cannot import", id="missing"
        ),
        pytest.param('{"__astrum__": "hologram", "value": 1}', "unknown tag 'hologram'", id="unknown-tag"),
        pytest.param("{not json", "JSONDecodeError", id="broken"),
    ],
)
def test_decoding_builds_only_types_of_the_tagged_kind(payload: str, problem: str) -> None:
    with pytest.raises(DecodeError, match=problem):
        JSON.decode(payload)


def test_pickle_codec_round_trips_any_picklable_value_and_names_what_is_not() -> None:
    value = {"obj": Opaque(3), "when": dt.datetime(2024, 1, 1)}
    assert PICKLE.decode(PICKLE.encode(value)) == value
    with pytest.raises(UnstorableValue, match="cannot be pickled"):
        PICKLE.encode(threading.Lock())


_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(max_size=8)
    | st.binary(max_size=8)
    | st.decimals(allow_nan=False)
    | st.dates()
    | st.datetimes(timezones=st.none() | st.timezones())
    | st.timedeltas()
    | st.sampled_from(list(Color))
)
_keys = (
    st.text(max_size=5)
    | st.integers()
    | st.tuples(st.integers(), st.text(max_size=3))
    | st.sampled_from(list(Mode))
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(_keys, inner, max_size=4)
        | st.frozensets(st.integers() | st.text(max_size=3), max_size=4)
        | st.builds(Point, st.integers(), st.floats(allow_nan=False), st.tuples(st.text(max_size=3)))
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(_values)
def test_any_supported_value_loads_back_equal_with_the_same_types(value: Any) -> None:
    assert same(JSON.decode(JSON.encode(value)), value)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(
            dt.datetime(2024, 3, 10, 2, 30, tzinfo=zoneinfo.ZoneInfo("America/New_York")), id="dst-gap"
        ),
        pytest.param(
            dt.datetime(2024, 11, 3, 1, 30, tzinfo=zoneinfo.ZoneInfo("America/New_York")), id="fold-0"
        ),
        pytest.param(
            dt.datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=zoneinfo.ZoneInfo("America/New_York")), id="fold-1"
        ),
    ],
)
def test_a_zoned_datetime_in_a_dst_gap_or_fold_loads_back_with_its_wall_time_and_fold(
    value: dt.datetime,
) -> None:
    loaded = JSON.decode(JSON.encode(value))

    assert (loaded.replace(tzinfo=None), loaded.fold, loaded.tzinfo) == (
        value.replace(tzinfo=None),
        value.fold,
        value.tzinfo,
    )
    assert loaded.utcoffset() == value.utcoffset()


def test_a_zoned_datetime_stored_with_its_utc_offset_still_loads() -> None:
    older = '{"__astrum__":"datetime","iso":"2024-06-01T12:00:00+02:00","zone":"Europe/Paris"}'

    assert JSON.decode(older) == dt.datetime(2024, 6, 1, 12, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
