"""The PostgreSQL type matrix: every common type becomes its documented BSON value, or the
row is rejected naming table, column and key (docs/mapping-language.md, "Types")."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import bson
import pytest
import sqlalchemy as sa
from bson import json_util
from conftest import fresh_postgres_database, run_to_files

SCHEMA = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE matrix (
    id integer PRIMARY KEY, small smallint, big bigint, exact numeric, real_ double precision,
    flag boolean, label text, feeling mood, at timestamptz, naive timestamp, day date,
    clock time, span interval, ident uuid, doc jsonb, tags text[], grid integer[][],
    raw bytea, price money
);
INSERT INTO matrix VALUES
 (1, 7, 9007199254740993, 3.50, 0.1, true, 'é😀', 'happy', '2024-03-31 02:30:00.123456+02',
  '2024-10-27 01:30:00', '2024-02-29', '13:45:01.5', '1 mon 2 days 03:00:00.000001',
  '0F8FAD5B-D9CB-469F-A165-70867728950E', '{"a": {"b": [1, null, "x"]}, "big": 12345678901}',
  ARRAY['x', NULL, 'z'], ARRAY[[1, 2], [3, 4]], '\\x00ff', 12.34),
 (2, NULL, NULL, 'NaN', 'Infinity', NULL, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  '{}', NULL, NULL, NULL),
 (3, NULL, NULL, 'Infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL),
 (4, NULL, NULL, 1.2345678901234567890123456789012345678, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  '{"a.b": 1}', NULL, NULL, NULL, NULL);
"""


@pytest.fixture(scope="module")
def migrated(postgres_server: str, tmp_path_factory) -> tuple[dict, list[dict], Path]:
    folder = tmp_path_factory.mktemp("types")
    with fresh_postgres_database(postgres_server) as url:
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            database = connection.execute(sa.text("SELECT current_database()")).scalar_one()
            connection.execute(
                sa.text(f"ALTER DATABASE \"{database}\" SET timezone = 'America/New_York'")
            )
            connection.execute(sa.text(f"ALTER DATABASE \"{database}\" SET lc_monetary = 'C'"))
        engine.dispose()
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql(SCHEMA)
        engine.dispose()
        (folder / "matrix.yaml").write_text(
            "version: 1\ncollections:\n  matrix:\n    table: matrix\n    _id: key\n"
        )
        run_to_files(url, [folder / "matrix.yaml"], folder / "out", folder / "rejects.jsonl")
        own = sa.create_engine(url)  # an engine the caller made, not `pipeline.connect`'s
        run_to_files(own, [folder / "matrix.yaml"], folder / "own", folder / "own-rejects.jsonl")
        own.dispose()
    options = json_util.JSONOptions(uuid_representation=4, tz_aware=True)
    documents = {
        d["_id"]: d
        for d in (
            json_util.loads(line, json_options=options)
            for line in (folder / "out" / "matrix.jsonl").read_text().splitlines()
        )
    }
    rejects = [json.loads(line) for line in (folder / "rejects.jsonl").read_text().splitlines()]
    return documents, rejects, folder


def test_every_type_has_its_documented_value(migrated) -> None:
    document = migrated[0][1]
    utc = dt.UTC
    assert document["small"] == 7 and type(document["small"]) is int
    assert document["big"] == bson.Int64(9007199254740993)
    assert document["exact"] == bson.Decimal128("3.50")
    assert document["real_"] == 0.1
    assert document["flag"] is True
    assert document["label"] == "é😀"
    assert document["feeling"] == "happy"
    assert document["at"] == dt.datetime(2024, 3, 31, 0, 30, 0, 123000, tzinfo=utc)
    assert document["naive"] == dt.datetime(2024, 10, 27, 1, 30, tzinfo=utc)
    assert document["day"] == dt.datetime(2024, 2, 29, tzinfo=utc)
    assert document["clock"] == "13:45:01.500000"
    assert document["span"] == bson.Int64(((30 + 2) * 86400 + 3 * 3600) * 10**6 + 1)
    assert document["ident"] == uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")
    assert document["doc"] == {"a": {"b": [1, None, "x"]}, "big": 12345678901}
    assert document["tags"] == ["x", None, "z"]
    assert document["grid"] == [[1, 2], [3, 4]]
    assert document["raw"] == b"\x00\xff"
    assert document["price"] == bson.Decimal128("12.34")


def test_an_engine_made_by_the_caller_gives_the_same_output(migrated) -> None:
    """The same documents and rejects whatever set the engine up (`pipeline.connect` or the
    caller), uuid columns included."""
    folder = migrated[2]
    assert (folder / "own" / "matrix.jsonl").read_bytes() == (
        folder / "out" / "matrix.jsonl"
    ).read_bytes()
    assert (folder / "own-rejects.jsonl").read_bytes() == (folder / "rejects.jsonl").read_bytes()


def test_nulls_are_omitted_and_specials_kept(migrated) -> None:
    document = migrated[0][2]
    assert document["exact"] == bson.Decimal128("NaN")
    assert document["real_"] == float("inf")
    assert document["label"] == "" and document["tags"] == []
    assert "small" not in document and "at" not in document
    assert migrated[0][3]["exact"] == bson.Decimal128("Infinity")


def test_unrepresentable_values_reject_their_row_by_name(migrated) -> None:
    documents, rejects, _ = migrated
    assert sorted(documents) == [1, 2, 3]
    by_key = {r["key"]: r for r in rejects}
    assert set(by_key) == {"4", "5"}
    assert "`matrix.exact`" in by_key["4"]["reason"] and "34" in by_key["4"]["reason"]
    assert "`matrix.doc`" in by_key["5"]["reason"]
    assert all(r["stage"] == "convert" for r in rejects)


def test_the_type_table_is_documented() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "mapping-language.md").read_text()
    for name in (
        "numeric",
        "timestamptz",
        "interval",
        "uuid",
        "jsonb",
        "bytea",
        "money",
        "enum",
        "arrays",
        "time",
    ):
        assert name in text
