"""Generated `$jsonSchema` validators: shape, documents that satisfy them, server behaviour."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import bson
import pytest

from mapper import pipeline
from mapper.engine.preview import preview
from mapper.validator import json_schema

ROOT = Path(__file__).resolve().parent.parent
_PYTHON_TYPES = {"string": str, "int": int, "long": (bson.Int64, int), "double": float,
                 "decimal": bson.Decimal128, "bool": bool, "date": dt.datetime,
                 "binData": (uuid.UUID, bytes), "objectId": bson.ObjectId, "object": dict,
                 "array": list, "null": type(None)}


def violations(schema: dict, value: Any, path: str = "") -> list[str]:
    """A small checker of the $jsonSchema subset the generator emits."""
    found: list[str] = []
    names = schema.get("bsonType")
    if names is not None:
        names = [names] if isinstance(names, str) else names
        if not isinstance(value, tuple(_flatten(_PYTHON_TYPES[n] for n in names))) or (
                isinstance(value, bool) and "bool" not in names):
            return [f"{path or '/'}: {type(value).__name__} is not {names}"]
    if isinstance(value, dict) and "properties" in schema:
        for name in schema.get("required", []):
            if name not in value:
                found.append(f"{path}/{name}: missing")
        for name, item in value.items():
            if name not in schema["properties"]:
                if schema.get("additionalProperties") is False:
                    found.append(f"{path}/{name}: not allowed")
                continue
            found += violations(schema["properties"][name], item, f"{path}/{name}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += violations(schema["items"], item, f"{path}/{index}")
    return found


def _flatten(items):
    for item in items:
        yield from (item if isinstance(item, tuple) else (item,))


@pytest.fixture(scope="module")
def demo_plan(demo_sqlite: str):
    mappings = pipeline.read([ROOT / "mappings"])
    engine = pipeline.connect(demo_sqlite)
    catalog = pipeline.reflect(engine, mappings)
    plan, _ = pipeline.plan(mappings, catalog)
    return plan, engine, catalog


def test_demo_documents_satisfy_their_generated_validators(demo_plan) -> None:
    plan, engine, catalog = demo_plan
    checked = 0
    for name, document in preview(plan, engine, catalog, 200):
        schema = json_schema(plan.collection(name))["$jsonSchema"]
        assert violations(schema, document) == [], name
        checked += 1
    assert checked == 200 + 10 + 200 + 50


def test_validator_catches_a_wrong_type(demo_plan) -> None:
    plan, engine, catalog = demo_plan
    _, document = next(preview(plan, engine, catalog, 1, ("tasks",)))
    schema = json_schema(plan.collection("tasks"))["$jsonSchema"]
    document["comments"] = [{"body": 3}]
    document["extra"] = 1
    problems = violations(schema, document)
    assert "/comments/0/body: int is not ['string']" in problems
    assert "/extra: not allowed" in problems


def test_validator_shape_of_tasks(demo_plan) -> None:
    schema = json_schema(demo_plan[0].collection("tasks"))["$jsonSchema"]
    assert schema["required"] == ["_id", "labels", "assignees", "comments"]
    assert schema["properties"]["estimate_hours"] == {"bsonType": "decimal"}
    assert schema["properties"]["comments"]["items"]["properties"]["author"]["bsonType"] \
        == "object"


@pytest.mark.needs_mongodb
def test_server_enforces_the_validator(demo_plan, mongo_url: str, mongo_db) -> None:
    from dataclasses import replace

    from mapper.engine.load import open_sink

    plan = demo_plan[0]
    collection = replace(plan.collection("projects"), validator=True)
    sink = open_sink(mongo_url)
    sink.preflight([collection])
    sink.open(collection, drop=True)
    with pytest.raises(Exception, match="validation"):
        mongo_db.projects.insert_one({"name": 1})


def test_ferretdb_refuses_validators_before_writing(demo_plan, mongo_url: str, mongo_db,
                                                    mongo_client) -> None:
    from dataclasses import replace

    from conftest import is_ferretdb

    from mapper.engine.load import open_sink
    from mapper.errors import TargetError

    if not is_ferretdb(mongo_client):
        pytest.skip("the target enforces validators")
    collection = replace(demo_plan[0].collection("users"), validator=True)
    with pytest.raises(TargetError, match="does not support collection validators"):
        open_sink(mongo_url).preflight([collection])
    assert mongo_db.list_collection_names() == []
