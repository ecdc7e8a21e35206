"""Aggregates are set operations (issue 17): a grouped derived table joined into the query that
reads a batch, never a correlated subquery per row, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import bson
import pytest
import sqlalchemy as sa
from conftest import sqlite_database

from mapper import api
from mapper import plan as p
from mapper.compile import Compiler

SCHEMA = """
CREATE TABLE shops (id INTEGER PRIMARY KEY, name TEXT NOT NULL, active BOOLEAN NOT NULL);
CREATE TABLE products (id INTEGER PRIMARY KEY, shop_id INTEGER REFERENCES shops(id),
    price NUMERIC(8, 2), stock INTEGER);
CREATE TABLE sales (id INTEGER PRIMARY KEY, product_id INTEGER NOT NULL
    REFERENCES products(id), qty INTEGER NOT NULL);
CREATE TABLE tags (code TEXT PRIMARY KEY);
CREATE TABLE product_tags (product_id INTEGER NOT NULL REFERENCES products(id),
    code TEXT NOT NULL REFERENCES tags(code), PRIMARY KEY (product_id, code));
CREATE INDEX products_shop ON products (shop_id);
CREATE INDEX sales_product ON sales (product_id);
INSERT INTO shops VALUES (1, 'Corner', TRUE), (2, 'Closed', FALSE), (3, 'Empty', TRUE);
INSERT INTO products VALUES (10, 1, 2.50, 3), (11, 1, 1.20, 0), (12, 1, NULL, NULL),
    (20, 2, 5.00, 1);
INSERT INTO sales VALUES (1, 10, 2), (2, 10, 5), (3, 11, 1), (4, 20, 9);
INSERT INTO tags VALUES ('eco'), ('new'), ('old');
INSERT INTO product_tags VALUES (10, 'eco'), (11, 'eco'), (11, 'new'), (20, 'old');
"""

MAPPING = """
version: 1
collections:
  shops:
    _id: key
    table: shops
    filter: {active: true}
    columns: [name]
    fields:
      products:
        embed: products
        _id: key
        columns: [price]
        order_by: [id]
        fields:
          sold: {sum: sales.qty}
          sales: {count: sales}
      stock_total: {sum: products.stock}
      cheapest: {min: products.price}
      priciest: {max: products.price, filter: {stock: {gt: 0}}}
      average_price: {avg: products.price}
      in_stock: {count: products, filter: {stock: {gt: 0}}}
      units: {sum: sales.qty, via: [products]}
      tag_paths: {count: tags, via: [products, product_tags]}
      tags: {count: tags, via: [products, product_tags], distinct: true}
"""

EXPECTED = [
    {
        "_id": 1,
        "name": "Corner",
        "products": [
            {"_id": 10, "price": bson.Decimal128("2.50"), "sold": 7, "sales": 2},
            {"_id": 11, "price": bson.Decimal128("1.20"), "sold": 1, "sales": 1},
            {"_id": 12, "sales": 0},
        ],
        "stock_total": 3,
        "cheapest": bson.Decimal128("1.20"),
        "priciest": bson.Decimal128("2.50"),
        "average_price": pytest.approx(1.85),
        "in_stock": 1,
        "units": 8,
        "tag_paths": 3,
        "tags": 2,
    },
    {"_id": 3, "name": "Empty", "products": [], "in_stock": 0, "tag_paths": 0, "tags": 0},
]


@pytest.fixture(params=["sqlite", "postgresql"])
def source(request, tmp_path: Path) -> str:
    """The shop database on SQLite, or on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return sqlite_database(tmp_path / "shop.db", SCHEMA)
    url: str = request.getfixturevalue("pg_url")
    with sa.create_engine(url).begin() as connection:
        for statement in filter(str.strip, SCHEMA.split(";")):
            connection.exec_driver_sql(statement)
    return url


def prepare(tmp_path: Path, source: str) -> api.Prepared:
    (tmp_path / "shops.yaml").write_text(MAPPING)
    return api.prepare([tmp_path / "shops.yaml"], source)


