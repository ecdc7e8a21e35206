"""A target that lacks what a plan needs (Decimal128, validators, text or hashed indexes) is
refused before anything is written, from capabilities declared per server kind."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import is_ferretdb, mapper_cli, sqlite_database

from mapper import plan as p
from mapper.engine import capabilities
from mapper.engine.load import Sink, open_sink
from mapper.errors import TargetError

DOCUMENT = p.SubDocument((), (p.Value(("name",), 0, "string", False, "things.name"),))


def collection(**changes) -> p.CollectionPlan:
    query = p.Query("things", "t0", (), (p.ColumnRef("t0", "name"),))
    values = {
        "name": "things",
        "file": "things.yaml",
        "table": "things",
        "query": query,
        "document": DOCUMENT,
        "source_key": (0,),
        "source_key_columns": ("name",),
    }
    return p.CollectionPlan(**{**values, **changes})


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"indexes": (p.Index((("name", "text"),)),)}, "cannot build the index `name: text`"),
        ({"indexes": (p.Index((("name", 1), ("at", "hashed"))),)}, "`at: hashed`"),
        ({"validator": True}, "does not support collection validators"),
        (
            {"document": p.SubDocument((), (p.Value(("price",), 0, "decimal128", False),))},
            "cannot store Decimal128, which `things` uses for `price`",
        ),
    ],
)
def test_ferretdb_lacks_what_mongodb_has(changes: dict, words: str) -> None:
    planned = collection(**changes)
    assert capabilities.missing(planned, capabilities.MONGODB) == []
    problems = capabilities.missing(planned, capabilities.FERRETDB_1)
    assert len(problems) == 1 and words in problems[0]
    assert (
        capabilities.missing(
            collection(indexes=(p.Index((("name", -1),)),)), capabilities.FERRETDB_1
        )
        == []
    )


def test_server_kinds_are_told_apart() -> None:
    assert capabilities.of_server({"version": "7.0.2"}) is capabilities.MONGODB
    assert capabilities.of_server({"ferretdbVersion": "v1.24.2"}) is capabilities.FERRETDB_1
    assert capabilities.of_server({"ferretdbVersion": "unknown"}) is capabilities.FERRETDB_1


def test_every_sink_implements_the_protocol(tmp_path: Path) -> None:
    for url in ("null:", f"file:{tmp_path}", "mongodb://127.0.0.1:1/db"):
        sink = open_sink(url)
        assert isinstance(sink, Sink), url
        sink.close()


@pytest.mark.parametrize("url", ["null:", "file:{directory}"])
def test_a_sinks_declared_capabilities_drive_its_preflight(url: str, tmp_path: Path) -> None:
    decimals = collection(
        document=p.SubDocument((), (p.Value(("price",), 0, "decimal128", False),))
    )
    sink = open_sink(url.format(directory=tmp_path))
    sink.preflight([decimals])  # files and null hold Decimal128
    sink.capabilities = lambda: capabilities.Capabilities("a test target", decimal128=False)
    sink.preflight([collection()])
    with pytest.raises(TargetError, match=r"the target \(a test target\) cannot store Decimal128"):
        sink.preflight([collection(), decimals])


def test_the_mongodb_sink_asks_its_server(mongo_url: str, mongo_client) -> None:
    sink = open_sink(mongo_url)
    try:
        expected = capabilities.FERRETDB_1 if is_ferretdb(mongo_client) else capabilities.MONGODB
        assert sink.capabilities() == expected
    finally:
        sink.close()


def test_a_text_index_is_refused_before_anything_is_written(
    tmp_path: Path, mongo_url: str, mongo_db, mongo_client
) -> None:
    if not is_ferretdb(mongo_client):
        pytest.skip("the target builds text indexes")
    url = sqlite_database(
        tmp_path / "s.db",
        "CREATE TABLE things (id INTEGER PRIMARY KEY, "
        "name TEXT); INSERT INTO things VALUES (1, 'a');",
    )
    (tmp_path / "things.yaml").write_text(
        "version: 1\ncollections:\n  things:\n"
        "    table: things\n"
        "    indexes: [{keys: {name: text}}]\n"
    )
    result = mapper_cli("run", "things.yaml", "--source", url, "--target", mongo_url, cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "cannot build the index `name: text` of `things`" in result.stdout + result.stderr
    assert mongo_db.list_collection_names() == []
