"""Comparing BSON values: canonical forms, readable differences, the types conversions promise."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterator
from typing import Any

from bson import Decimal128, Int64, ObjectId, json_util
from bson.binary import UuidRepresentation

from mapper.types import CONVERSIONS

SHOW_CHARS = 200
_JSON = json_util.JSONOptions(
    json_mode=json_util.JSONMode.RELAXED, uuid_representation=UuidRepresentation.STANDARD
)


class _Missing:
    """A field that is absent from a document (not the same as null)."""

    def __repr__(self) -> str:
        return "(absent)"


MISSING = _Missing()


class Approximately(float):
    """An expected double that SQL may have summed in another order (`avg`, sums of
    doubles): equal to an actual double within a relative 1e-9."""


def _close(expected: Any, actual: Any) -> bool:
    return (
        isinstance(expected, Approximately)
        and isinstance(actual, float)
        and math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-300)
    )


def canon(value: Any) -> Any:
    """A hashable form equal for equal BSON values: types count, datetimes in UTC milliseconds.

    int32 and int64 compare equal (the type check tells them apart); key order is ignored.
    """
    if value is None or value is MISSING or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", int(value))
    if isinstance(value, float):
        return ("double", "nan" if value != value else value)
    if isinstance(value, Decimal128):
        return ("decimal", str(value))
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return ("date", value.replace(microsecond=value.microsecond // 1000 * 1000))
    if isinstance(value, dict):
        return ("doc", tuple(sorted((key, canon(item)) for key, item in value.items())))
    if isinstance(value, list | tuple):
        return ("array", tuple(canon(item) for item in value))
    if isinstance(value, bytes | bytearray | memoryview):
        return ("binary", bytes(value))
    if isinstance(value, uuid.UUID | ObjectId):
        return (type(value).__name__, value)
    return (type(value).__name__, repr(value))


def show(value: Any) -> str:
    """A short, readable text of a value (Extended JSON, relaxed)."""
    if value is MISSING:
        return "(absent)"
    try:
        text = json_util.dumps(value, json_options=_JSON, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= SHOW_CHARS else text[: SHOW_CHARS - 1] + "…"


def diff(expected: Any, actual: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(path, expected, actual) of every place where two documents differ."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in [*expected, *(k for k in actual if k not in expected)]:
            yield from diff(
                expected.get(key, MISSING),
                actual.get(key, MISSING),
                f"{path}.{key}" if path else key,
            )
    elif isinstance(expected, list) and isinstance(actual, list):
        for index in range(max(len(expected), len(actual))):
            yield from diff(
                expected[index] if index < len(expected) else MISSING,
                actual[index] if index < len(actual) else MISSING,
                f"{path}[{index}]",
            )
    elif canon(expected) != canon(actual) and not _close(expected, actual):
        yield path, expected, actual


def at(document: Any, path: tuple[str, ...], where: str = "") -> Iterator[tuple[str, Any]]:
    """(concrete path, value) of what a document holds at an abstract path (`*`: each element)."""
    if not path:
        yield where, document
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(document, list):
            for index, item in enumerate(document):
                yield from at(item, rest, f"{where}[{index}]")
    elif isinstance(document, dict) and head in document:
        yield from at(document[head], rest, f"{where}.{head}" if where else head)


def get(document: Any, path: tuple[str, ...]) -> Any:
    """The value at a path of nested documents, or MISSING."""
    for part in path:
        if not isinstance(document, dict) or part not in document:
            return MISSING
        document = document[part]
    return document


BSON_NAMES = {
    bool: "bool",
    int: "int",
    Int64: "long",
    float: "double",
    str: "string",
    Decimal128: "decimal",
    dt.datetime: "date",
    uuid.UUID: "uuid (binary 4)",
    ObjectId: "objectId",
    bytes: "binData",
    dict: "object",
    list: "array",
}


def type_ok(conversion: str, value: Any) -> bool:
    """Whether a stored value has the BSON type that `conversion` promises."""
    record = CONVERSIONS.get(conversion)
    types = record.python_types if record else ()
    if not types:
        return True
    if isinstance(value, bool) and bool not in types:
        return False
    if conversion == "int" and isinstance(value, Int64):
        return not -(2**31) <= value < 2**31  # `in range` is linear for int subclasses
    return isinstance(value, types)


def bson_type(value: Any) -> str:
    return BSON_NAMES.get(type(value), type(value).__name__)
