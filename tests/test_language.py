"""Every construct of the mapping language, end to end on a small SQLite source, against
documents written out by hand."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from pathlib import Path

import bson
import pytest
from conftest import sqlite_database

from mapper import api
from mapper.compile import Compiler
from mapper.engine.build import Builder
from mapper.engine.extract import Extractor, snapshot
from mapper.ids import oid

SCHEMA = """
CREATE TABLE shops (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT, zip TEXT,
    opened DATE, active BOOLEAN);
CREATE TABLE categories (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
    parent_id INTEGER REFERENCES categories(id));
CREATE TABLE products (id INTEGER PRIMARY KEY, shop_id INTEGER NOT NULL REFERENCES shops(id),
    category_id INTEGER REFERENCES categories(id), title TEXT NOT NULL, price NUMERIC(8, 2),
    stock INTEGER, note TEXT);
CREATE INDEX ix_products_shop_id ON products (shop_id);
CREATE INDEX ix_products_category_id ON products (category_id);
CREATE INDEX ix_categories_parent_id ON categories (parent_id);
CREATE TABLE tags (code TEXT NOT NULL, lang TEXT NOT NULL, label TEXT, PRIMARY KEY (code, lang));
CREATE TABLE product_tags (product_id INTEGER REFERENCES products(id), code TEXT, lang TEXT,
    PRIMARY KEY (product_id, code, lang), FOREIGN KEY (code, lang) REFERENCES tags(code, lang));
INSERT INTO shops VALUES (1, 'Corner', 'Lyon', '69001', '2020-05-01', 1),
                         (2, 'Closed', NULL, NULL, NULL, 0);
INSERT INTO categories VALUES (1, 'root', NULL), (2, 'food', 1), (3, 'fruit', 2),
                              (4, 'apples', 3), (5, 'tools', 1);
INSERT INTO products VALUES (10, 1, 3, 'pear', 2.50, 5, NULL), (11, 1, 4, 'apple', 1.20, 0, 'x'),
    (12, 1, NULL, 'bag', 0.10, NULL, NULL), (13, 2, 5, 'saw', 12.00, 1, NULL);
INSERT INTO tags VALUES ('eco', 'en', 'organic'), ('eco', 'fr', 'bio'), ('new', 'en', NULL);
INSERT INTO product_tags VALUES (10, 'eco', 'fr'), (10, 'eco', 'en'), (11, 'new', 'en');
"""

MAPPING = """
version: 1
collections:
  shops:
    table: shops
    filter: {active: true}
    columns: [name]
    fields:
      address.city: city
      address.zip: {column: zip, nulls: keep}
      opened: {column: opened, type: datetime}
      kind: {value: store}
      label: {template: "{{ name | upper }}{% if city %} ({{ city }}){% endif %}"}
      products:
        embed: products
        _id: key
        columns: [title, price]
        exclude: []
        order_by: [-price]
        filter: {stock: {is_null: false}}
        fields:
          category: {denormalize: categories.name}
          tag_ids: {reference: tags, via: [product_tags], order_by: [code, lang],
                    collection: tags}
      stock_total: {sum: products.stock}
      cheapest: {min: products.price}
      priciest: {max: products.price, filter: {stock: {gt: 0}}}
      average_price: {avg: products.price}
      in_stock: {count: products, filter: {stock: {gt: 0}}}
  categories:
    table: categories
    filter: {parent_id: {is_null: true}}
    columns: [name]
    fields:
      children: {embed: categories, on: {id: parent_id}, _id: false, columns: [name],
                 order_by: [name], max_depth: 3}
  tags:
    table: tags
    _id: key
    columns: [label]
