"""A target that lacks what a plan needs (Decimal128, validators, text or hashed indexes) is
refused before anything is written, from capabilities declared per server kind."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import both_targets, mapper_cli, sqlite_database

from mapper import plan as p
from mapper.engine import capabilities
from mapper.engine.load import Sink, open_sink, probe
from mapper.errors import UsageError

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


FULL = capabilities.Capabilities("a full target")
ORDERED_INDEXES_ONLY = capabilities.Capabilities(
    "FerretDB", decimal128=False, validators=False, index_kinds=frozenset({1, -1})
)


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
def test_a_target_lacking_a_feature_is_told_apart(changes: dict, words: str) -> None:
    planned = collection(**changes)
    assert capabilities.missing(planned, FULL) == []
    problems = capabilities.missing(planned, ORDERED_INDEXES_ONLY)
    assert len(problems) == 1 and words in problems[0]
    assert (
        capabilities.missing(collection(indexes=(p.Index((("name", -1),)),)), ORDERED_INDEXES_ONLY)
        == []
    )


def test_messages_name_the_server_and_the_mongodb_version_it_reports() -> None:
    assert probe.server_name({"version": "7.0.2"}) == "MongoDB 7.0.2"
    assert (
        probe.server_name({"version": "7.0.42", "ferretdbVersion": "v1.24.2"})
        == "FerretDB v1.24.2 (reports MongoDB 7.0.42)"
    )
    assert (
        probe.server_name({"version": "7.0.42", "ferretdbVersion": "unknown"})
        == "FerretDB (reports MongoDB 7.0.42)"
    )


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
    with pytest.raises(UsageError, match=r"the target \(a test target\) cannot store Decimal128"):
        sink.preflight([collection(), decimals])


# what each server of the test bed turns out to have (a MongoDB that the environment names has
# everything)
FOUND = {
    "ferretdbVersion": (False, False, {1, -1}),
    "secantusVersion": (True, True, {1, -1, "2d", "2dsphere"}),
}


@both_targets
def test_the_mongodb_sink_tries_what_its_server_can_do(mongo_url: str, mongo_db, mongo_client):
    info = mongo_client.admin.command("buildInfo")
    flavour = next((key for key in FOUND if key in info), None)
    expected = FOUND.get(flavour, (True, True, set(capabilities.ALL_INDEX_KINDS)))
    sink = open_sink(mongo_url)
    try:
        found = sink.capabilities()
    finally:
        sink.close()
    assert (found.decimal128, found.validators, set(found.index_kinds)) == expected
    assert found.name == probe.server_name(info)
    assert mongo_db.list_collection_names() == []  # the scratch collection is gone


@both_targets
def test_a_text_index_is_refused_before_anything_is_written(
    tmp_path: Path, mongo_url: str, mongo_db
) -> None:
    """FerretDB 1.x and SecantusDB build no text index: the run stops before writing the
    documents (it used to write them and fail on the index)."""
    sink = open_sink(mongo_url)
    try:
        if "text" in sink.capabilities().index_kinds:
            pytest.skip("the target builds text indexes")
    finally:
        sink.close()
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
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot build the index `name: text` of `things`" in result.stdout + result.stderr
    assert mongo_db.list_collection_names() == []


def test_a_refused_user_is_not_a_missing_feature() -> None:
    """The probe counts a server's refusal as a feature it lacks, but a refusal of the URL's
    user (Unauthorized) is raised: it says nothing of the server."""
    from pymongo import errors

    def refuse(code: int):
        def trial() -> None:
            raise errors.OperationFailure("refused", code=code)

        return trial

    assert probe._done(lambda: None) is True
    assert probe._done(refuse(67)) is False  # CannotCreateIndex
    with pytest.raises(errors.OperationFailure):
        probe._done(refuse(13))
