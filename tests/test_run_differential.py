"""Differential tests of `mapper run`: the shipped mappings against a naive oracle
(tests/oracle.py), on PostgreSQL and SQLite sources, into files and a MongoDB-wire server;
plus statement counts, re-run idempotence, batch-size independence and random small schemas."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bson
import pytest
import sqlalchemy as sa
from bson import json_util
from conftest import SMALL_DEMO_SCALE, both_targets, mapper_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import COLLECTIONS, Oracle, with_decimal_as

from mapper import api
from mapper.engine.run import RunSummary
from mapper.ids import oid

# SQLite has no decimal type; values with two places below 10000 survive its floats exactly.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Dialect sqlite\+pysqlite does \*not\* support Decimal objects natively"
)

ROOT = Path(__file__).resolve().parents[1]
MAPPINGS = sorted(str(path) for path in (ROOT / "mappings").glob("*.yaml"))
JSON_OPTIONS = json_util.JSONOptions(uuid_representation=4, tz_aware=True)

SOURCES = ["demo_sqlite", pytest.param("demo_pg", marks=pytest.mark.integration)]
TARGETS = ["file", pytest.param("mongodb", marks=pytest.mark.integration)]

_ORACLE: dict[str, dict[str, dict]] = {}


def oracle(url: str) -> dict[str, dict]:
    """The oracle's documents for a demo source, computed once per session."""
    if url not in _ORACLE:
        _ORACLE[url] = Oracle(url).documents()
    return _ORACLE[url]


# --- running mapper -------------------------------------------------------------------------


def migrate(
    source: str,
    target: str,
    rejects: Path,
    *,
    files=MAPPINGS,
    batch_size=1000,
    decimal_as="decimal128",
    on_engine=None,
    executor=None,
) -> RunSummary:
    """Run mapping files in-process, as `mapper run` does (on a Dask cluster: `executor`)."""
    with api.prepare(files, source, api.DocumentOptions(decimal_as)) as prepared:
        if on_engine:
            on_engine(prepared.engine)
        return api.migrate(
            prepared,
            target,
            api.MigrateOptions(
                batch_size=batch_size,
                rejects=rejects,
                state=rejects.with_suffix(".state"),
                executor=executor,
            ),
        )


def read_file_target(directory: Path, name: str) -> dict[Any, dict]:
    documents = {}
    with open(directory / f"{name}.jsonl", encoding="utf-8") as lines:
        for line in lines:
            doc = json_util.loads(line, json_options=JSON_OPTIONS)
            assert doc["_id"] not in documents, f"{name}: duplicate _id {doc['_id']}"
            documents[doc["_id"]] = doc
    return documents


def read_file_lines(directory: Path, name: str) -> dict[Any, str]:
    """{_id: the exact canonical Extended JSON line}."""
    result = {}
    with open(directory / f"{name}.jsonl", encoding="utf-8") as lines:
        for line in lines:
            result[json_util.loads(line, json_options=JSON_OPTIONS)["_id"]] = line
    return result


def read_mongo(database, name: str) -> dict[Any, dict]:
    return {doc["_id"]: doc for doc in database[name].find()}


# --- comparing documents, type by type -------------------------------------------------------