"""


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> dict[str, list[dict]]:
    folder = tmp_path_factory.mktemp("language")
    url = sqlite_database(folder / "shop.db", SCHEMA)
    (folder / "shop.yaml").write_text(MAPPING)
    found: dict = {"url": url}
    with api.prepare([folder / "shop.yaml"], url) as prepared:
        assert prepared.warnings == ()
        for name, document in api.preview(prepared, 100):
            found.setdefault(name, []).append(document)
    return found


def test_shop_document(documents) -> None:
    assert len(documents["shops"]) == 1
    tag = {"code": "eco", "lang": "en"}
    assert documents["shops"][0] == {
        "_id": oid("shops", [1]),
        "name": "Corner",
        "address": {"city": "Lyon", "zip": "69001"},
        "opened": dt.datetime(2020, 5, 1, tzinfo=dt.UTC),
        "kind": "store",
        "label": "CORNER (Lyon)",
        "products": [
            {
                "_id": 10,
                "title": "pear",
                "price": bson.Decimal128("2.50"),
                "category": "fruit",
                "tag_ids": [tag, {"code": "eco", "lang": "fr"}],
            },
            {
                "_id": 11,
                "title": "apple",
                "price": bson.Decimal128("1.20"),
                "category": "apples",
                "tag_ids": [{"code": "new", "lang": "en"}],
            },
        ],
        "stock_total": 5,
        "cheapest": bson.Decimal128("0.10"),
        "priciest": bson.Decimal128("2.50"),
        "average_price": pytest.approx(1.2666666, rel=1e-6),
        "in_stock": 1,
    }


def test_self_reference_unfolds_to_max_depth(documents) -> None:
    assert documents["categories"] == [
        {
            "_id": oid("categories", [1]),
            "name": "root",
            "children": [
                {
                    "name": "food",
                    "children": [{"name": "fruit", "children": [{"name": "apples"}]}],
                },  # level 4 is past max_depth: not unfolded
                {"name": "tools", "children": []},
            ],
        }
    ]


@pytest.mark.parametrize(
    ("on_depth", "written", "rejected", "truncated"), [("reject", 0, 1, 0), ("truncate", 1, 0, 1)]
)
def test_rows_deeper_than_max_depth_are_never_dropped_silently(
    documents, tmp_path: Path, on_depth: str, written: int, rejected: int, truncated: int
) -> None:
    url = documents["url"]
    path = tmp_path / "tree.yaml"
    path.write_text(f"""
version: 1
collections:
  categories:
    table: categories
    filter: {{parent_id: {{is_null: true}}}}
    fields:
      children: {{embed: categories, on: {{id: parent_id}}, max_depth: 2,
                 on_depth: {on_depth}}}
""")
    with api.prepare([path], url) as prepared:
        summary = api.migrate(prepared, "null:", api.MigrateOptions(rejects=tmp_path / "rejects"))
    result = summary.collections[0]
    assert (result.written, result.rejected, result.truncated) == (written, rejected, truncated)
    assert summary.balanced
    if rejected:
        assert "deeper than `max_depth`" in (tmp_path / "rejects").read_text()


def test_composite_key_ids_and_kept_nulls(documents) -> None:
    by_id = {(d["_id"]["code"], d["_id"]["lang"]): d for d in documents["tags"]}
    assert by_id[("eco", "fr")] == {"_id": {"code": "eco", "lang": "fr"}, "label": "bio"}
    assert by_id[("new", "en")] == {"_id": {"code": "new", "lang": "en"}}


def test_decimal_values_are_exact(documents) -> None:
    prices = [p["price"].to_decimal() for p in documents["shops"][0]["products"]]
    assert prices == [decimal.Decimal("2.50"), decimal.Decimal("1.20")]


def test_missing_path_file(tmp_path: Path) -> None:
    from mapper.errors import SpecError

    with pytest.raises(SpecError):
        api.prepare([tmp_path / "nope.yaml"], "sqlite://")


def test_generated_builder_matches_the_closure_builder(documents, tmp_path: Path) -> None:
    """The generated fast path and the per-field closures build the same documents."""
    path = tmp_path / "shops.yaml"
    path.write_text(MAPPING)
    prepared = api.prepare([path], documents["url"])
    engine, catalog = prepared.engine, prepared.catalog
    for collection in prepared.plan.collections:
        with snapshot(engine) as connection:
            extractor = Extractor(connection, Compiler(catalog))
            rows = next(extractor.batches(collection.query, 100, collection.table))
            built = [
                Builder(collection, extractor.children, generated).build_batch(rows)
                for generated in (True, False)
            ]
        assert built[0].documents == built[1].documents
        assert built[0].documents


def test_a_failing_value_rejects_its_row_on_the_fast_path(tmp_path: Path) -> None:
    url = sqlite_database(
        tmp_path / "bad.db",
        """
        CREATE TABLE t (id INTEGER PRIMARY KEY, n TEXT);
        INSERT INTO t VALUES (1, '0f8fad5b-d9cb-469f-a165-70867728950e'), (2, 'x'), (3, '7');
        """,
    )
    path = tmp_path / "t.yaml"
    path.write_text(
        "version: 1\ncollections:\n  t:\n    table: t\n    fields:\n"
        "      u: {column: n, type: uuid}\n"
    )
    prepared = api.prepare([path], url)
    engine, catalog = prepared.engine, prepared.catalog
    collection = prepared.plan.collection("t")
    with snapshot(engine) as connection:
        extractor = Extractor(connection, Compiler(catalog))
        rows = next(extractor.batches(collection.query, 100, "t"))
        built = Builder(collection, extractor.children).build_batch(rows)
    assert [row[0] for row, _ in built.rejected] == [2, 3]
    assert [document["u"] for _, document in built.documents] == [
        uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")
    ]
    assert all("cannot convert `t.n` to uuid" in error.reason for _, error in built.rejected)
