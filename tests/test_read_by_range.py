"""Arrays of the root document read by a batch's key range instead of its list of keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import sqlite_database

from mapper import api
from mapper import plan as p
from mapper.compile import Compiler
from mapper.config import sqlalchemy_url
from mapper.engine.batches import key_of, spans
from mapper.engine.build import Builder
from mapper.engine.extract import Extractor, snapshot

ROOT = Path(__file__).resolve().parent.parent

SCHEMA = """
CREATE TABLE shops (id INTEGER PRIMARY KEY, code TEXT UNIQUE, name TEXT, active BOOLEAN);
CREATE TABLE products (id INTEGER PRIMARY KEY, shop_id INTEGER REFERENCES shops(id),
    shop_code TEXT REFERENCES shops(code), title TEXT);
CREATE TABLE notes (id INTEGER PRIMARY KEY, product_id INTEGER REFERENCES products(id),
    body TEXT);
CREATE INDEX ix_products_shop_id ON products (shop_id);
CREATE INDEX ix_products_shop_code ON products (shop_code);
CREATE INDEX ix_notes_product_id ON notes (product_id);
"""
SHOPS = """
version: 1
collections:
  shops:
    table: shops
    {filter}
    columns: [name]
    fields:
      products:
        embed: products
        on: {{id: shop_id}}
        columns: [title]
        fields:
          notes: {{embed: notes, columns: [body]}}
      listed: {{embed: products, on: {{code: shop_code}}, columns: [title]}}
"""


def _plan(url: str, mapping: Path, text: str) -> tuple[p.Plan, object]:
    mapping.write_text(text, encoding="utf-8")
    prepared = api.prepare([mapping], url)
    assert prepared.warnings == ()
    return prepared.plan, (prepared.engine, prepared.catalog)


def _arrays(collection: p.CollectionPlan) -> dict[str, bool]:
    """Every array of the plan (nested ones too) and whether it is read by range."""
    found = {}

    def walk(shape: p.SubDocument) -> None:
        for children in p.children_of(shape):
            found[".".join(children.path)] = p.read_by_range(collection, children)
            if isinstance(children.element, p.SubDocument):
                walk(children.element)

    walk(collection.document)
    return found


@pytest.mark.parametrize(
    ("root_filter", "expected"),
    [
        ("", {"products": True, "notes": False, "listed": False}),
        ("filter: {active: true}", {"products": False, "notes": False, "listed": False}),
    ],
)
def test_only_arrays_on_the_key_of_an_unfiltered_root_are_read_by_range(
    tmp_path: Path, root_filter: str, expected: dict
) -> None:
    """Nested arrays hang on child rows, `listed` on another column than the key, and with a
    root filter a key range would also hold the children of rows the filter drops."""
    url = sqlite_database(tmp_path / "shops.db", SCHEMA)
    plan, _ = _plan(url, tmp_path / "shops.yaml", SHOPS.format(filter=root_filter))
    assert _arrays(plan.collection("shops")) == expected


def test_the_range_reads_the_same_children_as_the_keys(demo_pg: str, tmp_path: Path) -> None:
    tasks = (ROOT / "mappings" / "tasks.yaml").read_text(encoding="utf-8")
    plan, (engine, catalog) = _plan(sqlalchemy_url(demo_pg), tmp_path / "tasks.yaml", tasks)
    collection = plan.collection("tasks")
    assert set(_arrays(collection).values()) == {True}
    statements: list[str] = []
    ranged, listed = [], []
    try:
        with snapshot(engine) as connection:
            extractor = Extractor(connection, Compiler(catalog))
            builder = Builder(collection, extractor.children)
            stream = extractor.batches(collection.query, 97, collection.table)
            batches = list(spans(stream, lambda row: key_of(collection, row), None))
            sa.event.listen(
                engine,
                "before_cursor_execute",
                lambda _c, _r, statement, *_: statements.append(statement),
            )
            for rows, span in batches:
                by_range = builder.build_batch(rows, builder.fetch_batch(rows, span))
                ranged += statements
                statements.clear()
                by_keys = builder.build_batch(rows, builder.fetch_batch(rows))
                listed += statements
                statements.clear()
                assert by_range.documents == by_keys.documents
                assert len(by_range.documents) == len(rows)
    finally:
        engine.dispose()
    assert len(batches) == 11 and batches[0][1][0] is None
    assert [span[0] for _, span in batches[1:]] == [span[1] for _, span in batches[:-1]]
    assert len(ranged) == len(listed) == 3 * len(batches)
    assert all("ANY" not in statement and "<=" in statement for statement in ranged)
    assert all("ANY" in statement for statement in listed)


def test_only_the_root_query_streams_from_a_server_side_cursor(
    demo_pg: str, tmp_path: Path
) -> None:
    """Child queries read one batch's rows: plain statements, not server-side cursors (whose
    DECLARE, FETCH and CLOSE cost round trips), also after the root stream has begun."""
    tasks = (ROOT / "mappings" / "tasks.yaml").read_text(encoding="utf-8")
    plan, (engine, catalog) = _plan(sqlalchemy_url(demo_pg), tmp_path / "tasks.yaml", tasks)
    collection = plan.collection("tasks")
    named: list[tuple[bool, str]] = []
    sa.event.listen(
        engine,
        "before_cursor_execute",
        lambda _c, cursor, statement, *_: named.append((cursor.name is not None, statement)),
    )
    try:
        with snapshot(engine) as connection:
            extractor = Extractor(connection, Compiler(catalog))
            builder = Builder(collection, extractor.children)
            stream = extractor.batches(collection.query, 400, collection.table)
            for rows, span in spans(stream, lambda row: key_of(collection, row), None):
                builder.fetch_batch(rows, span)
    finally:
        engine.dispose()
    streamed = [statement for is_named, statement in named if is_named]
    assert len(streamed) == 1 and streamed[0].startswith("SELECT t0.id")
    children = [is_named for is_named, statement in named if "c0.task_id" in statement]
    assert children == [False] * 3 * 3  # three batches, three arrays


def test_a_statement_is_built_once_whatever_its_bounds(tmp_path: Path) -> None:
    url = sqlite_database(tmp_path / "shops.db", SCHEMA)
    plan, (engine, catalog) = _plan(url, tmp_path / "shops.yaml", SHOPS.format(filter=""))
    collection = plan.collection("shops")
    compiler = Compiler(catalog)
    first, values = compiler.statement(p.in_key_range(collection, (1,), (5,)))
    again, other = compiler.statement(p.in_key_range(collection, (5,), (9,)))
    open_ended, rest = compiler.statement(p.in_key_range(collection, (9,)))
    assert again is first and open_ended is not first
    assert (values, other, rest) == (
        {"t0_after0": 1, "t0_through0": 5},
        {"t0_after0": 5, "t0_through0": 9},
        {"t0_after0": 9},
    )
    with engine.connect() as connection:
        connection.exec_driver_sql(
            "INSERT INTO shops (id, name) VALUES (1, 'a'), (5, 'b'), (7, 'c'), (9, 'd'), (12, 'e')"
        )
        names = [
            [row.s1 for row in connection.execute(statement, parameters)]
            for statement, parameters in ((first, values), (again, other), (open_ended, rest))
        ]
    engine.dispose()
    assert names == [["b"], ["c", "d"], ["e"]]
