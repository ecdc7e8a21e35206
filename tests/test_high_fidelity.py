"""End to end on a server with MongoDB's features (SecantusDB in the test bed, or the MongoDB
that the environment names): what FerretDB 1.x cannot show. Decimal128 with the default
`--decimal-as decimal128`, then `validate --full`; a `validator: true` mapping whose server
refuses a tampered document; the type matrix as stored by the server."""

from __future__ import annotations

import json
from pathlib import Path

import bson
import pytest
from conftest import ROOT, mapper_cli, postgres_database
from pymongo import errors

from mapper import api
from mapper.validator import json_schema

pytestmark = pytest.mark.needs_mongodb
MAPPINGS = ROOT / "mappings"
VALIDATION_FAILED = 121


def test_a_run_with_the_default_decimal_policy_validates_in_full(
    small_demo_pg: str, mongo_url: str, mongo_db, tmp_path: Path
) -> None:
    common = ("--source", small_demo_pg, "--target", mongo_url)
    ran = mapper_cli("run", MAPPINGS, *common, "--rejects", tmp_path / "r.jsonl", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    estimates = [
        task["estimate_hours"]
        for task in mongo_db.tasks.find({"estimate_hours": {"$ne": None}}, {"estimate_hours": 1})
    ]
    assert estimates and all(isinstance(value, bson.Decimal128) for value in estimates)
    checked = mapper_cli("validate", MAPPINGS, *common, "--full", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_validator_is_applied_and_refuses_a_tampered_document(
    small_demo_pg: str, mongo_url: str, mongo_db, tmp_path: Path
) -> None:
    mapping = tmp_path / "projects.yaml"
    mapping.write_text(
        (MAPPINGS / "projects.yaml")
        .read_text()
        .replace("    table: projects\n", "    table: projects\n    validator: true\n", 1)
    )
    ran = mapper_cli(
        "run",
        mapping,
        "--source",
        small_demo_pg,
        "--target",
        mongo_url,
        "--rejects",
        "r.jsonl",
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    with api.prepare([mapping], small_demo_pg) as prepared:
        expected = json_schema(prepared.plan.collection("projects"))
    (listed,) = mongo_db.list_collections(filter={"name": "projects"})
    assert listed["options"]["validator"] == expected

    stored = mongo_db.projects.find_one()
    assert stored is not None and isinstance(stored["name"], str)
    tampered = {**stored, "_id": bson.ObjectId(), "name": 42}
    with pytest.raises(errors.WriteError) as refused:
        mongo_db.projects.insert_one(tampered)
    assert refused.value.code == VALIDATION_FAILED
    with pytest.raises(errors.WriteError) as refused:
        mongo_db.projects.replace_one({"_id": stored["_id"]}, {**stored, "extra": 1})
    assert refused.value.code == VALIDATION_FAILED
    assert mongo_db.projects.find_one({"_id": stored["_id"]}) == stored


def test_every_postgres_type_is_stored_with_its_documented_value(
    postgres_server: str, mongo_url: str, mongo_db, tmp_path: Path
) -> None:
    """The type matrix into the server, read back: what FerretDB 1.x refuses (arrays of
    arrays, Decimal128 inside JSON) is stored as documented too."""
    from test_type_matrix import POSTGRES, POSTGRES_TYPES, check, table_script

    mapping = tmp_path / "matrix.yaml"
    mapping.write_text("version: 1\ncollections:\n  matrix:\n    table: matrix\n    _id: key\n")
    rejects = tmp_path / "rejects.jsonl"
    script = POSTGRES_TYPES + table_script(POSTGRES)
    with postgres_database(postgres_server, script) as url, api.prepare([mapping], url) as prepared:
        api.migrate(prepared, mongo_url, api.MigrateOptions(rejects=rejects))
    documents = {document["_id"]: document for document in mongo_db.matrix.find()}
    refused = {int(line["key"]): line for line in map(json.loads, rejects.open())}
    check(POSTGRES, documents, refused)
    assert all(line["stage"] == "convert" for line in refused.values())
