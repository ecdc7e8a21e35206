"""`validate`'s deep equality is independent of the run: its rebuild of the expected documents
equals the naive oracle's on the demo, agrees with the run on the language's constructs, and
a deliberately wrong builder makes `validate --full` fail, naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from bson import ObjectId, json_util
from conftest import sqlite_database
from oracle import COLLECTIONS, Oracle
from test_language import MAPPING as LANGUAGE
from test_language import SCHEMA

from mapper import api
from mapper.catalog import Catalog, Column, Table
from mapper.cli import main
from mapper.engine.build import Builder
from mapper.engine.extract import snapshot
from mapper.spec import MappingFile
from mapper.validation.rebuild import Rebuild, Rejected
from mapper.validation.source import Source
from mapper.validation.values import diff

MAPPINGS = str(Path(__file__).parents[1] / "mappings")


def rebuilt(url: str, paths: list, batch_size: int = 64) -> dict[str, dict]:
    """{collection: {_id: document or Rejected}} as validate's rebuild gives them."""
    prepared = api.prepare(paths, url)
    engine, catalog = prepared.engine, prepared.catalog
    found: dict[str, dict] = {}
    with snapshot(engine) as connection:
        rebuild = Rebuild(list(prepared.mappings), catalog, Source(connection, catalog))
        for name in rebuild.specs:
            documents = found.setdefault(name, {})
            for rows in rebuild.batches(name, batch_size):
                for row, document in zip(rows, rebuild.documents(name, rows), strict=True):
                    documents[str(rebuild.document_id(name, row))] = document
                rebuild.source.clear()
    engine.dispose()
    return found


@pytest.mark.parametrize("source", ["demo_pg", "demo_sqlite"])
def test_the_rebuild_equals_the_oracle_on_the_demo(source, request):
    url = request.getfixturevalue(source)
    expected = Oracle(url).documents()
    documents = rebuilt(url, [MAPPINGS])
    assert set(documents) == set(COLLECTIONS)
    for name in COLLECTIONS:
        want = {str(key): document for key, document in expected[name].items()}
        assert documents[name].keys() == want.keys(), name
        for key, document in documents[name].items():
            assert list(diff(want[key], document)) == [], (name, key)


EXTRA_ROWS = "INSERT INTO product_tags VALUES (12, 'eco', 'en');\n"

CONSTRUCTS = """
version: 1
collections:
  products:
    table: products
    _id: {column: title}
    nulls: keep
    exclude: [shop_id, note]
    fields:
      shop.name: {denormalize: shops.name}
      shop.city: {denormalize: shops.city, nulls: omit}
      summary: {template: "{{ title }}: {{ note }}"}
      summary_safe: {template: "{{ title }}{% if note %}: {{ note }}{% endif %}"}
      stock_number: {template: "{{ stock }}", type: int, nulls: omit}
      version: {value: "7", type: int}
      price_text: {column: price, type: string}
      tags:
        embed: tags
        via: [product_tags]
        _id: false
        columns: [label]
        fields:
          code: product_tags.code
        order_by: [-product_tags.lang, code]
        filter: {product_tags.lang: {ne: de}}
      tag_count: {count: tags, via: [product_tags]}
      category:
        embed: categories
        _id: false
        columns: [name]
        fields:
          parent: {embed: categories, on: {parent_id: id}, _id: false, columns: [name],
                   max_depth: 2}
  shops_all:
    table: shops
    fields:
      products: {embed: products, columns: [title], order_by: [title], limit: 2,
                 overflow: reject}
      tag_paths: {count: tags, via: [products, product_tags]}
      distinct_tags: {count: tags, via: [products, product_tags], distinct: true}
      priciest: {max: products.price, filter: {stock: {gte: 0}}}
"""


@pytest.fixture
def shop(tmp_path) -> tuple[str, Path]:
    """The language test's SQLite shop (one more tag row) and a folder of mappings."""
    url = sqlite_database(tmp_path / "shop.db", SCHEMA + EXTRA_ROWS)
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "language.yaml").write_text(LANGUAGE, encoding="utf-8")
    (folder / "constructs.yaml").write_text(CONSTRUCTS, encoding="utf-8")
    return url, folder


