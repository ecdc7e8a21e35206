"""Generated `$jsonSchema` validators: shape, documents that satisfy them, server behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapper import api
from mapper.validator import json_schema, violations

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo_plan(demo_sqlite: str):
    with api.prepare([ROOT / "mappings"], demo_sqlite) as prepared:
        yield prepared


def test_demo_documents_satisfy_their_generated_validators(demo_plan) -> None:
    plan, checked = demo_plan.plan, 0
    for name, document in api.preview(demo_plan, 200):
        schema = json_schema(plan.collection(name))["$jsonSchema"]
        assert violations(schema, document) == [], name
        checked += 1
    assert checked == 200 + 10 + 200 + 50


def test_validator_catches_a_wrong_type(demo_plan) -> None:
    plan = demo_plan.plan
    _, document = next(api.preview(demo_plan, 1, ("tasks",)))
    schema = json_schema(plan.collection("tasks"))["$jsonSchema"]
    document["comments"] = [{"body": 3}]
    document["extra"] = 1
    problems = violations(schema, document)
    assert "/comments/0/body: int is not string" in problems
    assert "/extra: not allowed" in problems


def test_validator_shape_of_tasks(demo_plan) -> None:
    schema = json_schema(demo_plan.plan.collection("tasks"))["$jsonSchema"]
    assert schema["required"] == ["_id", "labels", "assignees", "comments"]
    assert schema["properties"]["estimate_hours"] == {"bsonType": "decimal"}
    assert schema["properties"]["comments"]["items"]["properties"]["author"]["bsonType"] == "object"


@pytest.mark.needs_mongodb
def test_server_enforces_the_validator(demo_plan, mongo_url: str, mongo_db) -> None:
    from dataclasses import replace

    from mapper.engine.load import open_sink

    plan = demo_plan.plan
    collection = replace(plan.collection("projects"), validator=True)
    sink = open_sink(mongo_url)
    sink.preflight([collection])
    sink.open(collection, drop=True)
    with pytest.raises(Exception, match="validation"):
        mongo_db.projects.insert_one({"name": 1})


def test_ferretdb_refuses_validators_before_writing(
    demo_plan, mongo_url: str, mongo_db, mongo_client
) -> None:
    from dataclasses import replace

    from conftest import is_ferretdb

    from mapper.engine.load import open_sink
    from mapper.errors import UsageError

    if not is_ferretdb(mongo_client):
        pytest.skip("the target enforces validators")
    collection = replace(demo_plan.plan.collection("users"), validator=True)
    with pytest.raises(UsageError, match="does not support collection validators"):
        open_sink(mongo_url).preflight([collection])
    assert mongo_db.list_collection_names() == []


def test_validate_checks_documents_against_the_validator_itself(
    demo_sqlite, mongo_url, mongo_db, tmp_path
) -> None:
    """On a server that does not enforce validators, `validate` checks the schema."""
    from dataclasses import replace

    with api.prepare([ROOT / "mappings" / "projects.yaml"], demo_sqlite) as prepared:
        api.migrate(
            prepared,
            mongo_url,
            api.MigrateOptions(rejects=tmp_path / "rejects", state=tmp_path / "state"),
        )
        plan = prepared.plan
        checked = replace(
            prepared,
            plan=replace(plan, collections=(replace(plan.collections[0], validator=True),)),
        )
        assert api.validate(checked, mongo_url).ok

        mongo_db.projects.update_one({}, {"$set": {"status": 3, "surprise": True}})
        report = api.validate(checked, mongo_url)
    assert not report.ok
    schema = [d for d in report.differences if d.check == "schema"]
    assert {d.path for d in schema} >= {"status", "surprise"}
    assert report.collections[0].checks["schema"].failed == 1
