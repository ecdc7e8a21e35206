"""`mapper sync`: a load in a replication slot's snapshot, then changes of every relation
kind applied by rebuilding their documents; checked by `validate --full` and against a
fresh `run` of the same source (an independent oracle: the run's own snapshot read)."""

from __future__ import annotations

import contextlib
import itertools
import struct
import uuid
from pathlib import Path

import pymongo
import pytest

import mapper
from mapper import pipeline, sync
from mapper.errors import UsageError
from mapper.sync import pgoutput, poll, reach
from tests import writer
from tests.conftest import ROOT, mapper_cli, postgres_database

FULL = ("comments", "labels", "projects", "tasks")  # reached by a column outside their key
OPTIONS = mapper.DocumentOptions(decimal_as="string")  # FerretDB has no Decimal128


def _execute(url: str, *statements: str) -> None:
    engine = pipeline.create_engine(url)
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    engine.dispose()


def _documents(client: pymongo.MongoClient, url: str) -> dict[str, list[dict]]:
    database = client[pymongo.uri_parser.parse_uri(url)["database"]]
    return {
        name: sorted(database[name].find(), key=lambda d: str(d["_id"]))
        for name in ("organizations", "projects", "tasks", "users")
    }


def test_a_source_without_the_replica_identity_it_needs_is_refused_with_the_fix(
    live_demo: str, mongo_url: str
) -> None:
    with mapper.prepare(["mappings/"], live_demo, OPTIONS) as prepared:
        with pytest.raises(UsageError) as refused:
            sync.sync(prepared, mongo_url, sync.SyncOptions(until_caught_up=True))
        assert sync.status(prepared) == []  # nothing made on the source
    for table in FULL:
        assert f'ALTER TABLE "public"."{table}" REPLICA IDENTITY FULL' in str(refused.value)


def test_every_relation_kind_reaches_its_documents(
    live_demo: str, mongo_url: str, mongo_client: pymongo.MongoClient, tmp_path: Path
) -> None:
    _execute(live_demo, *(f"ALTER TABLE {t} REPLICA IDENTITY FULL" for t in FULL))
    options = sync.SyncOptions(until_caught_up=True, workers=1)
    with mapper.prepare(["mappings/"], live_demo, OPTIONS) as prepared:
        loaded = sync.sync(prepared, mongo_url, options)
        assert loaded.loaded and loaded.caught_up
        engine = pipeline.create_engine(live_demo)
        with engine.connect() as connection:
            org, project = connection.exec_driver_sql(
                "SELECT p.org_id, p.id FROM projects p ORDER BY p.id LIMIT 1"
            ).one()
            first, second, gone = connection.exec_driver_sql(
                f"SELECT id FROM tasks WHERE project_id = '{project}' ORDER BY id LIMIT 3"
            ).scalars()
            comment = connection.exec_driver_sql(
                f"SELECT id FROM comments WHERE task_id <> '{first}' ORDER BY id LIMIT 1"
            ).scalar_one()
        engine.dispose()
        _execute(
            live_demo,
            f"UPDATE organizations SET name = 'Renamed Org' WHERE id = '{org}'",  # denormalized
            f"UPDATE comments SET task_id = '{first}' WHERE id = '{comment}'",  # an FK move
            f"DELETE FROM tasks WHERE id = '{gone}'",  # a root deleted (its children cascade)
            f"INSERT INTO comments (id, task_id, body, created_at) VALUES "  # an aggregate
            f"(gen_random_uuid(), '{second}', 'new', now())",
            f"UPDATE tasks SET status = 'done' WHERE id = '{second}'",  # a filtered aggregate
        )
        followed = sync.sync(prepared, mongo_url, options)
        assert not followed.loaded and followed.caught_up and followed.rounds >= 1
        report = mapper.validate(prepared, mongo_url, mapper.ValidateOptions(sample=None))
        assert report.ok, mapper.render(report)
        synced = _documents(mongo_client, mongo_url)
        fresh = mongo_url.replace("/mapper_test_", "/mapper_run_")
        mapper.migrate(prepared, fresh, mapper.MigrateOptions(workers=1, state=tmp_path / "s"))
        try:
            assert synced == _documents(mongo_client, fresh)
        finally:
            mongo_client.drop_database(pymongo.uri_parser.parse_uri(fresh)["database"])
        tasks = {d["title"]: d for d in synced["tasks"]}
        assert any(d.get("organization", {}).get("name") == "Renamed Org" for d in tasks.values())
        assert sync.stop(prepared, mongo_url)
        assert sync.status(prepared) == []


def test_the_cli_reports_and_stops_a_slot(live_demo: str, mongo_url: str) -> None:
    _execute(live_demo, *(f"ALTER TABLE {t} REPLICA IDENTITY FULL" for t in FULL))
    common = ("mappings/", "--source", live_demo, "--target", mongo_url, "--decimal-as", "string")
    done = mapper_cli("sync", *common, "--until-caught-up", "--workers", "1")
    assert done.returncode == 0, done.stderr
    assert "caught up" in done.stdout
    assert "bytes (" in done.stderr and "behind the source" in done.stderr  # the lag
    status = mapper_cli("sync", *common, "--status")
    assert "mapper_" in status.stdout and "inactive" in status.stdout, status.stderr
    stopped = mapper_cli("sync", *common, "--stop")
    assert "slot dropped" in stopped.stdout, stopped.stderr
    assert "mapper_" not in mapper_cli("sync", *common, "--status").stdout