def test_the_rebuild_follows_each_construct(shop):
    url, folder = shop
    documents = rebuilt(url, [folder], batch_size=2)
    saw = documents["products"]["saw"]
    assert saw["summary"] is None and saw["summary_safe"] == "saw"
    assert saw["stock_number"] == 1 and saw["version"] == 7 and saw["price_text"] == "12.00"
    assert saw["shop"] == {"name": "Closed"}  # a NULL city omitted by the field's policy
    pear = documents["products"]["pear"]
    assert [t["code"] + t["label"] for t in pear["tags"]] == ["ecobio", "ecoorganic"]
    assert pear["tag_count"] == 2
    apple = documents["products"]["apple"]
    assert apple["category"] == {
        "name": "apples",
        "parent": {"name": "fruit", "parent": {"name": "food"}},
    }  # two levels, the third left out (on_depth: truncate)
    shops = list(documents["shops_all"].values())
    assert sum(isinstance(d, Rejected) and d.stage == "overflow" for d in shops) == 1
    (closed,) = [d for d in shops if not isinstance(d, Rejected)]
    assert closed["tag_paths"] == closed["distinct_tags"] == 0
    assert closed["priciest"].to_decimal() == 12


def test_every_construct_validates_in_a_file_target(shop, tmp_path, capsys):
    """The run and the rebuild agree on every construct; the row the run rejects (an array
    over its limit) is expected to have no document."""
    url, folder = shop
    out = tmp_path / "out"
    assert (
        main(
            [
                "run",
                str(folder),
                "--source",
                url,
                "--target",
                f"file:{out}",
                "--rejects",
                str(tmp_path / "rejects.jsonl"),
            ]
        )
        == 1
    )  # one rejected row
    capsys.readouterr()
    code = main(
        [
            "validate",
            str(folder),
            "--source",
            url,
            "--target",
            f"file:{out}",
            "--full",
            "--format",
            "json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["differences"]
    results = {c["name"]: c for c in report["collections"]}
    assert (
        results["shops_all"]["source_rows"],
        results["shops_all"]["documents"],
        results["shops_all"]["rejected"],
    ) == (2, 1, 1)
    for result in results.values():
        assert result["checks"]["equality"]["checked"] == result["documents"] > 0


def test_a_dangling_id_in_a_reference_array_fails_the_reference_check(shop, tmp_path, capsys):
    """`tag_ids` references a collection with `_id: key` ids: each id in the array must
    exist there (checked for every document, not only by the sampled equality)."""
    url, folder = shop
    out = tmp_path / "out"
    main(
        [
            "run",
            str(folder),
            "--source",
            url,
            "--target",
            f"file:{out}",
            "--only",
            "shops",
            "--only",
            "tags",
            "--rejects",
            str(tmp_path / "rejects.jsonl"),
        ]
    )
    shops = out / "shops.jsonl"
    (document,) = [json_util.loads(line) for line in shops.read_text().splitlines()]
    document["products"][0]["tag_ids"][0] = {"code": "zzz", "lang": "en"}
    shops.write_text(
        json_util.dumps(document, json_options=json_util.CANONICAL_JSON_OPTIONS) + "\n"
    )
    capsys.readouterr()
    assert (
        main(
            [
                "validate",
                str(folder),
                "--source",
                url,
                "--target",
                f"file:{out}",
                "--only",
                "shops",
                "--only",
                "tags",
                "--sample",
                "0",
                "--format",
                "json",
            ]
        )
        == 1
    )
    report = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in report["collections"]] == ["shops", "tags"]
    (item,) = report["differences"]
    assert (item["check"], item["path"]) == ("references", "products[0].tag_ids[0]")
    assert "no such document in tags" in item["message"]


# --- a wrong builder -----------------------------------------------------------------------


def broken_builder(monkeypatch, change) -> None:
    """The run's builder, made to `change` each task document it builds."""
    build_each = Builder.build_each

    def wrong(self, rows, fetched=None):
        each, truncated = build_each(self, rows, fetched)
        if self.collection.name != "tasks":
            return each, truncated
        return (
            (row, change(document) if isinstance(document, dict) else document)
            for row, document in each
        ), truncated

    monkeypatch.setattr(Builder, "build_each", wrong)


def altered_body(document: dict) -> dict:
    if document["comments"]:
        document["comments"][0] = {**document["comments"][0], "body": "altered"}
    return document


def dropped_label(document: dict) -> dict:
    document["labels"] = document["labels"][:-1]
    return document


@pytest.mark.parametrize(
    ("change", "path"), [(altered_body, "comments[0].body"), (dropped_label, "labels")]
)
def test_a_wrong_builder_fails_validate_full(change, path, demo_pg, monkeypatch, tmp_path, capsys):
    """The builder stays broken while validate runs: its rebuild must not share it."""
    target = f"file:{tmp_path / 'out'}"
    broken_builder(monkeypatch, change)
    assert (
        main(
            [
                "run",
                MAPPINGS,
                "--only",
                "tasks",
                "--source",
                demo_pg,
                "--target",
                target,
                "--rejects",
                str(tmp_path / "r.jsonl"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    code = main(
        [
            "validate",
            MAPPINGS,
            "--only",
            "tasks",
            "--source",
            demo_pg,
            "--target",
            target,
            "--full",
            "--format",
            "json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    (tasks,) = report["collections"]
    assert tasks["checks"]["equality"]["failed"] > 0
    named = [d for d in report["differences"] if d["path"].startswith(path)]
    assert named and all(ObjectId(d["id"]) for d in named)
    assert {d["check"] for d in report["differences"]} <= {"equality", "arrays", "denormalized"}


def test_run_validate_into_a_file_target(demo_sqlite, tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        main(
            [
                "run",
                MAPPINGS,
                "--source",
                demo_sqlite,
                "--target",
                f"file:{out}",
                "--validate",
                "--rejects",
                str(tmp_path / "r.jsonl"),
            ]
        )
        == 0
    )
    assert "OK: the target matches the source" in capsys.readouterr().out
    assert main(["run", MAPPINGS, "--source", demo_sqlite, "--target", "null:", "--validate"]) == 2


def test_values_the_run_rejects_are_expected_without_a_document(tmp_path, capsys):
    """SQLite keeps any value in any column: a date the driver cannot read rejects its row
    in the run, and the rebuild reads it as the same marker (no document expected)."""
    url = sqlite_database(
        tmp_path / "odd.db",
        """
        CREATE TABLE events (id INTEGER PRIMARY KEY, day DATE, amount NUMERIC);
        INSERT INTO events VALUES (1, '2024-02-29', 3), (2, '10000-01-01', 1.5),
                                  (3, 'not a date', NULL), (4, NULL, '7');
    """,
    )
    mapping = tmp_path / "events.yaml"
    mapping.write_text("version: 1\ncollections:\n  events: {table: events}\n", encoding="utf-8")
    out = tmp_path / "out"
    common = [str(mapping), "--source", url, "--target", f"file:{out}"]
    assert main(["run", *common, "--rejects", str(tmp_path / "r.jsonl")]) == 1
    capsys.readouterr()
    assert main(["validate", *common, "--full", "--format", "json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["collections"]
    assert (result["source_rows"], result["documents"], result["rejected"]) == (4, 2, 2)
    assert result["checks"]["equality"] == {"checked": 2, "passed": 2, "failed": 0}


def test_a_repeated_id_is_the_run_rejecting_the_later_row(tmp_path, capsys):
    url = sqlite_database(
        tmp_path / "codes.db",
        """
        CREATE TABLE codes (id INTEGER PRIMARY KEY, code TEXT, note TEXT);
        INSERT INTO codes VALUES (1, 'a', 'first'), (2, 'a', 'second'), (3, 'b', NULL);
    """,
    )
    mapping = tmp_path / "codes.yaml"
    mapping.write_text(
        "version: 1\ncollections:\n  codes: {table: codes, _id: {column: code}}\n", encoding="utf-8"
    )
    common = [str(mapping), "--source", url, "--target", f"file:{tmp_path / 'out'}"]
    assert main(["run", *common, "--rejects", str(tmp_path / "r.jsonl")]) == 1
    capsys.readouterr()
    assert main(["validate", *common, "--full", "--format", "json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["collections"]
    assert (result["documents"], result["rejected"]) == (2, 1)


def test_a_key_that_does_not_convert_expects_the_rejected_row():
    """`_id: {column: ...}` whose value its conversion refuses: the run rejects the row, so
    the rebuild expects that rejection for its id and its document (no reads, no server)."""
    table = Table(
        "things",
        None,
        "things",
        (Column("id", "int32", "INTEGER", False), Column("code", "uuid", "TEXT", False)),
        ("id",),
        (),
    )
    catalog = Catalog("sqlite", {"things": table})
    spec = {"table": "things", "_id": {"column": "code"}, "columns": []}
    mapping = MappingFile("things.yaml", {"version": 1, "collections": {"things": spec}}, {})
    row = {"id": 1, "code": "not a uuid"}
    with sa.create_engine("sqlite://").connect() as connection:
        rebuild = Rebuild([mapping], catalog, Source(connection, catalog))
        rejected = Rejected("convert", "cannot convert the key of `things`")
        assert rebuild.document_id("things", row) == rejected
        assert rebuild.documents("things", [row]) == [rejected]
