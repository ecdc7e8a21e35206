"""A collection's `$jsonSchema` validator, generated from its plan's document shape.

Used when a mapping asks for `validator: true` (attached to the target collection) and by
`mapper validate`, which checks documents against it itself (servers such as FerretDB do not
enforce validators).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import bson

from mapper import plan as p
from mapper.types import CONVERSIONS, base


def json_schema(collection: p.CollectionPlan) -> dict[str, Any]:
    """The validator document: `{"$jsonSchema": {...}}`."""
    return {"$jsonSchema": _object(collection.document)}


def _object(shape: p.SubDocument) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "bsonType": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }
    for field in shape.fields:
        value = _field(field)
        if value is not None:  # None: a depth guard, no field of its own
            _insert(schema, field.path, value, _required(field))
    return schema


def _insert(
    schema: dict[str, Any], path: p.FieldPath, value: dict[str, Any], required: bool
) -> None:
    for part in path[:-1]:
        schema = schema["properties"].setdefault(
            part,
            {"bsonType": "object", "properties": {}, "required": [], "additionalProperties": False},
        )
    schema["properties"][path[-1]] = value
    if required:
        schema["required"].append(path[-1])


def _required(field: p.Shape) -> bool:
    if isinstance(field, p.Children | p.Constant):
        return True
    if isinstance(field, p.DocumentId) and field.path == ("_id",):
        return True
    return bool(getattr(field, "keep_null", False))


def _types(names: list[str], keep_null: bool) -> dict[str, Any]:
    types = names + (["null"] if keep_null else [])
    return {"bsonType": types[0] if len(types) == 1 else types}


def _value(field: p.Value | p.Template | p.Length) -> dict[str, Any]:
    names = list(CONVERSIONS[base(field.conversion)].bson_types)
    return _types(names, field.keep_null) if names else {}


def _sub_document(field: p.SubDocument) -> dict[str, Any]:
    schema = _object(field)
    if field.keep_null:
        schema["bsonType"] = ["object", "null"]
    return schema


def _array(field: p.Children) -> dict[str, Any]:
    schema: dict[str, Any] = {"bsonType": "array", "items": _field(field.element)}
    if field.limit is not None:
        schema["maxItems"] = field.limit
    return schema


# a field's schema, by its kind (None: no field of its own)
_field: Callable[[p.Shape], dict[str, Any] | None] = p.by_kind(
    {
        p.Value: _value,
        p.Template: _value,
        p.Length: _value,
        p.DocumentId: lambda field: (
            _types(["objectId"], field.keep_null) if field.rule == "oid" else {}
        ),
        p.SubDocument: _sub_document,
        p.Children: _array,
        p.Constant: lambda field: {},
        p.DepthGuard: lambda field: None,
    }
)


_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "int": (int,),
    "long": (bson.Int64, int),
    "double": (float,),
    "decimal": (bson.Decimal128,),
    "bool": (bool,),
    "date": (dt.datetime,),
    "binData": (uuid.UUID, bytes),
    "objectId": (bson.ObjectId,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def violations(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """Where a decoded document breaks a generated `$jsonSchema` (the subset emitted above),
    checked here so that servers which do not enforce validators are covered too."""
    names = schema.get("bsonType")
    if names is not None:
        names = [names] if isinstance(names, str) else names
        allowed = tuple(kind for name in names for kind in _PYTHON_TYPES[name])
        if not isinstance(value, allowed) or (isinstance(value, bool) and "bool" not in names):
            return [f"{path or '/'}: {type(value).__name__} is not {' or '.join(names)}"]
    found: list[str] = []
    if isinstance(value, dict) and "properties" in schema:
        found += [
            f"{path}/{name}: missing" for name in schema.get("required", []) if name not in value
        ]
        for name, item in value.items():
            if name in schema["properties"]:
                found += violations(schema["properties"][name], item, f"{path}/{name}")
            elif schema.get("additionalProperties") is False:
                found.append(f"{path}/{name}: not allowed")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += violations(schema["items"], item, f"{path}/{index}")
        if len(value) > schema.get("maxItems", len(value)):
            found.append(f"{path}: more than {schema['maxItems']} elements")
    return found
