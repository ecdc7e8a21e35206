"""Which BSON conversion each source value family gets, and which overrides can work.

The conversions themselves live in `engine/convert.py`; this table is what lint checks.
"""

from __future__ import annotations

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