def first_difference(actual: Any, expected: Any, path: str = "") -> str | None:
    """The first place where two values differ, in value or in Python type; None if equal."""
    if type(actual) is not type(expected):
        return (
            f"{path or '<root>'}: type {type(actual).__name__} != expected "
            f"{type(expected).__name__} ({actual!r:.120} vs {expected!r:.120})"
        )
    if isinstance(expected, dict):
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        if missing or extra:
            return f"{path or '<root>'}: missing fields {missing}, unexpected fields {extra}"
        for name in expected:
            found = first_difference(actual[name], expected[name], f"{path}.{name}")
            if found:
                return found
        return None
    if isinstance(expected, list):
        if len(actual) != len(expected):
            return f"{path}: {len(actual)} elements, expected {len(expected)}"
        for i, (a, b) in enumerate(zip(actual, expected, strict=True)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    if actual != expected:
        return f"{path or '<root>'}: {actual!r:.200} != expected {expected!r:.200}"
    return None


def assert_same_documents(name: str, actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected), (
        f"{name}: _ids differ: missing {len(set(expected) - set(actual))}, "
        f"unexpected {len(set(actual) - set(expected))}"
    )
    for _id, doc in expected.items():
        found = first_difference(actual[_id], doc)
        assert found is None, f"{name} _id={_id}: {found}"


def test_comparison_helper_is_type_strict():
    assert first_difference({"a": [1, {"b": "x"}]}, {"a": [1, {"b": "x"}]}) is None
    assert "type" in first_difference({"a": 1}, {"a": bson.Int64(1)})
    assert "type" in first_difference({"a": 1.0}, {"a": 1})
    assert ".a[1].b" in first_difference({"a": [1, {"b": "x"}]}, {"a": [1, {"b": "y"}]})
    assert "missing" in first_difference({}, {"a": 1})


# --- 1. every document equals the oracle's ----------------------------------------------------


@pytest.mark.parametrize("target_kind", TARGETS)
@pytest.mark.parametrize("source_fixture", SOURCES)
def test_documents_equal_the_oracle(source_fixture, target_kind, request, tmp_path):
    source = request.getfixturevalue(source_fixture)
    if target_kind == "file":
        out = tmp_path / "out"
        assert_run_equals_oracle(
            source, f"file:{out}", "decimal128", lambda name: read_file_target(out, name), tmp_path
        )
    else:
        database = request.getfixturevalue("mongo_db")
        assert_run_equals_oracle(
            source,
            request.getfixturevalue("mongo_url"),
            "string",  # FerretDB 1.x stores no Decimal128 (the test below stores it)
            lambda name: read_mongo(database, name),
            tmp_path,
        )


@pytest.mark.integration
@pytest.mark.needs_mongodb
def test_documents_with_decimal128_equal_the_oracle(demo_sqlite, mongo_url, mongo_db, tmp_path):
    """The default `--decimal-as decimal128` into a server that stores it (SecantusDB)."""
    assert_run_equals_oracle(
        demo_sqlite, mongo_url, "decimal128", lambda name: read_mongo(mongo_db, name), tmp_path
    )


def assert_run_equals_oracle(source: str, target: str, decimal_as: str, read, tmp_path) -> None:
    """Run the shipped mappings from `source` into `target`: every row written, and every
    document (`read(collection)`: {_id: document}) equal to the oracle's."""
    expected = with_decimal_as(oracle(source), decimal_as)

    summary = migrate(source, target, tmp_path / "rejects.jsonl", decimal_as=decimal_as)

    assert summary.stopped is None
    assert summary.balanced
    assert [c.name for c in summary.collections] == sorted(COLLECTIONS)
    for result in summary.collections:
        count = len(expected[result.name])
        assert (result.read, result.inserted, result.rejected, result.filtered) == (
            count,
            count,
            0,
            0,
        ), result
    assert not (tmp_path / "rejects.jsonl").exists()
    for name in COLLECTIONS:
        actual = read(name)
        assert len(actual) == len(expected[name])
        assert_same_documents(name, actual, expected[name])


@contextlib.contextmanager
def icu_collated_database(server_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database whose default collation is ICU en-US (not code point)."""
    name = f"mapper_test_icu_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            try:
                connection.execute(
                    sa.text(
                        f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
                        "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
                    )
                )
            except sa.exc.DBAPIError as error:
                pytest.skip(f"no ICU collation on this server: {error.orig}")
        try:
            yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.mark.integration
def test_orderings_ignore_the_database_collation(postgres_server, tmp_path):
    """demo-taskdb.md: text orders by code point "whatever the database's default collation"."""
    from mapper.demo import create_demo

    with icu_collated_database(postgres_server) as url:
        engine = sa.create_engine(url)
        with engine.connect() as connection:  # the collation really is not code point order
            ordered = (
                connection.execute(
                    sa.text("SELECT x FROM (VALUES ('b'), ('B'), ('a')) AS v(x) ORDER BY x")
                )
                .scalars()
                .all()
            )
        engine.dispose()
        assert ordered == ["a", "b", "B"]
        create_demo(url, scale=SMALL_DEMO_SCALE, seed=42)
        expected = Oracle(url).documents()
        summary = migrate(url, f"file:{tmp_path / 'out'}", tmp_path / "rejects.jsonl")
        assert summary.balanced and summary.rejected == 0
        for name in COLLECTIONS:
            assert_same_documents(name, read_file_target(tmp_path / "out", name), expected[name])


def test_oracle_counts_match_the_demo(demo_sqlite):
    expected = oracle(demo_sqlite)
    assert {name: len(docs) for name, docs in expected.items()} == {
        "organizations": 10,
        "projects": 50,
        "tasks": 1000,
        "users": 200,
    }
    tasks = expected["tasks"].values()
    # the demo is unkind: the oracle must see the edge cases it is meant to check
    assert any("created_by" not in t for t in tasks)
    assert any(not t["labels"] for t in tasks) and any(not t["comments"] for t in tasks)
    assert any("author" not in c for t in tasks for c in t["comments"])
    assert any("estimate_hours" not in t for t in tasks)


# --- 2. statement count does not grow with the data ------------------------------------------


def statements_of_a_run(source: str, rejects: Path) -> tuple[int, RunSummary]:
    statements = []

    def listen(engine: sa.Engine) -> None:
        sa.event.listen(
            engine,
            "before_cursor_execute",
            lambda conn, cursor, statement, *rest: statements.append(statement),
        )

    summary = migrate(source, "null:", rejects, batch_size=1_000_000, on_engine=listen)
    return len(statements), summary


def test_statement_count_is_independent_of_the_data_size(demo_sqlite, sqlite_url, tmp_path):
    from mapper.demo import create_demo

    create_demo(sqlite_url, scale=3, seed=42)
    small, small_summary = statements_of_a_run(demo_sqlite, tmp_path / "r1.jsonl")
    large, large_summary = statements_of_a_run(sqlite_url, tmp_path / "r3.jsonl")
    assert small_summary.balanced and large_summary.balanced
    tasks = {c.name: c.read for c in large_summary.collections}["tasks"]
    assert tasks > 2 * {c.name: c.read for c in small_summary.collections}["tasks"]
    assert small == large, f"{small} statements at scale 1, {large} at scale 3"


# --- 3. re-runs converge ---------------------------------------------------------------------


def content_hashes(database) -> dict[str, dict[Any, str]]:
    return {
        name: {
            doc["_id"]: hashlib.sha256(bson.encode(doc)).hexdigest()
            for doc in database[name].find()
        }
        for name in COLLECTIONS
    }


@pytest.mark.integration
@both_targets
def test_rerun_into_mongodb_is_idempotent(small_demo_sqlite, mongo_url, mongo_db, tmp_path):
    first = migrate(small_demo_sqlite, mongo_url, tmp_path / "rejects.jsonl", decimal_as="string")
    assert first.balanced and first.rejected == 0
    before = content_hashes(mongo_db)

    second = migrate(small_demo_sqlite, mongo_url, tmp_path / "rejects.jsonl", decimal_as="string")
    assert second.balanced and second.rejected == 0
    after = content_hashes(mongo_db)

    for result in second.collections:
        assert result.inserted == 0, result
        assert result.updated + result.unchanged == result.read == len(before[result.name])
    assert {n: len(h) for n, h in after.items()} == {n: len(h) for n, h in before.items()}
    for name in COLLECTIONS:
        changed = [i for i in before[name] if after[name].get(i) != before[name][i]]
        assert not changed, f"{name}: {len(changed)} documents changed, e.g. _id={changed[0]}"


# --- 4. the batch size never changes the output ----------------------------------------------

_BASELINE: dict[str, dict[str, dict]] = {}


def file_output(source: str, batch_size: int, executor=None) -> dict[str, dict[Any, str]]:
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "out"
        summary = migrate(
            source,
            f"file:{out}",
            Path(directory) / "rejects.jsonl",
            batch_size=batch_size,
            executor=executor,
        )
        assert summary.balanced and summary.rejected == 0
        return {name: read_file_lines(out, name) for name in COLLECTIONS}


def baseline(source: str) -> dict[str, dict[Any, str]]:
    if source not in _BASELINE:
        _BASELINE[source] = file_output(source, 1000)
    return _BASELINE[source]


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_batch_size_does_not_change_the_documents(demo_sqlite, batch_size):
    expected = oracle(demo_sqlite)
    output = file_output(demo_sqlite, batch_size)
    assert output == baseline(demo_sqlite)
    for name in COLLECTIONS:
        documents = {
            i: json_util.loads(line, json_options=JSON_OPTIONS) for i, line in output[name].items()
        }
        assert_same_documents(name, documents, expected[name])


@pytest.mark.integration
def test_postgres_and_sqlite_give_byte_identical_files(demo_pg, demo_sqlite):
    """demo-taskdb.md: same rows in both databases, and "the documents must come out the same"
    (down to field order, jsonb included)."""
    from_pg = file_output(demo_pg, 1000)
    for name in COLLECTIONS:
        assert from_pg[name] == baseline(demo_sqlite)[name], name


def counts(summary: RunSummary) -> dict[str, dict[str, int | float]]:
    """A summary's counts by collection, without its timings and batch counts."""
    ignored = ("seconds", "rate", "batches", "worker_statements")
    return {
        c.name: {k: v for k, v in c.counts().items() if k not in ignored}
        for c in summary.collections
    }


@pytest.mark.integration
def test_a_dask_cluster_writes_byte_identical_files(demo_pg, demo_sqlite, dask_cluster):
    """The shipped mappings through the Dask executor: ranges of 97 keys on two workers,
    joined in key order, give the one-process run's bytes (line order included)."""
    on_cluster = file_output(demo_pg, 97, executor=dask_cluster)
    for name in COLLECTIONS:
        assert list(on_cluster[name].items()) == list(baseline(demo_sqlite)[name].items()), name


@pytest.mark.integration
def test_a_dask_cluster_writes_the_same_documents_into_mongodb(
    demo_pg, dask_cluster, mongo_url, mongo_db, tmp_path
):
    expected = with_decimal_as(oracle(demo_pg), "string")
    one = migrate(demo_pg, mongo_url, tmp_path / "one.jsonl", decimal_as="string")
    before = content_hashes(mongo_db)
    for name in COLLECTIONS:
        mongo_db[name].drop()
    on_cluster = migrate(
        demo_pg,
        mongo_url,
        tmp_path / "dask.jsonl",
        decimal_as="string",
        batch_size=97,
        executor=dask_cluster,
    )
    assert on_cluster.balanced and counts(on_cluster) == counts(one)
    assert content_hashes(mongo_db) == before
    for name in COLLECTIONS:
        assert_same_documents(name, read_mongo(mongo_db, name), expected[name])


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch_size=st.one_of(st.integers(1, 40), st.integers(41, 1500)))
def test_any_batch_size_gives_the_same_documents(small_demo_sqlite, batch_size):
    output = file_output(small_demo_sqlite, batch_size)
    for name in COLLECTIONS:
        assert output[name] == baseline(small_demo_sqlite)[name], (name, batch_size)


# --- 5. random small relational data against a nested-loop oracle ----------------------------

SMALL_MAPPING = """\
version: 1
collections:
  parents:
    table: parents
    columns: [name]
    fields:
      kids:
        embed: children
        columns: [pos, label]
        order_by: [pos, id]
      kids_by_label:
        embed: children
        _id: false
        columns: [label]
        order_by: [label, id]
      kid_count: {count: children}
      labelled_count: {count: children, filter: {label: {is_null: false}}}
      pos_sum: {sum: children.pos}
      min_pos: {min: children.pos}
      max_label: {max: children.label}
      tags:
        embed: tags
        via: [parent_tags]
        _id: false
        columns: [id, name]
        order_by: [name, id]
      tag_ids:
        reference: tags
        via: [parent_tags]
        order_by: [id]
  children:
    table: children
    columns: [pos, label]
    fields:
      parent:
        embed: parents
        columns: [name]
      parent_name: {denormalize: parents.name}
"""

_texts = st.one_of(
    st.none(),
    st.text(st.characters(codec="utf-8"), max_size=6),
    st.sampled_from(["a", "B", "é", "e\u0301", "Z", "日本", "🐛", ""]),
)


DANGLING = 5000  # outside the drawn parent ids


@st.composite
def small_databases(draw):
    parent_ids = draw(st.lists(st.integers(-1000, 1000), unique=True, max_size=6))
    parents = [(i, draw(_texts)) for i in parent_ids]
    child_ids = draw(st.lists(st.integers(1, 10_000), unique=True, max_size=15))
    # parent_id: NULL, an existing parent, or a dangling one (no FK enforcement in SQLite)
    children = [
        (
            i,
            draw(st.one_of(st.none(), st.just(DANGLING), st.sampled_from(parent_ids)))
            if parent_ids
            else draw(st.sampled_from([None, DANGLING])),
            draw(st.one_of(st.none(), st.integers(-3, 3), st.integers(-(2**31), 2**31 - 1))),
            draw(_texts),
        )
        for i in child_ids
    ]
    tag_ids = draw(
        st.lists(
            st.text(st.characters(codec="utf-8"), min_size=1, max_size=4)
            | st.sampled_from(["a", "A", "é", "e\u0301", "10", "9"]),
            unique=True,
            max_size=5,
        )
    )
    tags = [
        (i, draw(st.one_of(st.none(), st.sampled_from(["x", "X", "ü", "u", "🐛"]))))
        for i in tag_ids
    ]
    links = (
        sorted(
            draw(
                st.sets(
                    st.tuples(st.sampled_from(parent_ids), st.sampled_from(tag_ids)), max_size=12
                )
            )
        )
        if parent_ids and tag_ids
        else []
    )
    return {"parents": parents, "children": children, "tags": tags, "parent_tags": links}


SMALL_SCHEMA = """
CREATE TABLE parents (id INTEGER PRIMARY KEY, name TEXT NULL);
CREATE TABLE children (id INTEGER PRIMARY KEY, parent_id INTEGER NULL REFERENCES parents (id),
                       pos INTEGER NULL, label TEXT NULL);
CREATE INDEX ix_children_parent_id ON children (parent_id);
CREATE TABLE tags (id TEXT PRIMARY KEY NOT NULL, name TEXT NULL);
CREATE TABLE parent_tags (parent_id INTEGER NOT NULL REFERENCES parents (id),
                          tag_id TEXT NOT NULL REFERENCES tags (id),
                          PRIMARY KEY (parent_id, tag_id));
"""


def nulls_last(value: Any) -> tuple:
    """NULLs sort last; text compares by code point; ties are left to the caller."""
    if value is None:
        return (1, ())
    return (0, tuple(ord(c) for c in value) if isinstance(value, str) else value)


def code_points(text: str) -> tuple[int, ...]:
    return tuple(ord(c) for c in text)


def small_oracle(data: dict) -> dict[str, dict]:
    """Nested loops over the generated rows."""
    expected_parents = {}
    for parent_id, name in data["parents"]:
        doc: dict[str, Any] = {"_id": oid("parents", [parent_id])}
        if name is not None:
            doc["name"] = name
        mine = [c for c in data["children"] if c[1] == parent_id]
        kids = []
        for child_id, _, pos, label in sorted(mine, key=lambda c: (nulls_last(c[2]), c[0])):
            kid: dict[str, Any] = {"_id": oid("children", [child_id])}
            if pos is not None:
                kid["pos"] = pos
            if label is not None:
                kid["label"] = label
            kids.append(kid)
        doc["kids"] = kids
        doc["kids_by_label"] = [
            {} if label is None else {"label": label}
            for _, _, _, label in sorted(mine, key=lambda c: (nulls_last(c[3]), c[0]))
        ]
        doc["kid_count"] = len(mine)
        doc["labelled_count"] = sum(1 for c in mine if c[3] is not None)
        positions = [c[2] for c in mine if c[2] is not None]
        if positions:
            total = sum(positions)
            doc["pos_sum"] = total if total in range(-(2**31), 2**31) else bson.Int64(total)
            doc["min_pos"] = min(positions)
        labels = [c[3] for c in mine if c[3] is not None]
        if labels:
            doc["max_label"] = max(labels, key=code_points)
        my_tags = [
            (tag_id, tag_name)
            for tag_id, tag_name in data["tags"]
            for linked_parent, linked_tag in data["parent_tags"]
            if linked_parent == parent_id and linked_tag == tag_id
        ]
        doc["tags"] = [
            {"id": tag_id} if tag_name is None else {"id": tag_id, "name": tag_name}
            for tag_id, tag_name in sorted(
                my_tags, key=lambda t: (nulls_last(t[1]), code_points(t[0]))
            )
        ]
        doc["tag_ids"] = [
            oid("tags", [tag_id]) for tag_id, _ in sorted(my_tags, key=lambda t: code_points(t[0]))
        ]
        expected_parents[doc["_id"]] = doc
    names = dict(data["parents"])
    expected_children = {}
    for child_id, parent_id, pos, label in data["children"]:
        doc = {"_id": oid("children", [child_id])}
        if pos is not None:
            doc["pos"] = pos
        if label is not None:
            doc["label"] = label
        if parent_id in names:  # no related row (NULL or dangling): the field is left out
            doc["parent"] = {"_id": oid("parents", [parent_id])}
            if names[parent_id] is not None:
                doc["parent"]["name"] = names[parent_id]
                doc["parent_name"] = names[parent_id]
        expected_children[doc["_id"]] = doc
    return {"parents": expected_parents, "children": expected_children}


@settings(max_examples=25, deadline=None)
@given(data=small_databases(), batch_size=st.integers(1, 8))
def test_random_small_schemas_match_a_nested_loop_oracle(data, batch_size):
    with tempfile.TemporaryDirectory() as directory:
        directory = Path(directory)
        database = directory / "small.db"
        connection = sqlite3.connect(database)
        try:
            connection.executescript(SMALL_SCHEMA)
            for table, rows in data.items():
                if rows:
                    marks = ", ".join("?" * len(rows[0]))
                    connection.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
            connection.commit()
        finally:
            connection.close()
        mapping = directory / "small.yaml"
        mapping.write_text(SMALL_MAPPING, encoding="utf-8")

        summary = migrate(
            f"sqlite:///{database}",
            f"file:{directory / 'out'}",
            directory / "rejects.jsonl",
            files=[str(mapping)],
            batch_size=batch_size,
        )

        expected = small_oracle(data)
        assert summary.balanced and summary.rejected == 0
        for result in summary.collections:
            assert result.inserted == len(expected[result.name]), result
        for name in ("parents", "children"):
            assert_same_documents(name, read_file_target(directory / "out", name), expected[name])


def test_descending_order_keeps_nulls_last(tmp_path):
    database = tmp_path / "small.db"
    connection = sqlite3.connect(database)
    try:
        connection.executescript(SMALL_SCHEMA)
        connection.execute("INSERT INTO parents VALUES (1, 'p')")
        connection.executemany(
            "INSERT INTO children VALUES (?, ?, ?, ?)",
            [(1, 1, None, None), (2, 1, 5, "b"), (3, 1, 7, "a")],
        )
        connection.commit()
    finally:
        connection.close()
    mapping = tmp_path / "desc.yaml"
    mapping.write_text(
        "version: 1\ncollections:\n  parents:\n    table: parents\n"
        "    columns: [name]\n    fields:\n      kids: {embed: children, "
        "_id: false, columns: [id], order_by: [-pos]}\n",
        encoding="utf-8",
    )
    summary = migrate(
        f"sqlite:///{database}",
        f"file:{tmp_path / 'out'}",
        tmp_path / "rejects.jsonl",
        files=[str(mapping)],
    )
    assert summary.balanced
    [document] = read_file_target(tmp_path / "out", "parents").values()
    assert [kid["id"] for kid in document["kids"]] == [3, 2, 1]  # 7, 5, then NULL last


# --- 6. the command line ---------------------------------------------------------------------


def test_cli_run_writes_the_tasks_file(demo_sqlite, tmp_path):
    out = tmp_path / "out"
    completed = mapper_cli(
        "run",
        "mappings/tasks.yaml",
        "--source",
        demo_sqlite,
        "--target",
        f"file:{out}",
        "--rejects",
        str(tmp_path / "rejects.jsonl"),
    )
    assert completed.returncode == 0, completed.stderr + completed.stdout
    with open(out / "tasks.jsonl", encoding="utf-8") as lines:
        documents = [json_util.loads(line, json_options=JSON_OPTIONS) for line in lines]
    assert len(documents) == 1000
    assert_same_documents("tasks", {d["_id"]: d for d in documents}, oracle(demo_sqlite)["tasks"])
