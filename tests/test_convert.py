"""Conversions, ids and the type policy table: pure code, no server."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import hashlib
import uuid

import bson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mapper import ids, types
from mapper.engine import convert
from mapper.engine.load import CODEC, encode


def test_oid_follows_the_documented_formula() -> None:
    key = uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")
    expected = hashlib.sha256(b"tasks:0f8fad5b-d9cb-469f-a165-70867728950e").digest()[:12]
    assert ids.oid("tasks", [key]) == bson.ObjectId(expected)
    assert ids.oid("tasks", [str(key)]) == ids.oid("tasks", [key])
    assert ids.key_text([key, 42, "a b"]) == "0f8fad5b-d9cb-469f-a165-70867728950e|42|a b"


def test_every_conversion_named_anywhere_is_registered() -> None:
    names = set(types.DEFAULT_CONVERSION.values()) | set(types.ACCEPTS)
    for name in names:
        assert callable(convert.get(name)), name


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("decimal128", decimal.Decimal("3.50"), bson.Decimal128("3.50")),
        ("decimal128", decimal.Decimal("NaN"), bson.Decimal128("NaN")),
        ("decimal128", decimal.Decimal("-Infinity"), bson.Decimal128("-Infinity")),
        ("int", 2**31 - 1, 2**31 - 1),
        ("int", 2**31, bson.Int64(2**31)),
        ("int", decimal.Decimal("4.00"), 4),
        ("long", 7, bson.Int64(7)),
        (
            "datetime",
            dt.datetime(2024, 3, 31, 1, 30),
            dt.datetime(2024, 3, 31, 1, 30, tzinfo=dt.UTC),
        ),
        (
            "datetime",
            dt.datetime(2024, 3, 31, 3, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            dt.datetime(2024, 3, 31, 1, 30, tzinfo=dt.UTC),
        ),
        ("date", dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, tzinfo=dt.UTC)),
        ("time", dt.time(12, 30, 0, 5), "12:30:00.000005"),
        ("interval", dt.timedelta(days=1, microseconds=3), bson.Int64(86_400_000_003)),
        (
            "uuid",
            "0F8FAD5B-D9CB-469F-A165-70867728950E",
            uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e"),
        ),
        ("string", uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        ("json", {"a": [1, {"b": None}]}, {"a": [1, {"b": None}]}),
        # a JSON value or an array as text: its JSON, not Python's repr ({'ok': True})
        ("string", {"ok": True, "é": [1.5, None]}, '{"ok": true, "é": [1.5, null]}'),
        ("string", ["a", 2], '["a", 2]'),
        # booleans and decimals as SQL writes them, not Python's `True` and `1E-7`
        ("string", True, "true"),
        ("string", False, "false"),
        ("string", decimal.Decimal("1E-7"), "0.0000001"),
        ("string", decimal.Decimal("0.0000100"), "0.0000100"),
        ("string", decimal.Decimal("NaN"), "NaN"),
    ],
)
def test_conversion_policy(name: str, value, expected) -> None:
    result = convert.get(name)(value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("decimal128", decimal.Decimal("1." + "1" * 40), "34 significant digits"),
        ("int", decimal.Decimal("1.5"), "integral"),
        ("int", "12", "text"),
        ("long", 2**70, "64 bits"),
        ("json", {"a.b": 1}, "`.`"),
        ("json", {"$where": 1}, "`$`"),
        ("uuid", "not-a-uuid", "UUID"),
        ("string", [dt.date(2024, 1, 2)], "JSON has no text for"),
        ("string", [float("nan")], "JSON has no text for"),
    ],
)
def test_conversion_refuses_without_echoing_the_value(name: str, value, words: str) -> None:
    with pytest.raises(convert.ConversionFailed) as error:
        convert.get(name)(value)
    assert words in str(error.value)
    assert str(value) not in str(error.value) or len(str(value)) < 3


def test_json_nesting_limit() -> None:
    deep: dict = {}
    node = deep
    for _ in range(convert.MAX_JSON_DEPTH + 5):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(convert.ConversionFailed, match="deeper"):
        convert.to_json(deep)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.text(max_size=20)
    | st.floats(allow_nan=False),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(min_size=1, max_size=8).filter(
                lambda k: "." not in k and not k.startswith("$") and "\0" not in k
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@given(json_values)
def test_json_round_trips_through_bson(value) -> None:
    document = {"v": convert.to_json(value)}
    assert bson.decode(encode(document), codec_options=CODEC) == document


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=4, min_value=-(10**20), max_value=10**20
    )
)
def test_decimal_round_trips_exactly(value: decimal.Decimal) -> None:
    decoded = bson.decode(encode({"d": convert.to_decimal128(value)}), codec_options=CODEC)
    assert decoded["d"].to_decimal() == value


@given(
    st.decimals(allow_nan=False, allow_infinity=False)
    | st.builds(
        decimal.Decimal,
        st.from_regex(r"-?[0-9]{1,36}(\.[0-9]{0,36})?(E[-+][0-9]{1,4})?", fullmatch=True),
    )
)
def test_decimal128_encoded_directly_is_what_pymongo_encodes(value: decimal.Decimal) -> None:
    """The fast BID encoding gives pymongo's bits, keeps the exponent, or refuses."""
    try:
        converted = convert.to_decimal128(value)
    except convert.ConversionFailed:  # then pymongo refuses too, or rounds
        with contextlib.suppress(decimal.DecimalException):
            assert str(bson.Decimal128(value).to_decimal()) != str(value)
        return
    assert str(converted.to_decimal()) == str(value) or converted.to_decimal() == value
    assert converted.bid == bson.Decimal128(value).bid


@given(st.datetimes(timezones=st.just(dt.UTC)))
def test_datetimes_keep_milliseconds(value: dt.datetime) -> None:
    decoded = bson.decode(encode({"t": convert.to_datetime(value)}), codec_options=CODEC)["t"]
    assert decoded == value.replace(microsecond=value.microsecond // 1000 * 1000)
