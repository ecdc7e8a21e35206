"""Which BSON conversion each source value family gets, and which overrides can work.

`CONVERSIONS` holds one record per conversion (`Conversion`): what convert, lint, codegen,
the `$jsonSchema` generator and validate know of it. The functions themselves live in
`engine/convert.py`, registered under the record's name. Also the marker a snapshot reads for
a value that Python cannot hold (`Unrepresentable`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bson import Decimal128, ObjectId

# column kind (catalog.column_kind) -> the default conversion
DEFAULT_CONVERSION: dict[str, str] = {
    "bool": "bool",
    "int32": "int",
    "int64": "long",
    "decimal": "decimal128",
    "money": "decimal128",
    "double": "double",
    "uuid": "uuid",
    "text": "string",
    "enum": "string",
    "range": "string",
    "datetime": "datetime",
    "date": "date",
    "time": "time",
    "interval": "interval",
    "json": "json",
    "array": "array",
    "binary": "binary",
    "other": "auto",
}

_NUMBERS = {"int32", "int64", "decimal", "money", "double", "bool"}
_CLAMPABLE = {"date", "datetime", "time", "array"}  # kinds whose values may be clamped


def _parse_bool(text: str) -> bool:
    try:
        return {"true": True, "false": False, "1": True, "0": False}[text.lower()]
    except KeyError:
        raise ValueError("not true, false, 1 or 0") from None


def _parse_decimal(text: str) -> decimal.Decimal:
    try:
        return decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise ValueError("not a decimal number") from None


def _parse_datetime(text: str) -> dt.datetime | dt.date:
    return dt.datetime.fromisoformat(text) if len(text) > 10 else dt.date.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class Conversion:
    """What is known of one conversion besides its function (`engine.convert.get(name)`).

    `accepts`: the column kinds a mapping's `type: NAME` takes (lint refuses others); None
    when a mapping cannot name it (a kind's default only). `bson_types`: the `bsonType`s of
    its values in a `$jsonSchema` (empty: any). `python_types`: the Python types of its
    values, as converted and as read back from the target (empty: not checked). `as_is`: a
    Python test over `v` (with the names `datetime` and `UTC`) that holds when the function
    would return `v` itself, so the generated builder skips the call. `parse`: how it reads
    text (constants, rendered templates; None: the text itself). `clamps`: it has a
    `NAME:clamp` variant (`with_policy`), for the kinds whose values may be clamped."""

    name: str
    accepts: frozenset[str] | None
    bson_types: tuple[str, ...] = ()
    python_types: tuple[type, ...] = ()
    as_is: str | None = None
    parse: Callable[[str], Any] | None = None
    clamps: bool = False


_ANY_KIND = frozenset(DEFAULT_CONVERSION)
_NUMBER_KINDS = frozenset(_NUMBERS | {"other"})
_DATES = frozenset({"date", "datetime", "other"})

CONVERSIONS: dict[str, Conversion] = {
    record.name: record
    for record in (
        Conversion(
            "string", _ANY_KIND, ("string",), (str,), as_is="v.__class__ is str", clamps=True
        ),
        Conversion(
            "int",
            _NUMBER_KINDS,
            ("int", "long"),
            (int,),
            parse=int,
            as_is="v.__class__ is int and -2147483648 <= v <= 2147483647",
        ),
        Conversion("long", _NUMBER_KINDS, ("long",), (int,), parse=int),
        Conversion(
            "double",
            _NUMBER_KINDS - {"bool"},
            ("double",),
            (float,),
            parse=float,
            as_is="v.__class__ is float",
        ),
        Conversion(
            "decimal128",
            _NUMBER_KINDS - {"bool"},
            ("decimal",),
            (Decimal128,),
            parse=_parse_decimal,
        ),
        Conversion(
            "bool",
            frozenset({"bool", "int32", "int64", "other"}),
            ("bool",),
            (bool,),
            parse=_parse_bool,
            as_is="v.__class__ is bool",
        ),
        Conversion(
            "datetime",
            _DATES,
            ("date",),
            (dt.datetime,),
            parse=_parse_datetime,
            as_is="v.__class__ is datetime and v.tzinfo is UTC",
            clamps=True,
        ),
        Conversion("date", _DATES, ("date",), (dt.datetime,), parse=_parse_datetime, clamps=True),
        Conversion("time", None, ("string",), (str,), clamps=True),
        Conversion("interval", None, ("long",), (int,)),
        Conversion(
            "uuid", frozenset({"uuid", "text", "binary", "other"}), ("binData",), (uuid.UUID,)
        ),
        Conversion("objectid", frozenset({"text", "binary", "other"}), ("objectId",), (ObjectId,)),
        Conversion(
            "binary", frozenset({"binary", "uuid", "text", "other"}), ("binData",), (bytes,)
        ),
        Conversion("json", None, (), (dict, list, str, int, float, bool, Decimal128)),
        Conversion("array", None, ("array",), (list,), clamps=True),
        Conversion("auto", None),
    )
}

# a conversion named in a mapping's `type:` -> the column kinds it accepts
ACCEPTS: dict[str, frozenset[str]] = {
    record.name: record.accepts for record in CONVERSIONS.values() if record.accepts is not None
}

# an aggregate function -> the column kinds it takes (PostgreSQL has no sum over text, no
# min over json, bool, uuid, bytea or ranges): anything else is a lint error naming the column
AGGREGATES: dict[str, set[str]] = {
    "sum": _NUMBERS - {"bool"} | {"interval"},
    "avg": _NUMBERS - {"bool"},
    "min": _NUMBERS - {"bool"}
    | {"text", "enum", "datetime", "date", "time", "interval", "array", "other"},
}
AGGREGATES["max"] = AGGREGATES["min"]

# array columns whose elements no conversion reads: a lint error naming the column
UNREADABLE_ELEMENTS: dict[str, str] = {
    "money": "money arrays are locale text: cast them to numeric[] in a view",
}

CLAMP = ":clamp"


def with_policy(conversion: str, kind: str, out_of_range: str) -> str:
    """The conversion a value gets under an `out_of_range` policy: `clamp` writes a date or
    timestamp that Python cannot hold (±infinity, a year outside 1-9999) as the nearest one
    it can (`datetime:clamp`); `reject` (the default) rejects its row."""
    if out_of_range == "clamp" and kind in _CLAMPABLE:
        return conversion + CLAMP
    return conversion


def base(conversion: str) -> str:
    """A conversion's name without its policy (`datetime:clamp` → `datetime`)."""
    return conversion.partition(":")[0]


@dataclass(frozen=True, slots=True)
class Unrepresentable:
    """A source value that no Python value of its type holds: a date or timestamp that is
    ±infinity or outside years 1-9999, a time of 24:00, an interval past a timedelta, or text
    that a driver cannot read as its column's type. The snapshot reads such values as this
    marker instead of failing the whole batch; conversions reject its row (never quoting it)
    or, under `out_of_range: clamp`, write the nearest representable value.

    `end` is +1 past the latest value of `kind`, -1 before the earliest, 0 neither (no clamp);
    `text` is the source's text, which a key made of such a value is known by."""

    kind: str
    end: int
    text: str = field(repr=False)

    def __str__(self) -> str:
        return self.text


_INFINITIES = {"infinity": 1, "-infinity": -1}


def unrepresentable(kind: str, text: str) -> Unrepresentable:
    """The marker of a source's text that its driver could not read as `kind` (date,
    timestamp, timestamptz, time, interval): which end it lies beyond, when it is a date."""
    if text in _INFINITIES:
        return Unrepresentable(kind, _INFINITIES[text], text)
    if kind == "interval":
        return Unrepresentable(kind, 0, text)
    if text.endswith(" BC"):
        return Unrepresentable(kind, -1, text)
    year = text.split("-", 1)[0]
    if kind == "time":
        return Unrepresentable(kind, 1 if text.startswith("24:") else 0, text)
    return Unrepresentable(kind, 1 if year.isdigit() and len(year) > 4 else 0, text)


def parse_text(conversion: str, text: str) -> Any:
    """The value a conversion takes from text (a constant's or a rendered template's):
    `"7"` → 7 for `int`, `"1.50"` → Decimal("1.50") for `decimal128`, ISO 8601 for `date` and
    `datetime`, `true`/`false`/`1`/`0` for `bool`; other conversions take the text itself.
    Raises ValueError when the text does not parse."""
    record = CONVERSIONS.get(conversion)
    return text if record is None or record.parse is None else record.parse(text.strip())


# the column kind a constant of a Python type stands for, to check a `type:` like a column's
CONSTANT_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "bool"),
    (int, "int64"),
    (float, "double"),
    (decimal.Decimal, "decimal"),
    (str, "text"),
    (dt.datetime, "datetime"),
    (dt.date, "date"),
    (bytes, "binary"),
    (dict, "json"),
    (list, "json"),
)


def constant_kind(value: Any) -> str:
    """The column kind whose conversions a constant value can take."""
    return next(
        (kind for python_type, kind in CONSTANT_KINDS if isinstance(value, python_type)), "other"
    )
