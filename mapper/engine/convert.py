"""SQL values → BSON values, by explicit, documented policies (one function per conversion).

| conversion  | result                                                                  |
|-------------|-------------------------------------------------------------------------|
| string      | str; other values as their text (UUID lowercase, datetimes ISO 8601)    |
| int / long  | int32 / int64 (an int that needs 64 bits stays int64); non-integral → error |
| double      | float                                                                   |
| decimal128  | Decimal128 of the exact decimal text; NaN/±Infinity kept as Decimal128  |
|             | specials; more than 34 significant digits → error                       |
| bool        | bool                                                                    |
| datetime    | UTC datetime (naive values are UTC); BSON keeps milliseconds            |
| date        | a date → datetime at 00:00 UTC; a datetime → its UTC date at 00:00      |
| time        | "HH:MM:SS[.ffffff][+HH:MM]" text                                        |
| interval    | Int64 microseconds (psycopg2 reads a month as 30 days); past int64 → error |
| uuid        | UUID (BSON binary subtype 4); text is parsed                            |
| objectid    | ObjectId from 24 hex digits or 12 bytes                                 |
| binary      | bytes; text as UTF-8                                                    |
| json        | documents and arrays as stored; keys with `.` or a leading `$` → error  |
| array       | list, elements converted by their Python type (`auto`)                  |
| auto        | by Python type, as above                                                |

Which conversion a column gets by default is `types.DEFAULT_CONVERSION`, by the column's kind
(`catalog.column_kind`): integers → int / long, numeric → decimal128, money → decimal128 (cast
to numeric in SQL), floats → double, text, varchar, char(n) (padded) and enums → string, uuid,
timestamps → datetime, date, time (also with a zone), interval, json / jsonb → json, arrays →
array (the snapshot reads arrays of enums, domains, uuid or bit as lists), bytea → binary,
ranges → string (their text, as the snapshot reads them), domains as their base type, and
anything else (inet, xml, tsvector, point, bit, composite types; SQLite columns of a type it
knows only by affinity) → auto, which gives PostgreSQL's text of the value or SQLite's stored
value. `docs/mapping-language.md` ("Types") lists every source type with its BSON value.

NULL is handled by the caller (omit or keep), never here.

A value the source's driver could not read (`types.Unrepresentable`: a date or timestamp that
is ±infinity or outside years 1-9999, a time of 24:00, an interval past a timedelta, text that
is not its column's type) is refused by every conversion, which rejects its row; the
`NAME:clamp` variants of the date conversions (`out_of_range: clamp`) write a date or time
past either end as that end instead: 9999-12-31 (23:59:59.999) or 0001-01-01 (00:00).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from bson import Decimal128, Int64, ObjectId
from bson.decimal128 import create_decimal128_context
from bson.errors import InvalidId

from mapper.ids import oid
from mapper.plan import DocumentId
from mapper.types import CLAMP, CONVERSIONS, Unrepresentable, base, parse_text

Converter = Callable[[Any], Any]
RowValues = Sequence[Any] | Mapping[int, Any]  # a row's values by select index
_Function = TypeVar("_Function", bound=Converter)  # a conversion keeps its own result type
_DECIMAL128 = create_decimal128_context()
MAX_JSON_DEPTH = 100
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class ConversionFailed(ValueError):
    """A value that this conversion cannot represent; the message never holds the value."""


_registry: dict[str, Converter] = {}


def converter(name: str) -> Callable[[_Function], _Function]:
    """Register the function of a conversion that `types.CONVERSIONS` records (by name)."""

    def register(function: _Function) -> _Function:
        if name in _registry:
            raise ValueError(f"conversion {name!r} registered twice")
        if base(name) not in CONVERSIONS:
            raise ValueError(f"conversion {name!r} has no record in types.CONVERSIONS")
        _registry[name] = function
        return function

    return register


def _refused(value: Any, otherwise: str) -> ConversionFailed:
    """Why a conversion refuses `value`: `otherwise`, or what makes a marker unreadable."""
    if type(value) is not Unrepresentable:
        return ConversionFailed(otherwise)
    kind = value.kind
    if kind == "interval":
        return ConversionFailed("interval too large for a timedelta (999,999,999 days)")
    if value.end:
        what = (
            "past a day's last, 23:59:59.999999"
            if kind == "time"
            else "infinite, or a year outside 1-9999"
        )
        return ConversionFailed(
            f"{kind} out of range ({what}): `out_of_range: clamp` writes the nearest one instead"
        )
    return ConversionFailed(f"the source's value is not a valid {kind}")


def get(name: str) -> Converter:
    try:
        return _registry[name]
    except KeyError:
        raise ConversionFailed(f"unknown conversion `{name}`") from None


def _integral(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float | decimal.Decimal) and value == value and value % 1 == 0:
        return int(value)
    if isinstance(value, str):
        raise ConversionFailed("text is not an integer")
    raise ConversionFailed("not an integral number")


@converter("int")
def to_int(value: Any) -> int | Int64:
    number = _integral(value)
    return number if -(2**31) <= number < 2**31 else Int64(number)


@converter("long")
def to_long(value: Any) -> Int64:
    number = _integral(value)
    if not -(2**63) <= number < 2**63:
        raise ConversionFailed("integer beyond 64 bits")
    return Int64(number)


@converter("double")
def to_double(value: Any) -> float:
    if isinstance(value, str | Unrepresentable):
        raise _refused(value, "text is not a number")
    return float(value)


@converter("decimal128")
def to_decimal128(value: Any) -> Decimal128:
    if type(value) is decimal.Decimal:
        sign, digits, exponent = value.as_tuple()
        if (
            type(exponent) is int
            and len(digits) <= 34
            and BID_EXPONENTS[0] <= exponent <= BID_EXPONENTS[1]
        ):
            return _bid(sign, int(value.scaleb(-exponent, _DECIMAL128).copy_abs()), exponent)
    if isinstance(value, float):
        value = decimal.Decimal(repr(value))
    elif isinstance(value, int):
        value = decimal.Decimal(value)
    elif not isinstance(value, decimal.Decimal):
        raise _refused(value, "not a number")
    with decimal.localcontext(_DECIMAL128) as context:
        exact = context.create_decimal(value)
        if context.flags[decimal.Inexact] or context.flags[decimal.Rounded]:
            raise ConversionFailed("more than 34 significant digits")
    return Decimal128(exact)


BID_EXPONENTS = (-6176, 6111)  # the exponents a 34-digit significand takes without clamping
_LOW_64 = (1 << 64) - 1


def _bid(sign: int, significand: int, exponent: int) -> Decimal128:
    """A finite Decimal128 from its parts, encoded directly (IEEE 754-2008 BID: a significand
    of at most 34 digits is below 2**113, so the short form always applies)."""
    high = sign << 63 | (exponent - BID_EXPONENTS[0]) << 49 | significand >> 64
    # bson annotates only a (sign, digits, exponent) tuple; Decimal128 takes (high, low) too
    return Decimal128((high, significand & _LOW_64))  # type: ignore[arg-type]


@converter("bool")
def to_bool(value: Any) -> bool:
    if isinstance(value, bool | int):
        return bool(value)
    raise _refused(value, "not a boolean")


_ZERO = dt.timedelta(0)
_UTC_ZONES: set[dt.tzinfo] = {dt.UTC}  # fixed zones seen with a zero offset


@converter("datetime")
def to_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        zone = value.tzinfo
        if zone in _UTC_ZONES:
            return value
        if zone is None:
            return value.replace(tzinfo=dt.UTC)
        if zone.utcoffset(None) == _ZERO:
            _UTC_ZONES.add(zone)
            return value
        return value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    raise _refused(value, "not a date or timestamp")


@converter("date")
def to_date(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        value = to_datetime(value).date()
    return to_datetime(value)


@converter("time")
def to_time(value: Any) -> str:
    if not isinstance(value, dt.time):
        raise _refused(value, "not a time")
    return value.isoformat()


@converter("interval")
def to_interval(value: Any) -> Int64:
    if not isinstance(value, dt.timedelta):
        raise _refused(value, "not an interval")
    microseconds = value // _MICROSECOND
    if not INT64_MIN <= microseconds <= INT64_MAX:
        raise ConversionFailed("interval beyond int64 microseconds (about 292,000 years)")
    return Int64(microseconds)


_MICROSECOND = dt.timedelta(microseconds=1)


@converter("uuid")
def to_uuid(value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        if isinstance(value, bytes) and len(value) == 16:
            return uuid.UUID(bytes=value)
        if type(value) is not Unrepresentable:
            return uuid.UUID(str(value))
    except ValueError:
        pass
    raise _refused(value, "not a UUID")


@converter("objectid")
def to_objectid(value: Any) -> ObjectId:
    try:
        return ObjectId(value)
    except (TypeError, ValueError, InvalidId):
        raise ConversionFailed("not an ObjectId (24 hex digits or 12 bytes)") from None


@converter("binary")
def to_binary(value: Any) -> bytes:
    if isinstance(value, uuid.UUID):
        return value.bytes
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise ConversionFailed("not binary")


@converter("string")
def to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):  # a JSON value, an array: its JSON text
        return _json_text(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bool):  # as SQL and JSON write it, not Python's `True`
        return "true" if value else "false"
    if isinstance(value, decimal.Decimal):  # positional, as SQL writes it, not `1E-7`
        return format(value, "f")
    if isinstance(value, bytes | memoryview | Unrepresentable):
        raise _refused(value, "binary is not text")
    return str(value)


def _json_text(value: dict[str, Any] | list[Any]) -> str:
    """A JSON value or an array as JSON text (PostgreSQL's spacing, characters as they are),
    where Python's `str` would write its own repr (`{'a': True}`); an array of values JSON
    has no text for (dates, decimals, binary, NaN) is refused."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        raise ConversionFailed(
            "holds values JSON has no text for (dates, decimals, binary, NaN): "
            "leave the array as it is (no `type: string`)"
        ) from None


