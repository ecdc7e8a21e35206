"""A MySQL/MariaDB source: the commands from the demo to `validate`, its snapshot, its reads in
pages, and orderings by code point whatever the column's collation (the test bed's MariaDB
uses utf8mb4_unicode_ci, case- and accent-insensitive)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from bson import json_util
from conftest import (
    SMALL_DEMO_SCALE,
    fresh_mysql_database,
    fresh_postgres_database,
    mapper_cli,
    mysql_database,
)
from test_views import VIEWS_MAPPING, _documents

from mapper import api
from mapper import plan as p
from mapper.compile import Compiler
from mapper.engine.extract import Extractor, snapshot
from mapper.validation.checks import validate

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
MAPPINGS = sorted(str(path) for path in (ROOT / "mappings").glob("*.yaml"))


def _demo_then_run(source: str, out: Path) -> dict[str, bytes]:
    """`mapper demo` then `mapper run` of the shipped mappings into files, as a user types
    them; each file's bytes."""
    demo = mapper_cli("demo", "--source", source, "--scale", str(SMALL_DEMO_SCALE))
    assert demo.returncode == 0, demo.stdout + demo.stderr
    run = mapper_cli(
        "run", *MAPPINGS, "--source", source, "--target", f"file:{out}", "--rejects", out / "r"
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return {path.name: path.read_bytes() for path in sorted(out.glob("*.jsonl"))}


def test_demo_then_run_gives_the_postgres_files_byte_for_byte(
    mysql_server: str, postgres_server: str, tmp_path: Path
) -> None:
    """issue 14: `mapper demo --source mysql+...` then `run` gives PostgreSQL's output (here
    through PyMySQL; the differential tests read through mysqlclient)."""
    pymysql_server = sa.make_url(mysql_server).set(drivername="mysql+pymysql")
    with (
        fresh_mysql_database(pymysql_server.render_as_string(False)) as mysql,
        fresh_postgres_database(postgres_server) as postgres,
    ):
        from_mysql = _demo_then_run(mysql, tmp_path / "mysql")
        from_postgres = _demo_then_run(postgres, tmp_path / "postgres")
    assert sorted(from_mysql) == [
        "organizations.jsonl",
        "projects.jsonl",
        "tasks.jsonl",
        "users.jsonl",
    ]
    assert from_mysql == from_postgres


# text keys that the server's collation orders otherwise than code points do ('B' < '_' < 'a'
# < 'c ' < 'z' by code point; '_' < 'a' < 'B' < 'c ' < 'z' in utf8mb4_unicode_ci)
CODES = ["z", "c ", "_", "a", "B"]
SCHEMA = """
CREATE TABLE shelves (code VARCHAR(10) PRIMARY KEY, label TEXT NULL);
CREATE TABLE books (id INTEGER PRIMARY KEY, shelf VARCHAR(10) NOT NULL REFERENCES shelves (code),
                    pos INTEGER NULL, title VARCHAR(20) NULL);
INSERT INTO shelves VALUES ('z', NULL), ('c ', 'x'), ('_', 'y'), ('a', NULL), ('B', 'w');
INSERT INTO books VALUES (1, 'a', NULL, NULL), (2, 'a', 5, 'b'), (3, 'a', 7, 'B'),
                         (4, 'a', 6, 'a'), (5, 'B', NULL, '_');
"""
MAPPING = """\
version: 1
collections:
  shelves:
    table: shelves
    _id: key
    columns: [label]
    fields:
      by_pos: {embed: books, _id: false, columns: [id], order_by: [pos, id]}
      by_pos_desc: {embed: books, _id: false, columns: [id], order_by: [-pos, id]}
      by_title: {embed: books, _id: false, columns: [id], order_by: [title, id]}
"""


@pytest.fixture(scope="module")
def shelves(mysql_server: str) -> str:
    with mysql_database(mysql_server, SCHEMA) as url:
        yield url


@pytest.mark.parametrize("batch_size", [1, 2, 1000])
def test_keys_and_embeds_order_by_code_point_with_nulls_last(
    shelves: str, tmp_path: Path, batch_size: int
) -> None:
    (tmp_path / "shelves.yaml").write_text(MAPPING)
    with api.prepare([tmp_path / "shelves.yaml"], shelves) as prepared:
        summary = api.migrate(
            prepared,
            f"file:{tmp_path / 'out'}",
            api.MigrateOptions(batch_size=batch_size, rejects=tmp_path / "rejects"),
        )
    assert summary.balanced and summary.rejected == 0
    lines = (tmp_path / "out" / "shelves.jsonl").read_text().splitlines()
    documents = [json_util.loads(line) for line in lines]
    assert [d["_id"] for d in documents] == sorted(CODES)  # every page, in code point order
    shelf_a = documents[sorted(CODES).index("a")]
    assert [b["id"] for b in shelf_a["by_pos"]] == [2, 4, 3, 1]  # NULL last
    assert [b["id"] for b in shelf_a["by_pos_desc"]] == [3, 4, 2, 1]  # NULL last here too
    assert [b["id"] for b in shelf_a["by_title"]] == [3, 4, 2, 1]  # 'B' < 'a' < 'b', NULL
    plan = mapper_cli("plan", tmp_path / "shelves.yaml", "--source", shelves).stdout
    assert "NULLS LAST" not in plan and "c0.pos IS NULL" in plan
    # a key that cannot be NULL is not sorted by `IS NULL`, which would cost its index's order
    assert "ORDER BY CAST(t0.code AS BINARY) ASC" in plan


def test_the_snapshot_sees_one_moment_and_writes_nothing(shelves: str) -> None:
    engine = sa.create_engine(shelves)
    count = sa.text("SELECT COUNT(*) FROM books")
    other = engine.connect()
    try:
        before = other.execute(count).scalar_one()
        other.commit()
        with snapshot(engine) as connection:
            # a row committed after the snapshot began, before its first read: not seen
            other.execute(sa.text("INSERT INTO books VALUES (99, 'z', 1, 'new')"))
            other.commit()
            assert connection.execute(count).scalar_one() == before
            with pytest.raises(sa.exc.DBAPIError, match="READ ONLY"):
                connection.execute(sa.text("DELETE FROM books"))
    finally:
        other.execute(sa.text("DELETE FROM books WHERE id = 99"))
        other.commit()
        other.close()
        engine.dispose()


@pytest.mark.parametrize("command", ["lint", "plan", "preview"])
def test_lint_plan_and_preview_work(small_demo_mysql: str, command: str) -> None:
    result = mapper_cli(command, *MAPPINGS, "--source", small_demo_mysql)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout.lower()


def test_validate_in_pages_finds_the_run_equal_and_a_change(
    small_demo_mysql: str, tmp_path: Path
) -> None:
    """Validation reads MySQL tables in pages (50 rows here), its lookups in between."""
    out = tmp_path / "out"
    with api.prepare(MAPPINGS, small_demo_mysql) as prepared:
        api.migrate(prepared, f"file:{out}", api.MigrateOptions(rejects=tmp_path / "r"))

        def full(batch_size: int):
            return validate(
                prepared.plan,
                prepared.engine,
                prepared.catalog,
                f"file:{out}",
                sample=None,
                batch_size=batch_size,
            )

        assert full(50).ok
        tasks = out / "tasks.jsonl"
        lines = tasks.read_text().splitlines()
        tasks.write_text("\n".join(lines[:-1]) + "\n")  # the last task's document lost
        assert not full(50).ok


def test_workers_run_in_one_process_and_say_so(
    small_demo_mysql: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, "mapper"),
        api.prepare(MAPPINGS, small_demo_mysql) as prepared,
    ):
        summary = api.migrate(
            prepared, "null:", api.MigrateOptions(workers=4, rejects=tmp_path / "r")
        )
    assert summary.balanced
    assert "running with one process" in caplog.text and "mysql" in caplog.text


