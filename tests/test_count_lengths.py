"""A `count` of the rows an array of the same document holds is that array's length."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from conftest import sqlite_database

from mapper import api
from mapper import plan as p
from mapper.compile import Compiler, render
from mapper.report import plan_text

SCHEMA = """
CREATE TABLE makers (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE shops (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE products (id INTEGER PRIMARY KEY, shop_id INTEGER REFERENCES shops(id),
    maker_id INTEGER REFERENCES makers(id), title TEXT, stock INTEGER);
CREATE INDEX ix_products_shop_id ON products (shop_id);
CREATE INDEX ix_products_maker_id ON products (maker_id);
CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE shop_tags (shop_id INTEGER REFERENCES shops(id), tag_id INTEGER REFERENCES tags(id),
    PRIMARY KEY (shop_id, tag_id));
CREATE INDEX ix_shop_tags_tag_id ON shop_tags (tag_id);
INSERT INTO makers VALUES (1, 'acme');
INSERT INTO shops VALUES (1, 'three'), (2, 'none'), (3, 'one');
INSERT INTO products VALUES (10, 1, 1, 'a', 0), (11, 1, NULL, 'b', 5), (12, 1, 1, 'c', 2),
    (13, 3, NULL, 'd', NULL);
INSERT INTO tags VALUES (1, 'x'), (2, 'y');
INSERT INTO shop_tags VALUES (1, 1), (1, 2), (3, 2);
"""
MAPPING = """
version: 1
collections:
  shops:
    table: shops
    columns: [name]
    fields:
      counted_first: {count: products}
      products:
        embed: products
        columns: [title]
        fields:
          maker: {embed: makers, columns: [name]}
      product_ids: {reference: products}
      stocked: {count: products, filter: {stock: {gt: 0}}}
      as_text: {count: products, type: string}
      tags: {embed: tags, via: [shop_tags], columns: [name]}
      tag_count: {count: tags, via: [shop_tags]}
  filtered:
    table: shops
    _id: key
    fields:
      stocked: {embed: products, filter: {stock: {gt: 0}}, columns: [title]}
      all_products: {count: products}
  limited:
    table: shops
    _id: key
    fields:
      first: {embed: products, order_by: [id], limit: 1, overflow: truncate, columns: [title]}
      all_products: {count: products}
  referenced:
    table: shops
    _id: key
    fields:
      product_ids: {reference: products}
      all_products: {count: products}
"""


@pytest.fixture(scope="module")
def shops(tmp_path_factory):
    folder = tmp_path_factory.mktemp("counts")
    url = sqlite_database(folder / "shops.db", SCHEMA)
    (folder / "shops.yaml").write_text(MAPPING, encoding="utf-8")
    with api.prepare([folder / "shops.yaml"], url) as prepared:
        assert prepared.warnings == ()
        documents: dict = {}
        for name, document in api.preview(prepared, 10):
            documents.setdefault(name, []).append(document)
        yield prepared.plan, prepared.catalog, documents


def _kinds(collection: p.CollectionPlan) -> dict[str, str]:
    return {
        ".".join(f.path): type(f).__name__
        for f in collection.document.fields
        if isinstance(f, p.Value | p.Length) and f.source.startswith("count(")
    }


def test_counts_of_an_unfiltered_unlimited_one_hop_array_are_lengths(shops) -> None:
    plan, _, _ = shops
    assert _kinds(plan.collection("shops")) == {
        "counted_first": "Length",
        "as_text": "Length",
        "stocked": "Value",  # a filter of its own
        "tag_count": "Value",
    }  # through a link table: its rows are the link rows
    assert _kinds(plan.collection("filtered")) == {"all_products": "Value"}
    assert _kinds(plan.collection("limited")) == {"all_products": "Value"}
    assert _kinds(plan.collection("referenced")) == {"all_products": "Length"}
    assert plan.collection("shops").document.fields[2].array == ("products",)  # after name


def test_a_length_needs_no_sql_aggregate(shops) -> None:
    plan, catalog, _ = shops
    dialect = sa.create_engine("sqlite://").dialect
    sql = render(Compiler(catalog).select(plan.collection("referenced").query), dialect)
    assert "count" not in sql.lower()
    assert "all_products: count(products) as int, the length of `product_ids`" in plan_text(
        plan, Compiler(catalog), dialect
    )


def test_lengths_and_sql_counts_give_the_counts_of_the_rows(shops) -> None:
    _, _, documents = shops
    by_name = {d["name"]: d for d in documents["shops"]}
    assert [
        (
            by_name[n]["counted_first"],
            by_name[n]["as_text"],
            by_name[n]["stocked"],
            by_name[n]["tag_count"],
        )
        for n in ("three", "none", "one")
    ] == [(3, "3", 2, 2), (0, "0", 0, 0), (1, "1", 0, 1)]
    assert list(by_name["three"])[:3] == ["_id", "name", "counted_first"]  # field order kept
    assert [d["all_products"] for d in documents["limited"]] == [3, 0, 1]
    assert [d["all_products"] for d in documents["referenced"]] == [3, 0, 1]


IN_A_SUB_DOCUMENT = """
version: 1
collections:
  products:
    table: products
    columns: [title]
    fields:
      shop:
        embed: shops
        columns: [name]
        fields:
          tag_count: {count: shop_tags}
          tag_links: {embed: shop_tags, columns: [tag_id], _id: false}
"""


def test_a_length_inside_an_embedded_sub_document_counts_its_array(tmp_path) -> None:
    """The generated builder inlines a to-one sub-document; a length among its fields is the
    closure compiled with that sub-document (it once failed: `unknown shape Length`)."""
    url = sqlite_database(tmp_path / "shops.db", SCHEMA)
    (tmp_path / "products.yaml").write_text(IN_A_SUB_DOCUMENT, encoding="utf-8")
    with api.prepare([tmp_path / "products.yaml"], url) as prepared:
        shop = prepared.plan.collection("products").document.fields[-1]
        assert isinstance(shop.fields[-2], p.Length)
        documents = [document for _, document in api.preview(prepared, 10)]
    assert [(d["title"], d["shop"]["tag_count"], d["shop"]["tag_links"]) for d in documents] == [
        ("a", 2, [{"tag_id": 1}, {"tag_id": 2}]),
        ("b", 2, [{"tag_id": 1}, {"tag_id": 2}]),
        ("c", 2, [{"tag_id": 1}, {"tag_id": 2}]),
        ("d", 1, [{"tag_id": 2}]),
    ]