def _json(value: Any, depth: int = 0) -> Any:
    """Check a JSON value in place; copy only what BSON cannot take as it is (integers past
    64 bits and decimals become Decimal128). Scalars of JSON's own types are passed over
    without a call: this runs for every value of every JSON column."""
    if depth > MAX_JSON_DEPTH:
        raise ConversionFailed(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    kind = type(value)
    mapping = kind is dict or (kind is not list and isinstance(value, dict))
    if mapping or kind is list or isinstance(value, list):
        copied = None
        for key, item in value.items() if mapping else enumerate(value):
            if mapping and (
                type(key) is not str or "." in key or key.startswith("$") or "\0" in key
            ):
                raise ConversionFailed("JSON key with `.`, a leading `$` or NUL")
            kind = type(item)
            if (
                kind is str
                or kind is float
                or kind is bool
                or item is None
                or (kind is int and INT64_MIN <= item <= INT64_MAX)
            ):
                continue
            converted = _json(item, depth + 1)
            if converted is not item:
                copied = copied or (dict(value) if mapping else list(value))
                copied[key] = converted
        return value if copied is None else copied
    if isinstance(value, decimal.Decimal) or (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not INT64_MIN <= value <= INT64_MAX
    ):
        return to_decimal128(value)
    return value


@converter("json")
def to_json(value: Any) -> Any:
    if type(value) is Unrepresentable:
        raise _refused(value, "")
    return _json(value)


@converter("auto")
def to_auto(value: Any) -> Any:
    if value is None or isinstance(value, bool | str | float | uuid.UUID):
        return value
    if isinstance(value, int):
        return to_int(value)
    if isinstance(value, decimal.Decimal):
        return to_decimal128(value)
    if isinstance(value, dt.datetime | dt.date):
        return to_datetime(value)
    if isinstance(value, dt.time):
        return to_time(value)
    if isinstance(value, dt.timedelta):
        return to_interval(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dict):
        return to_json(value)
    if isinstance(value, list | tuple):
        return [to_auto(item) for item in value]
    raise _refused(value, f"no conversion for {type(value).__name__}")


@converter("array")
def to_array(value: Any) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise ConversionFailed("not an array")
    return [to_auto(item) for item in value]


_ENDS: dict[tuple[str, int], Any] = {
    ("date", 1): dt.date.max,
    ("date", -1): dt.date.min,
    ("timestamp", 1): dt.datetime.max,
    ("timestamp", -1): dt.datetime.min,
    ("timestamptz", 1): dt.datetime.max.replace(tzinfo=dt.UTC),
    ("timestamptz", -1): dt.datetime.min.replace(tzinfo=dt.UTC),
    ("time", 1): dt.time.max,
}


def _clamped(value: Any) -> Any:
    """A marked date or time past either end as that end (in arrays too); others as they
    are (a marker that has no end stays, and its conversion refuses it)."""
    kind = type(value)
    if kind is Unrepresentable:
        return _ENDS.get((value.kind, value.end), value)
    if kind is list:
        return [_clamped(item) for item in value]
    return value


def _clamping(conversion: Converter) -> Converter:
    def clamping(value: Any) -> Any:
        return conversion(_clamped(value))

    return clamping


for _record in CONVERSIONS.values():
    if _record.clamps:  # for types.with_policy
        converter(_record.name + CLAMP)(_clamping(_registry[_record.name]))


def from_text(conversion: str, text: str) -> Any:
    """A text (a rendered template's) as the value of `conversion`: parsed first where the
    conversion takes numbers, dates or booleans (`types.parse_text`)."""
    try:
        value = parse_text(conversion, text)
    except ValueError:  # its message may quote the text: a row's contents
        raise ConversionFailed(f"text does not parse as {conversion}") from None
    return get(conversion)(value)


def constant(conversion: str | None, value: Any) -> Any:
    """A mapping's constant `{value: X, type: T}` as written: text parsed as for templates,
    other values converted as they are; without a type, the value itself."""
    if conversion is None or value is None:
        return value
    return from_text(conversion, value) if isinstance(value, str) else get(conversion)(value)


def document_id(shape: DocumentId, row: RowValues) -> Any:
    """An `_id` from a row's key values: oid, the key itself (composite: a sub-document), or a
    column's value; None when a key value is NULL (no related row)."""
    values = [row[i] for i in shape.indexes]
    if any(value is None for value in values):
        return None
    if shape.rule == "oid":
        return oid(shape.table, values)
    converted = [
        get(name)(value)
        for name, value in zip(shape.conversions or ("auto",) * len(values), values, strict=True)
    ]
    if shape.rule == "key" and len(values) > 1:
        return dict(zip(shape.columns, converted, strict=True))
    return converted[0]