def test_arrays_on_text_keys_are_read_by_their_keys_not_by_range(shelves: str, tmp_path) -> None:
    """A range of text keys in code point order (`CAST(shelf AS BINARY) > ...`) cannot use
    the index on `books.shelf`: each batch would read the whole table."""
    (tmp_path / "shelves.yaml").write_text(MAPPING)
    with api.prepare([tmp_path / "shelves.yaml"], shelves) as prepared:
        [collection] = prepared.plan.collections
        arrays = list(p.children_of(collection.document))
        with snapshot(prepared.engine) as connection:
            extractor = Extractor(connection, Compiler(prepared.catalog))
            assert arrays and all(p.read_by_range(collection, array) for array in arrays)
            assert not any(extractor.by_range(collection, array) for array in arrays)


def test_a_table_the_role_may_not_read_is_named_with_the_grant_hint(
    shelves: str, tmp_path: Path
) -> None:
    """MySQL hides the tables a role may not read: lint says that a grant may be missing."""
    admin = sa.create_engine(shelves, isolation_level="AUTOCOMMIT")
    database = sa.make_url(shelves).database
    with admin.connect() as connection:
        connection.execute(sa.text("CREATE USER 'mapper_reader'@'%' IDENTIFIED BY 'reader-pw'"))
        connection.execute(sa.text(f"GRANT SELECT ON `{database}`.books TO 'mapper_reader'@'%'"))
    try:
        reader = sa.make_url(shelves).set(username="mapper_reader", password="reader-pw")
        (tmp_path / "shelves.yaml").write_text(MAPPING)
        result = mapper_cli(
            "lint", tmp_path / "shelves.yaml", "--source", reader.render_as_string(False)
        )
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text("DROP USER 'mapper_reader'@'%'"))
        admin.dispose()
    assert result.returncode == 2, result.stdout + result.stderr
    assert "unknown table `shelves`" in result.stdout + result.stderr
    assert "grant SELECT on it" in result.stdout + result.stderr
    assert "reader-pw" not in result.stdout + result.stderr