def correlated_parts(engine: sa.Engine, statement: str, parameters: Any) -> list[str]:
    """The lines of the database's plan for a statement that run once per outer row:
    SQLite's `CORRELATED ... SUBQUERY`, PostgreSQL's `SubPlan`."""
    explain = "EXPLAIN QUERY PLAN" if engine.dialect.name == "sqlite" else "EXPLAIN"
    with engine.connect() as connection:
        lines = [
            str(row[-1]) for row in connection.exec_driver_sql(f"{explain} {statement}", parameters)
        ]
    return [line for line in lines if "CORRELATED" in line or "SubPlan" in line]


def recording(statements: list[tuple[str, Any]]) -> Callable[[sa.Engine], None]:
    def listen(engine: sa.Engine) -> None:
        sa.event.listen(
            engine,
            "before_cursor_execute",
            lambda conn, cursor, statement, parameters, *rest: statements.append(
                (statement, parameters)
            ),
        )

    return listen


def test_aggregates_give_the_documents(tmp_path: Path, source: str) -> None:
    with prepare(tmp_path, source) as prepared:
        documents = [document for _, document in api.preview(prepared, 100)]
    assert documents == EXPECTED


def test_no_statement_runs_an_aggregate_per_row(tmp_path: Path, source: str) -> None:
    statements: list[tuple[str, Any]] = []
    with prepare(tmp_path, source) as prepared:
        recording(statements)(prepared.engine)
        summary = api.migrate(
            prepared, "null:", api.MigrateOptions(batch_size=1, rejects=tmp_path / "r.jsonl")
        )
        assert summary.balanced
        [collection] = prepared.plan.collections
        worker_batch = p.in_key_range(collection, (0,), (2,))  # as a parallel worker reads
        with prepared.engine.connect() as connection:
            connection.execute(*Compiler(prepared.catalog).statement(worker_batch)).all()
        reads = [(s, a) for s, a in statements if s.lstrip().upper().startswith("SELECT")]
        assert any("sum(" in s for s, _ in reads), "the aggregates were read"
        for statement_text, arguments in reads:
            assert correlated_parts(prepared.engine, statement_text, arguments) == []


def statements_of_a_run(tmp_path: Path, source: str, batch_size: int) -> int:
    statements: list[tuple[str, Any]] = []
    with prepare(tmp_path, source) as prepared:
        recording(statements)(prepared.engine)
        options = api.MigrateOptions(batch_size=batch_size, rejects=tmp_path / "r.jsonl")
        assert api.migrate(prepared, "null:", options).balanced
    return len(statements)


def test_statements_grow_with_batches_never_with_rows(tmp_path: Path, source: str) -> None:
    one_batch = statements_of_a_run(tmp_path, source, 1000)
    assert statements_of_a_run(tmp_path, source, 1) > one_batch  # two batches of one shop
    with sa.create_engine(source).begin() as connection:
        for shop in range(100, 150):
            connection.exec_driver_sql(f"INSERT INTO shops VALUES ({shop}, 'More', TRUE)")
            connection.exec_driver_sql(
                f"INSERT INTO products VALUES ({shop}, {shop}, 1.00, 1), "
                f"({shop + 1000}, {shop}, 2.00, 0)"
            )
            connection.exec_driver_sql(f"INSERT INTO sales VALUES ({shop}, {shop}, 3)")
    assert statements_of_a_run(tmp_path, source, 1000) == one_batch


def test_aggregates_over_the_same_rows_share_one_grouped_table(tmp_path: Path) -> None:
    with prepare(tmp_path, sqlite_database(tmp_path / "shop.db", SCHEMA)) as prepared:
        [collection] = prepared.plan.collections
        sql = str(Compiler(prepared.catalog).select(collection.query))
    # products (sum, min, avg); products with stock (max, count); sales; tag paths; tags
    assert sql.count("GROUP BY") == 5
