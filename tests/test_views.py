"""Views, materialized views and partitioned tables as sources: the `key` a mapping names for a
view, foreign keys found on a partitioned table or on its partitions, and lint's warning of
joins that no index serves."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from bson import json_util
from conftest import mapper_cli, postgres_database, sqlite_database

from mapper import api

PG_SCHEMA = """
CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers,
    total numeric(10, 2) NOT NULL);
CREATE INDEX ix_orders_customer_id ON orders (customer_id);
CREATE VIEW customer_totals AS
    SELECT customer_id, count(*) AS order_count, sum(total) AS spent FROM orders
    GROUP BY customer_id;
CREATE MATERIALIZED VIEW big_orders AS
    SELECT id AS order_id, customer_id, total FROM orders WHERE total > 10;
CREATE INDEX ix_big_orders_customer_id ON big_orders (customer_id);
CREATE TABLE products (id integer PRIMARY KEY, name text NOT NULL);
-- the foreign key and the index on the partitioned table (its partitions inherit them)
CREATE TABLE events (id bigint, at timestamptz, product_id integer REFERENCES products,
    PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE INDEX ix_events_product_id ON events (product_id);
-- the foreign key and the index on each partition only
CREATE TABLE clicks (id bigint, at timestamptz, product_id integer, PRIMARY KEY (id, at))
    PARTITION BY RANGE (at);
CREATE TABLE clicks_2024 PARTITION OF clicks FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE clicks_2025 PARTITION OF clicks FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
ALTER TABLE clicks_2024 ADD FOREIGN KEY (product_id) REFERENCES products;
ALTER TABLE clicks_2025 ADD FOREIGN KEY (product_id) REFERENCES products;
CREATE INDEX ix_clicks_2024_product_id ON clicks_2024 (product_id);
CREATE INDEX ix_clicks_2025_product_id ON clicks_2025 (product_id);
-- an index on one partition only
CREATE TABLE visits (id bigint, at timestamptz, product_id integer REFERENCES products,
    PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE visits_2024 PARTITION OF visits FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE visits_2025 PARTITION OF visits FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE INDEX ix_visits_2024_product_id ON visits_2024 (product_id);
INSERT INTO customers VALUES (1, 'ann'), (2, 'bob'), (3, 'eve');
INSERT INTO orders VALUES (10, 1, 5.00), (11, 1, 20.00), (12, 1, 30.50), (13, 2, 12.00);
REFRESH MATERIALIZED VIEW big_orders;
INSERT INTO products VALUES (1, 'pen'), (2, 'ink');
INSERT INTO events VALUES (1, '2024-03-01', 1), (2, '2025-03-01', 1), (3, '2025-04-01', 2);
INSERT INTO clicks VALUES (1, '2024-05-01', 2), (2, '2025-05-01', 2);
"""

VIEWS_MAPPING = """
version: 1
collections:
  customers:
    table: customers
    fields:
      totals: {embed: customer_totals, on: {id: customer_id}, key: [customer_id], _id: false,
               columns: [order_count, spent]}
      big_orders: {embed: big_orders, on: {id: customer_id}, key: [order_id], _id: false,
                   columns: [order_id, total]}
  spenders:
    table: customer_totals
    _id: key
"""
"""Views as roots and embeds (also run on MariaDB: tests/test_mysql_source.py)."""

MAPPING = (
    VIEWS_MAPPING
    + """\
  products:
    table: products
    fields:
      events: {embed: events, _id: false, columns: [id]}
      clicks: {embed: clicks, _id: false, columns: [id]}
"""
)


@pytest.fixture(scope="module")
def shop_pg(postgres_server: str) -> Iterator[str]:
    with postgres_database(postgres_server, PG_SCHEMA) as url:
        yield url


def _write(folder: Path, text: str, name: str = "shop.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def _documents(out: Path, collection: str) -> list[dict]:
    lines = (out / f"{collection}.jsonl").read_text().splitlines()
    return [json_util.loads(line) for line in lines]


def test_the_catalog_has_views_with_their_columns_and_no_partitions(shop_pg, tmp_path) -> None:
    with api.prepare([_write(tmp_path, MAPPING)], shop_pg) as prepared:
        tables = prepared.catalog.tables
    assert tables["customer_totals"].kind == "view"
    assert tables["customer_totals"].column_names == ("customer_id", "order_count", "spent")
    assert tables["customer_totals"].primary_key == ("customer_id",)  # the mapping's key
    assert tables["big_orders"].kind == "materialized view"
    assert tables["big_orders"].indexes == (("customer_id",),)
    assert {"events_2024", "events_2025", "clicks_2024", "clicks_2025"}.isdisjoint(tables)
    assert prepared.catalog.partitions["clicks_2025"] == "clicks"
    [fk] = tables["clicks"].foreign_keys
    assert (fk.columns, fk.referred_table, fk.on_partitions) == (("product_id",), "products", True)


def test_views_run_as_roots_and_embeds_and_validate(shop_pg, tmp_path) -> None:
    out = tmp_path / "out"
    with api.prepare([_write(tmp_path, MAPPING)], shop_pg) as prepared:
        assert prepared.warnings == ()  # every join has an index, also through partitions
        summary = api.migrate(
            prepared, f"file:{out}", api.MigrateOptions(rejects=tmp_path / "rejects.jsonl")
        )
        assert summary.rejected == 0
        report = api.validate(prepared, f"file:{out}", api.ValidateOptions(sample=None))
        assert report.ok, api.render(report, "text")
    customers = {doc["name"]: doc for doc in _documents(out, "customers")}
    assert customers["ann"]["totals"]["order_count"] == 3  # one row by its key: a sub-document
    assert [o["order_id"] for o in customers["ann"]["big_orders"]] == [11, 12]  # in key order
    assert "totals" not in customers["eve"] and customers["eve"]["big_orders"] == []
    assert [doc["_id"] for doc in _documents(out, "spenders")] == [1, 2]
    products = {doc["name"]: doc for doc in _documents(out, "products")}
    assert [e["id"] for e in products["pen"]["events"]] == [1, 2]  # both partitions
    assert [c["id"] for c in products["ink"]["clicks"]] == [1, 2]  # the partitions' key


def test_a_view_root_resumes_from_its_key(shop_pg, mongo_url, mongo_db, tmp_path) -> None:
    path = _write(
        tmp_path,
        "version: 1\ncollections:\n"
        "  big: {table: big_orders, key: [order_id], columns: [order_id]}\n",
    )
    options = api.MigrateOptions(
        batch_size=1, state=tmp_path / "state.json", rejects=tmp_path / "rejects.jsonl"
    )
    with api.prepare([path], shop_pg) as prepared:
        stopped = api.migrate(prepared, mongo_url, options, stop_requested=lambda: True)
        assert stopped.stopped is not None
        assert mongo_db.big.count_documents({}) == 1
        resumed = api.migrate(
            prepared, mongo_url, api.MigrateOptions(**{**vars(options), "resume": True})
        )
        assert resumed.stopped is None and resumed.balanced
    assert sorted(doc["order_id"] for doc in mongo_db.big.find()) == [11, 12, 13]


def test_a_view_without_a_key_is_an_error_naming_file_line_and_view(shop_pg, tmp_path) -> None:
    path = _write(
        tmp_path,
        """
        version: 1
        collections:
          customers:
            table: customers
            fields:
              big: {embed: big_orders, on: {id: customer_id}}
          spenders:
            table: customer_totals
        """,
    )
    result = mapper_cli("lint", str(path), "--source", shop_pg)
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        f"{path}:6:13: error: `big_orders` is a materialized view: name the columns that "
        "identify its rows (add `key: [COLUMN, ...]` beside it)"
    ) in result.stdout
    assert f"{path}:8:5: error: `customer_totals` is a view: name the columns" in result.stdout


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{table: customer_totals, key: [customer]}",
            "unknown column `customer` in view `customer_totals` (did you mean `customer_id`?)",
        ),
        (
            "{table: customers, key: [name]}",
            "`customers` has a primary key (id): `key` names the columns of a view or of a "
            "table without one",
        ),
        (
            "{table: customer_totals, key: [customer_id], fields: {again: {embed: customer_totals,"
            " on: {customer_id: customer_id}, key: [spent]}}}",
            "`customer_totals`'s key is also given as [customer_id]",
        ),
        (
            "{table: customers, fields: {t: {reference: customer_totals, on: {id: customer_id}}}}",
            "`customer_totals` is a view: name the columns that identify its rows",
        ),
        (
            "{table: events_2024}",
            "`events_2024` is a partition of `events`: mappings read partitioned tables whole",
        ),
    ],
)
def test_keys_and_partitions_that_cannot_be_used(shop_pg, tmp_path, entry, message) -> None:
    path = _write(tmp_path, f"version: 1\ncollections:\n  c: {entry}\n")
    problems = [str(problem) for problem in api.lint([path], shop_pg)]
    assert any(message in problem and "error" in problem for problem in problems), problems


def test_a_key_that_repeats_in_the_views_rows_is_an_error(shop_pg, tmp_path) -> None:
    path = _write(
        tmp_path, "version: 1\ncollections:\n  c: {table: big_orders, key: [customer_id]}\n"
    )
    [problem] = api.lint([path], shop_pg)
    assert (problem.line, problem.severity, problem.message) == (
        3,
        "error",
        "the key (customer_id) of `big_orders` is not unique: 1 value is shared by several rows",
    )


@pytest.mark.parametrize("key", ["[]", "customer_id", "[a, a]"])
def test_a_key_is_a_list_of_distinct_columns(tmp_path, key) -> None:
    path = _write(tmp_path, f"version: 1\ncollections:\n  c: {{table: v, key: {key}}}\n")
    [problem] = api.lint([path])
    assert (problem.line, problem.severity, problem.path[:3]) == (
        3,
        "error",
        ("collections", "c", "key"),
    )


def test_init_proposes_tables_and_says_why_views_and_partitions_are_not(shop_pg) -> None:
    proposal = api.init(shop_pg)
    skipped = dict(proposal.skipped)
    assert skipped["customer_totals"] == "a view: map the tables it reads, or map it with `key:`"
    assert skipped["big_orders"].startswith("a materialized view:")
    assert skipped["clicks_2024"] == "a partition of `clicks`, read through it"
    names = {c.name for c in proposal.collections}
    assert not names & {"events_2024", "clicks_2024", "customer_totals", "big_orders"}


SQLITE_SCHEMA = """
CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL);
CREATE TABLE comments (id INTEGER PRIMARY KEY, post_id INTEGER NOT NULL REFERENCES posts (id),
    body TEXT NOT NULL);
CREATE VIEW post_stats AS SELECT post_id, count(*) AS comment_count FROM comments
    GROUP BY post_id;
INSERT INTO posts VALUES (1, 'one'), (2, 'two');
INSERT INTO comments VALUES (1, 1, 'a'), (2, 1, 'b'), (3, 2, 'c');
"""

POSTS = """
version: 1
collections:
  posts:
    table: posts
    fields:
      comments: {embed: comments, _id: false, columns: [body]}
      stats: {embed: post_stats, on: {id: post_id}, key: [post_id], _id: false}
  stats:
    table: post_stats
    _id: key
"""


def test_sqlite_views_are_roots_and_embeds(tmp_path) -> None:
    source = sqlite_database(tmp_path / "posts.db", SQLITE_SCHEMA)
    out = tmp_path / "out"
    with api.prepare([_write(tmp_path, POSTS)], source) as prepared:
        api.migrate(prepared, f"file:{out}", api.MigrateOptions(rejects=tmp_path / "r.jsonl"))
    posts = _documents(out, "posts")
    assert [p["stats"] for p in posts] == [
        {"post_id": 1, "comment_count": 2},
        {"post_id": 2, "comment_count": 1},
    ]
    assert [doc["_id"] for doc in _documents(out, "stats")] == [1, 2]


def test_lint_warns_of_a_join_without_an_index_until_there_is_one(tmp_path) -> None:
    source = sqlite_database(tmp_path / "posts.db", SQLITE_SCHEMA)
    path = _write(
        tmp_path,
        POSTS.replace(
            "      stats:",
            "      comment_count: {count: comments, filter: {body: {ne: x}}}\n      stats:",
            1,
        ),
    )
    warnings = [p for p in api.lint([path], source) if p.severity == "warning"]
    assert [(p.line, p.message, p.hint) for p in warnings] == [
        (
            6,
            "no index on `comments` (post_id), the columns joins look its rows up by: "
            "every lookup reads the whole table",
            "CREATE INDEX ix_comments_post_id ON comments (post_id)",
        )
    ]  # once, though the `count` joins on the same columns; none for the view
    sqlite_database(tmp_path / "posts.db", warnings[0].hint)
    assert api.lint([path], source) == []


def test_an_index_on_some_partitions_only_does_not_serve_a_join(shop_pg, tmp_path) -> None:
    path = _write(
        tmp_path,
        "version: 1\ncollections:\n"
        "  products: {table: products, fields: {visits: {embed: visits, _id: false}}}\n",
    )
    [warning] = api.lint([path], shop_pg)
    assert (warning.severity, warning.hint) == (
        "warning",
        "CREATE INDEX ix_visits_product_id ON visits (product_id)",
    )
    assert warning.message.startswith("no index on `visits` (product_id)")
