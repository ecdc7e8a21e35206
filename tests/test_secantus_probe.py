"""What SecantusDB, the test bed's second MongoDB-wire server, supports: the features the tests
that run on it rely on, checked here so that a new version that drops one fails loudly."""

from __future__ import annotations

import bson
import pymongo
import pytest
from pymongo import errors

pytestmark = pytest.mark.parametrize("mongodb_server", ["secantus"], indirect=True)


def test_it_reports_a_mongodb_version_and_a_replica_set(mongo_client) -> None:
    info = mongo_client.admin.command("buildInfo")
    assert info["versionArray"][0] >= 7
    assert mongo_client.admin.command("hello")["isWritablePrimary"] is True


def test_it_stores_decimal128(mongo_db) -> None:
    mongo_db.things.insert_one({"_id": 1, "price": bson.Decimal128("12.345")})
    assert mongo_db.things.find_one()["price"] == bson.Decimal128("12.345")


def test_it_enforces_and_reports_a_json_schema_validator(mongo_db) -> None:
    schema = {"$jsonSchema": {"bsonType": "object", "required": ["name"]}}
    mongo_db.create_collection("things", validator=schema)
    with pytest.raises(errors.WriteError) as refused:
        mongo_db.things.insert_one({"other": 1})
    assert refused.value.code == 121
    (listed,) = mongo_db.list_collections(filter={"name": "things"})
    assert listed["options"]["validator"] == schema
    mongo_db.command("collMod", "things", validator={"$jsonSchema": {"bsonType": "object"}})
    mongo_db.things.insert_one({"other": 1})


def test_it_runs_transactions(mongo_client, mongo_db) -> None:
    mongo_db.create_collection("things")
    with mongo_client.start_session() as session, session.start_transaction():
        mongo_db.things.insert_one({"_id": 1}, session=session)
    with (
        pytest.raises(RuntimeError),
        mongo_client.start_session() as session,
        session.start_transaction(),
    ):
        mongo_db.things.insert_one({"_id": 2}, session=session)
        raise RuntimeError("abort")
    assert [document["_id"] for document in mongo_db.things.find()] == [1]


def test_unordered_bulk_writes_report_each_failure(mongo_db) -> None:
    requests = [
        pymongo.InsertOne({"_id": 1}),
        pymongo.InsertOne({"_id": 1}),
        pymongo.ReplaceOne({"_id": 2}, {"a": 1}, upsert=True),
    ]
    with pytest.raises(errors.BulkWriteError) as failed:
        mongo_db.things.bulk_write(requests, ordered=False)
    details = failed.value.details
    assert [(e["index"], e["code"]) for e in details["writeErrors"]] == [(1, 11000)]
    assert (details["nInserted"], details["nUpserted"]) == (1, 1)


@pytest.mark.parametrize(
    ("kind", "builds"), [(1, True), ("2dsphere", True), ("text", False), ("hashed", False)]
)
def test_index_kinds(mongo_db, kind, builds: bool) -> None:
    """It builds ordered and geo indexes but neither text nor hashed ones (the sink's probe
    finds that out before a run writes anything)."""
    if not builds:
        with pytest.raises(errors.OperationFailure, match="not supported"):
            mongo_db.things.create_index([("field", kind)])
        return
    mongo_db.things.create_index([("field", kind)])
    keys = [dict(index["key"]) for index in mongo_db.things.list_indexes()]
    assert {"field": kind} in keys
