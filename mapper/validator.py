"""A collection's `$jsonSchema` validator, generated from its plan's document shape.

Used when a mapping asks for `validator: true` (attached to the target collection) and by
`mapper validate`, which checks documents against it itself (servers such as FerretDB do not
enforce validators).
"""

from __future__ import annotations

from typing import Any

from mapper import plan as p

BSON_TYPES: dict[str, list[str]] = {
    "string": ["string"], "int": ["int", "long"], "long": ["long"], "double": ["double"],
    "decimal128": ["decimal"], "bool": ["bool"], "datetime": ["date"], "date": ["date"],
    "time": ["string"], "interval": ["long"], "uuid": ["binData"], "objectid": ["objectId"],
    "binary": ["binData"], "array": ["array"],
}


def json_schema(collection: p.CollectionPlan) -> dict[str, Any]:
    """The validator document: `{"$jsonSchema": {...}}`."""
    return {"$jsonSchema": _object(collection.document)}


def _object(shape: p.SubDocument) -> dict[str, Any]:
    schema: dict[str, Any] = {"bsonType": "object", "properties": {}, "required": [],
                              "additionalProperties": False}
    for field in shape.fields:
        _insert(schema, field.path, _field(field), _required(field))
    return schema


def _insert(schema: dict, path: p.FieldPath, value: dict, required: bool) -> None:
    for part in path[:-1]:
        schema = schema["properties"].setdefault(part, {
            "bsonType": "object", "properties": {}, "required": [],
            "additionalProperties": False})
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


def _field(field: p.Shape) -> dict[str, Any]:
    if isinstance(field, p.Value | p.Template):
        names = BSON_TYPES.get(field.conversion)
        return _types(names, field.keep_null) if names else {}
    if isinstance(field, p.DocumentId):
        return _types(["objectId"], field.keep_null) if field.rule == "oid" else {}
    if isinstance(field, p.SubDocument):
        schema = _object(field)
        if field.keep_null:
            schema["bsonType"] = ["object", "null"]
        return schema
    if isinstance(field, p.Children):
        element = field.element
        items = _object(element) if isinstance(element, p.SubDocument) else _field(element)
        schema = {"bsonType": "array", "items": items}
        if field.limit is not None:
            schema["maxItems"] = field.limit
        return schema
    if isinstance(field, p.Constant):
        return {}
    raise TypeError(f"unknown shape {field!r}")
