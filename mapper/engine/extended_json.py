"""Canonical Extended JSON text of a built document, byte for byte as pymongo writes it.

The file sink writes a line of this per document. `json_util.dumps` would first decode the
document's BSON, then send every value, strings included, through a generic dispatch: that
took longer than building and encoding the document. Here the built document is walked once:
strings, booleans and nulls pass through, the types mapper's documents hold (numbers, dates,
ObjectIds, Decimal128) are converted by exact type, and any other value by
`json_util.default`. tests/test_extended_json.py checks the text against `json_util.dumps` of
the decoded BSON on generated documents.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from bson import Decimal128, Int64, ObjectId, json_util
from bson.binary import UuidRepresentation

OPTIONS = json_util.JSONOptions(
    json_mode=json_util.JSONMode.CANONICAL, uuid_representation=UuidRepresentation.STANDARD
)
_INT32 = 2**31  # BSON encodes a Python int in [-2**31, 2**31) as int32, others as int64
_EPOCH, _NAIVE_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC), dt.datetime(1970, 1, 1)
_MILLISECOND = dt.timedelta(milliseconds=1)
Wrapper = dict[str, object]  # a typed value's Extended JSON: `{"$numberLong": "5"}`


def canonical(document: Mapping[str, Any]) -> str:
    """The document as canonical Extended JSON, as it reads back once stored as BSON (where
    `_id` comes first)."""
    converted = _convert(document)
    if "_id" in converted and next(iter(converted)) != "_id":
        converted = {"_id": converted.pop("_id"), **converted}
    return json.dumps(converted)


def _convert(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is list or kind is tuple:
        return [_convert(item) for item in value]
    typed = _TYPED.get(kind)
    if typed is not None:
        return typed(value)
    if kind is dict or isinstance(value, Mapping):
        return {key: _convert(item) for key, item in value.items()}
    return json_util.default(value, OPTIONS)


def _int(value: int) -> Wrapper:
    return {"$numberInt" if -_INT32 <= value < _INT32 else "$numberLong": str(value)}


def _float(value: float) -> Wrapper:
    if math.isfinite(value):
        return {"$numberDouble": repr(value)}
    special: Wrapper = json_util.default(value, OPTIONS)  # NaN, ±Infinity: as pymongo names them
    return special


def _datetime(value: dt.datetime) -> Wrapper:
    """Milliseconds since the epoch, rounded down, as BSON stores the instant (naive: UTC)."""
    if value.utcoffset() is None:
        since = value.replace(tzinfo=None) - _NAIVE_EPOCH
    else:
        since = value - _EPOCH
    return {"$date": {"$numberLong": str(since // _MILLISECOND)}}


_TYPED: dict[type, Callable[[Any], Wrapper]] = {  # by exact type: each takes its own
    int: _int,
    float: _float,
    dt.datetime: _datetime,
    ObjectId: lambda value: {"$oid": value.binary.hex()},
    Decimal128: lambda value: {"$numberDecimal": str(value)},
    Int64: lambda value: {"$numberLong": str(value)},
}
