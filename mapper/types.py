"""Which BSON conversion each source value family gets, and which overrides can work.

The conversions themselves live in `engine/convert.py`; this table is what lint checks.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
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