def test_a_dask_executor_is_refused_before_anything_is_written(
    small_demo_mysql: str, tmp_path: Path
) -> None:
    """The Dask executor's workers join the run's exported snapshot, which MySQL has not:
    `run --executor` is a usage error naming the option and the source, and writes nothing."""
    out = tmp_path / "out"
    result = mapper_cli(
        "run",
        *MAPPINGS,
        "--source",
        small_demo_mysql,
        "--target",
        f"file:{out}",
        "--rejects",
        tmp_path / "rejects.jsonl",
        "--executor",
        "dask-local:2",
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--executor needs a PostgreSQL source" in result.stderr
    assert "(mysql)" in result.stderr
    assert not list(out.glob("*.jsonl")) and not (tmp_path / "rejects.jsonl").exists()


VIEW_SCHEMA = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(10) NOT NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers (id),
                     total DECIMAL(10, 2) NOT NULL);
CREATE VIEW customer_totals AS
    SELECT customer_id, COUNT(*) AS order_count, SUM(total) AS spent FROM orders
    GROUP BY customer_id;
CREATE VIEW big_orders AS SELECT id AS order_id, customer_id, total FROM orders WHERE total > 10;
INSERT INTO customers VALUES (1, 'ann'), (2, 'bob'), (3, 'eve');
INSERT INTO orders VALUES (10, 1, 5.00), (11, 1, 20.00), (12, 1, 30.50), (13, 2, 12.00);
"""


def test_views_are_in_the_catalog_and_run_as_roots_and_embeds(
    mysql_server: str, tmp_path: Path
) -> None:
    """MariaDB views, as PostgreSQL's in tests/test_views.py: of kind `view`, keyed by the
    mapping's `key`, read as roots and embeds, and validated."""
    path, out = tmp_path / "shop.yaml", tmp_path / "out"
    path.write_text(VIEWS_MAPPING)
    with (
        mysql_database(mysql_server, VIEW_SCHEMA) as url,
        api.prepare([path], url) as prepared,
    ):
        tables = prepared.catalog.tables
        assert tables["customer_totals"].kind == "view"
        assert tables["big_orders"].kind == "view" and tables["orders"].kind == "table"
        assert tables["customer_totals"].primary_key == ("customer_id",)  # the mapping's key
        summary = api.migrate(prepared, f"file:{out}", api.MigrateOptions(rejects=tmp_path / "r"))
        assert summary.balanced and summary.rejected == 0
        report = api.validate(prepared, f"file:{out}", api.ValidateOptions(sample=None))
        assert report.ok, api.render(report, "text")
    customers = {doc["name"]: doc for doc in _documents(out, "customers")}
    assert customers["ann"]["totals"]["order_count"] == 3
    assert [o["order_id"] for o in customers["ann"]["big_orders"]] == [11, 12]
    assert "totals" not in customers["eve"] and customers["eve"]["big_orders"] == []
    assert [doc["_id"] for doc in _documents(out, "spenders")] == [1, 2]