def _tuple(*values: str | None) -> bytes:
    """pgoutput's TupleData: text values, NULLs (None) and unchanged TOAST values ("u")."""
    parts = [struct.pack("!h", len(values))]
    for value in values:
        if value is None:
            parts.append(b"n")
        elif value == "u":
            parts.append(b"u")
        else:
            parts.append(b"t" + struct.pack("!i", len(value.encode())) + value.encode())
    return b"".join(parts)


def test_pgoutput_messages_decode() -> None:
    columns = (
        b"\x01id\0" + struct.pack("!Ii", 2950, -1) + b"\x00title\0" + struct.pack("!Ii", 25, -1)
    )
    relation = b"R" + struct.pack("!I", 7) + b"public\0tasks\0f" + struct.pack("!h", 2) + columns
    decoded = pgoutput.decode(relation)
    assert decoded == pgoutput.Relation(7, "public", "tasks", "f", ("id", "title"), ("id",))
    update = b"U" + struct.pack("!I", 7) + b"O" + _tuple("1", None) + b"N" + _tuple("1", "u")
    change = pgoutput.decode(update)
    assert change == pgoutput.Change("update", 7, ("1", None), ("1", pgoutput.UNCHANGED))
    delete = b"D" + struct.pack("!I", 7) + b"K" + _tuple("é", None)
    assert pgoutput.decode(delete) == pgoutput.Change("delete", 7, ("é", None), None)
    assert pgoutput.lsn_value(pgoutput.lsn_text(0x16B374D848)) == 0x16B374D848


def test_a_target_loaded_before_is_caught_up_and_its_stale_documents_deleted(
    live_demo: str, mongo_url: str, mongo_client: pymongo.MongoClient, tmp_path: Path
) -> None:
    """The catch-up rule: documents of rows gone since are deleted, by `_id`s of any BSON
    type (here the uuid keys themselves, `_id: key`)."""
    mapping = tmp_path / "organizations.yaml"
    mapping.write_text(
        "version: 1\ncollections:\n  organizations:\n    table: organizations\n"
        "    _id: key\n    columns: [name, slug]\n"
    )
    database = mongo_client[pymongo.uri_parser.parse_uri(mongo_url)["database"]]
    stray = uuid.UUID("00000000-0000-4000-8000-000000000000")
    database.organizations.insert_one({"_id": stray, "name": "gone since"})
    with mapper.prepare([mapping], live_demo, OPTIONS) as prepared:
        followed = sync.sync(prepared, mongo_url, sync.SyncOptions(until_caught_up=True))
        try:
            assert followed.loaded and followed.deleted == 1
            assert database.organizations.find_one({"_id": stray}) is None
            report = mapper.validate(prepared, mongo_url, mapper.ValidateOptions(sample=None))
            assert report.ok, mapper.render(report)
        finally:
            sync.stop(prepared, mongo_url)


def test_a_poll_sees_a_foreign_key_set_null_that_leaves_the_watermark_alone(
    tmp_path: Path, mongo_url: str, mongo_client: pymongo.MongoClient
) -> None:
    """A user deleted: the schema's ON DELETE SET NULL changes `tasks.created_by` without
    touching `tasks.updated_at`; the column is tracked (it joins the task to the user), so
    the task's `created_by` copy goes."""
    source = f"sqlite:///{tmp_path / 'app.db'}"
    mapper.create_demo(source, scale=0.05, seed=3)
    engine = writer.engine(source)
    with engine.connect() as connection:
        task, user = connection.exec_driver_sql(
            "SELECT id, created_by FROM tasks WHERE created_by IS NOT NULL ORDER BY id LIMIT 1"
        ).one()
    calls = itertools.count()

    def stop_requested() -> bool:  # asked before each cycle: the user goes after the first
        call = next(calls)
        if call == 1:
            with engine.begin() as connection:
                connection.exec_driver_sql(f"DELETE FROM users WHERE id = '{user}'")
        return call == 2

    options = sync.SyncOptions(poll=True, interval=0, watermarks=("updated_at",))
    tasks = mongo_client[pymongo.uri_parser.parse_uri(mongo_url)["database"]].tasks
    with (
        contextlib.chdir(tmp_path),
        mapper.prepare([ROOT / "mappings"], source, OPTIONS) as prepared,
    ):
        followed = sync.sync(prepared, mongo_url, options, stop_requested)
    engine.dispose()
    assert followed.loaded and followed.changes >= 2  # the user, the task
    synced = tasks.find_one({"title": _title(source, task)})
    assert synced is not None and synced.get("created_by") is None


