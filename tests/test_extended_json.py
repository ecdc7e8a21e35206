"""The file sink's Extended JSON is pymongo's own: what `json_util` writes for the BSON."""

from __future__ import annotations

import datetime as dt
import uuid

import bson
import pytest
from bson import Decimal128, Int64, ObjectId, json_util
from bson.binary import Binary
from bson.errors import InvalidDocument
from hypothesis import assume, given
from hypothesis import strategies as st

from mapper.engine.extended_json import OPTIONS, canonical
from mapper.engine.load import CODEC

INT64 = 2**63
ZONES = st.sampled_from(
    [
        None,
        dt.UTC,
        dt.timezone(dt.timedelta(hours=5, minutes=30)),
        dt.timezone(dt.timedelta(hours=-8)),
    ]
)
DECIMALS = st.one_of(
    st.builds(
        lambda digits, exponent: Decimal128(f"{digits}E{exponent}"),
        st.integers(-(10**34) + 1, 10**34 - 1),
        st.integers(-6176, 6111),
    ),
    st.sampled_from([Decimal128("NaN"), Decimal128("-Infinity"), Decimal128("-0.00")]),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.text(st.characters(exclude_categories=("Cs",))),
    st.integers(-INT64, INT64 - 1),
    st.builds(Int64, st.integers(-INT64, INT64 - 1)),
    st.floats(),
    st.datetimes(dt.datetime(1, 1, 2), dt.datetime(9999, 12, 30), timezones=ZONES),
    st.builds(ObjectId, st.binary(min_size=12, max_size=12)),
    DECIMALS,
    st.binary(),
    st.uuids(),
    st.builds(Binary, st.binary(), st.sampled_from([0, 5, 0x80])),
)
KEYS = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\0"))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(KEYS, inner, max_size=4),
    ),
    max_leaves=20,
)


def read_back(document: dict) -> str:
    """What `json_util` writes for the document once stored as BSON and read back."""
    try:
        data = bson.encode(document, codec_options=CODEC)
    except (InvalidDocument, OverflowError):
        assume(False)  # not a document BSON can hold: mapper rejects it before rendering
    return json_util.dumps(bson.decode(data, codec_options=CODEC), json_options=OPTIONS)


@given(st.dictionaries(KEYS, VALUES, max_size=6))
def test_text_is_json_utils_for_any_document(document: dict) -> None:
    assert canonical(document) == read_back(document)


@pytest.mark.parametrize(
    "value",
    [
        2**31 - 1,
        2**31,
        -(2**31),
        -(2**31) - 1,
        Int64(7),
        True,
        0.1,
        -0.0,
        float("nan"),
        float("-inf"),
        1e300,
        dt.datetime(1969, 12, 31, 23, 59, 59, 999_500, tzinfo=dt.UTC),  # rounds down, to -1 ms
        dt.datetime(2024, 3, 31, 2, 30, 0, 123_999, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        dt.datetime(2024, 3, 31, 2, 30),  # naive: UTC
        Decimal128("3.50"),
        uuid.UUID(int=1),
        b"\x00\xff",
        'é\u2028"\\',
        {"nested": [{"deep": (1, 2)}]},
    ],
)
def test_edge_values_read_back_the_same(value) -> None:
    assert canonical({"v": value}) == read_back({"v": value})


def test_id_comes_first_in_the_document_only_as_bson_stores_it() -> None:
    document = {"title": "t", "_id": ObjectId(b"twelve bytes"), "sub": {"a": 1, "_id": 2}}
    assert canonical(document) == read_back(document)
    assert canonical(document).startswith('{"_id": {"$oid": ')
    assert '"sub": {"a": {"$numberInt": "1"}, "_id"' in canonical(document)
