"""Which BSON conversion each source value family gets, and which overrides can work.

The conversions themselves live in `engine/convert.py`; this table is what lint checks. Also
the marker a snapshot reads for a value that Python cannot hold (`Unrepresentable`).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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

# a conversion named in a mapping's `type:` -> the column kinds it accepts
ACCEPTS: dict[str, set[str]] = {
    "string": set(DEFAULT_CONVERSION),
    "decimal128": _NUMBERS - {"bool"} | {"other"},
    "double": _NUMBERS - {"bool"} | {"other"},
    "int": _NUMBERS | {"other"},
    "long": _NUMBERS | {"other"},
    "bool": {"bool", "int32", "int64", "other"},
    "date": {"date", "datetime", "other"},
    "datetime": {"date", "datetime", "other"},
    "uuid": {"uuid", "text", "binary", "other"},
    "objectid": {"text", "binary", "other"},
    "binary": {"binary", "uuid", "text", "other"},
}

# an aggregate function -> the column kinds it takes (PostgreSQL has no sum over text, no
# min over json, bool, uuid, bytea or ranges): anything else is a lint error naming the column
AGGREGATES: dict[str, set[str]] = {
    "sum": _NUMBERS - {"bool"} | {"interval"},
    "avg": _NUMBERS - {"bool"},
    "min": _NUMBERS - {"bool"} | {"text", "enum", "datetime", "date", "time", "interval",
                                  "array", "other"},
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
    parse = _TEXT_PARSERS.get(conversion)
    return text if parse is None else parse(text.strip())


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


_TEXT_PARSERS: dict[str, Callable[[str], Any]] = {
    "int": int, "long": int, "double": float, "decimal128": _parse_decimal,
    "bool": _parse_bool, "date": _parse_datetime, "datetime": _parse_datetime,
}

# the column kind a constant of a Python type stands for, to check a `type:` like a column's
CONSTANT_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "bool"), (int, "int64"), (float, "double"), (decimal.Decimal, "decimal"),
    (str, "text"), (dt.datetime, "datetime"), (dt.date, "date"), (bytes, "binary"),
    (dict, "json"), (list, "json"),
)


def constant_kind(value: Any) -> str:
    """The column kind whose conversions a constant value can take."""
    return next((kind for python_type, kind in CONSTANT_KINDS if isinstance(value, python_type)),
                "other")