def _title(source: str, task: str) -> str:
    engine = pipeline.create_engine(source)
    with engine.connect() as connection:
        title = connection.exec_driver_sql(f"SELECT title FROM tasks WHERE id = '{task}'")
        found = title.scalar_one()
    engine.dispose()
    return str(found)


def test_watermarks_name_the_tables_and_columns_they_are_for(small_demo_sqlite: str) -> None:
    with mapper.prepare(["mappings/"], small_demo_sqlite, OPTIONS) as prepared:
        by_table = reach.tables(prepared.plan)
        watched = {w.table: w for w in poll.watches(prepared.catalog, by_table, ["updated_at"])}
        assert watched["tasks"].watermark == "updated_at" and watched["users"].watermark is None
        assert {"project_id", "created_by"} <= set(watched["tasks"].tracked)
        assert watched["task_labels"].key == ("task_id", "label_id")
        for wrong, named in (
            (["comments.updated_at"], "`comments` has no column `updated_at`"),
            (["sessions.updated_at"], "`sessions` is not a table the mappings read"),
            (["modified"], "no table the mappings read has a column `modified`"),
        ):
            with pytest.raises(UsageError, match=named):
                poll.watches(prepared.catalog, by_table, wrong)


def test_the_cli_polls_a_sqlite_source_and_lists_what_it_rejects(
    tmp_path: Path, mongo_url: str
) -> None:
    """A row that cannot be built (text that is not UTF-8) has no document, as in a run: a
    sync lists it in its reject file and exits 1."""
    source = f"sqlite:///{tmp_path / 'app.db'}"
    mapper.create_demo(source, scale=0.05, seed=3)
    engine = pipeline.create_engine(source)
    with engine.begin() as connection:
        task = connection.exec_driver_sql("SELECT task_id FROM comments LIMIT 1").scalar_one()
        connection.exec_driver_sql(
            f"UPDATE comments SET body = CAST(X'C328' AS TEXT) WHERE task_id = '{task}'"
        )
    engine.dispose()
    common = (
        ROOT / "mappings",
        "--source",
        source,
        "--target",
        mongo_url,
        "--decimal-as",
        "string",
    )
    done = mapper_cli("sync", *common, "--poll", "--until-caught-up", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "caught up" in done.stdout and "1 rejected" in done.stdout
    (rejects,) = tmp_path.glob("mapper-mapper_*-rejects.jsonl")
    assert str(task) in rejects.read_text() and "tasks" in rejects.read_text()
    status = mapper_cli("sync", *common, "--status", cwd=tmp_path)
    assert status.returncode == 0 and "a sync --poll keeps none" in status.stdout


TREE = """
CREATE TABLE categories (id int PRIMARY KEY, parent_id int REFERENCES categories ON DELETE
    CASCADE, name text NOT NULL);
ALTER TABLE categories REPLICA IDENTITY FULL;
INSERT INTO categories VALUES (1, NULL, 'root'), (2, 1, 'food'), (3, 2, 'fruit'),
    (4, 3, 'apples'), (5, 1, 'tools'), (6, NULL, 'other'), (7, 6, 'misc'), (8, NULL, 'loose');
"""
TREE_MAPPING = """
version: 1
collections:
  categories:
    table: categories
    columns: [name]
    fields:
      children:
        embed: categories
        on: {id: parent_id}
        max_depth: 4
        _id: false
        columns: [name]
        order_by: [name]
    filter: {parent_id: {is_null: true}}
"""


def test_a_self_reference_is_followed_at_every_depth(
    postgres_server: str, mongo_url: str, mongo_client: pymongo.MongoClient, tmp_path: Path
) -> None:
    """A leaf three levels down moved to another tree (its old tree is reached only through
    its old parent, two levels deep), a root becoming a child: each reaches the tree
    documents it leaves and joins."""
    mapping = tmp_path / "tree.yaml"
    mapping.write_text(TREE_MAPPING)
    categories = mongo_client[pymongo.uri_parser.parse_uri(mongo_url)["database"]].categories
    with postgres_database(postgres_server, TREE) as url, mapper.prepare([mapping], url) as done:
        try:
            assert sync.sync(done, mongo_url, sync.SyncOptions(until_caught_up=True)).loaded
            _execute(
                url,
                "UPDATE categories SET parent_id = 7 WHERE id = 4",  # apples: fruit → misc
                "UPDATE categories SET parent_id = 7 WHERE id = 8",  # loose: a root no more
            )
            followed = sync.sync(done, mongo_url, sync.SyncOptions(until_caught_up=True))
            assert followed.changes == 2 and followed.deleted == 1  # loose's document
            trees = {tree["name"]: tree["children"] for tree in categories.find()}
            leaf = {"children": []}
            assert trees == {
                "root": [
                    {"name": "food", "children": [{"name": "fruit", "children": []}]},
                    {"name": "tools", **leaf},
                ],
                "other": [
                    {
                        "name": "misc",
                        "children": [{"name": "apples", **leaf}, {"name": "loose", **leaf}],
                    }
                ],
            }
            report = mapper.validate(done, mongo_url, mapper.ValidateOptions(sample=None))
            assert report.ok, mapper.render(report)
        finally:
            sync.stop(done, mongo_url)
