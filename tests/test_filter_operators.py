"""Each filter operator selects the same rows in the run and in `validate`, and the rows its
documented meaning says (a NULL matches `is_null: true`, `ne` and `not_in`).

One mapping holds a pair of collections per filter: `shops_N` embeds the items that pass it
(validate's array check counts them with `Compiler.condition`, its rebuild filters in Python),
and `items_N` is the items table filtered at its root. One run and one `validate --full` per
source (SQLite and PostgreSQL).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bson import json_util
from conftest import postgres_database, sqlite_database

from mapper import api

SCRIPT = """
CREATE TABLE shops (id INTEGER PRIMARY KEY);
CREATE TABLE items (id INTEGER PRIMARY KEY, shop_id INTEGER NOT NULL REFERENCES shops(id),
                    price INTEGER, label TEXT);
INSERT INTO shops VALUES (1), (2);
INSERT INTO items VALUES (1, 1, 5, 'a'), (2, 1, 10, NULL), (3, 1, NULL, 'b'),
                         (4, 2, 20, 'a'), (5, 2, NULL, NULL), (6, 2, 10, 'c');
"""

# a filter (YAML flow) -> the ids of the items that pass it
FILTERS = [
    ("{price: 10}", {2, 6}),
    ("{price: {eq: 10}}", {2, 6}),
    ("{price: {ne: 10}}", {1, 3, 4, 5}),
    ("{label: a}", {1, 4}),
    ("{price: {lt: 10}}", {1}),
    ("{price: {lte: 10}}", {1, 2, 6}),
    ("{price: {gt: 10}}", {4}),
    ("{price: {gte: 10}}", {2, 4, 6}),
    ("{price: {in: [5, 20]}}", {1, 4}),
    ("{price: {not_in: [5, 20]}}", {2, 3, 5, 6}),
    ("{price: {is_null: true}}", {3, 5}),
    ("{price: {is_null: false}}", {1, 2, 4, 6}),
    ("{label: {ne: a}}", {2, 3, 5, 6}),
    ("{or: [{price: {lt: 10}}, {label: c}]}", {1, 6}),
    ("{and: [{price: {gte: 10}}, {label: {not_in: [c]}}]}", {2, 4}),
]


def _mapping() -> str:
    lines = ["version: 1", "collections:"]
    for number, (condition, _) in enumerate(FILTERS):
        lines += [
            f"  shops_{number}:",
            "    table: shops",
            "    _id: key",
            "    fields:",
            f"      items: {{embed: items, columns: [id], _id: false, order_by: [id], "
            f"filter: {condition}}}",
            f"  items_{number}:",
            "    table: items",
            "    _id: key",
            "    columns: [id]",
            f"    filter: {condition}",
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def migrated(request, tmp_path_factory):
    """(documents by collection, validate's report) after one run of every filter."""
    folder = tmp_path_factory.mktemp(f"filters_{request.param}")
    mapping = folder / "filters.yaml"
    mapping.write_text(_mapping(), encoding="utf-8")
    if request.param == "sqlite":
        yield _run(sqlite_database(folder / "source.db", SCRIPT), mapping, folder)
    else:
        with postgres_database(request.getfixturevalue("postgres_server"), SCRIPT) as url:
            yield _run(url, mapping, folder)


def _run(url: str, mapping: Path, folder: Path):
    target = f"file:{folder / 'out'}"
    with api.prepare([mapping], url) as prepared:
        summary = api.migrate(prepared, target, api.MigrateOptions(rejects=folder / "r.jsonl"))
        report = api.validate(prepared, target, api.ValidateOptions(sample=None))
    assert summary.rejected == 0
    documents = {
        path.stem: [json_util.loads(line) for line in path.read_text().splitlines()]
        for path in (folder / "out").glob("*.jsonl")
    }
    return documents, report


@pytest.mark.parametrize(
    ("number", "expected"),
    [(n, ids) for n, (_, ids) in enumerate(FILTERS)],
    ids=[condition for condition, _ in FILTERS],
)
def test_a_filter_selects_its_documented_rows_in_run_and_validate(
    migrated, number: int, expected: set[int]
) -> None:
    documents, report = migrated
    embedded = {item["id"] for shop in documents[f"shops_{number}"] for item in shop["items"]}
    assert embedded == expected
    assert {item["id"] for item in documents[f"items_{number}"]} == expected
    results = {result.name: result for result in report.collections}
    for name in (f"shops_{number}", f"items_{number}"):
        assert results[name].failed == 0, name
        assert results[name].checks["equality"].checked == len(documents[name]) > 0, name
    assert results[f"shops_{number}"].checks["arrays"].checked == 2
