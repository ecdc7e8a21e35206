"""Silent wrong data found by trying mapper on real schemas (issue 12): each case here wrote a
wrong value without a word before it was fixed."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import bson
import pytest
import sqlalchemy as sa
from bson import json_util
from conftest import sqlite_database

from mapper import api, cli
from mapper.api import lint
from mapper.errors import Problem, SpecError
from mapper.ids import key_text, oid

PEOPLE = """
CREATE TABLE people (id INTEGER PRIMARY KEY, first_name TEXT NOT NULL, company TEXT,
    age TEXT);
INSERT INTO people VALUES (1, 'Ann', 'Acme', '41'), (2, 'Bob', NULL, 'x');
"""


def build(
    tmp_path: Path, schema: str, mapping: str, url: str | None = None
) -> tuple[dict[str, list[dict]], list]:
    """The documents a mapping makes of a source (a SQLite database made by `schema` unless
    `url` is given), per collection, and lint's problems."""
    url = url or sqlite_database(tmp_path / "source.db", schema)
    (tmp_path / "m.yaml").write_text(mapping)
    found: dict[str, list[dict]] = {}
    with api.prepare([tmp_path / "m.yaml"], url) as prepared:
        for name, document in api.preview(prepared, 1000):
            found.setdefault(name, []).append(document)
    return found, list(prepared.warnings)


def failure(tmp_path: Path, schema: str, mapping: str) -> list[Problem]:
    with pytest.raises(SpecError) as raised:
        build(tmp_path, schema, mapping)
    return [problem for problem in raised.value.problems if problem.severity == "error"]


def people(tmp_path: Path, fields: str, nulls: str = "omit") -> tuple[list[dict], list]:
    documents, problems = build(
        tmp_path,
        PEOPLE,
        f"""
version: 1
collections:
  people:
    table: people
    _id: key
    columns: []
    nulls: {nulls}
    fields:
{fields}
""",
    )
    return documents["people"], problems


# --- templates over NULL --------------------------------------------------------------------


@pytest.mark.parametrize("nulls", ["omit", "keep"])
def test_a_template_over_a_null_is_null_never_the_text_none(tmp_path, nulls) -> None:
    documents, problems = people(
        tmp_path, '      label: {template: "{{ first_name }} @ {{ company }}"}', nulls
    )
    assert documents[0] == {"_id": 1, "label": "Ann @ Acme"}
    assert documents[1] == ({"_id": 2} if nulls == "omit" else {"_id": 2, "label": None})
    [warning] = problems
    assert warning.severity == "warning" and "`company`" in warning.message


def test_a_template_that_handles_null_renders_and_lint_is_quiet(tmp_path) -> None:
    documents, problems = people(
        tmp_path,
        """\
      a: {template: "{{ first_name }}{% if company %} @ {{ company }}{% endif %}"}
      b: {template: "{{ first_name }} @ {{ company | default('-') }}"}
      c: {template: "{{ company or 'none' }}"}""",
    )
    assert documents[1] == {"_id": 2, "a": "Bob", "b": "Bob @ -", "c": "none"}
    assert problems == []


def test_a_typed_template_parses_its_text_and_rejects_what_does_not_parse(tmp_path) -> None:
    documents, _ = people(tmp_path, '      age: {template: "{{ age }}", type: int}')
    assert documents == [{"_id": 1, "age": 41}]  # Bob's `x` is no int: his row is rejected


# --- constants with a type ------------------------------------------------------------------


def test_a_constant_takes_its_type(tmp_path) -> None:
    documents, _ = people(
        tmp_path,
        """\
      seven: {value: "7", type: int}
      price: {value: "1.50", type: decimal128}
      when: {value: "2024-05-01T10:00:00+02:00", type: datetime}
      day: {value: 2024-05-01, type: datetime}
      text: {value: 7, type: string}
      plain: {value: "7"}""",
    )
    assert documents[0] == {
        "_id": 1,
        "seven": 7,
        "price": bson.Decimal128("1.50"),
        "when": dt.datetime(2024, 5, 1, 8, tzinfo=dt.UTC),
        "day": dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
        "text": "7",
        "plain": "7",
    }


@pytest.mark.parametrize(
    "field",
    ['{value: "seven", type: int}', "{value: 7, type: datetime}", '{value: "maybe", type: bool}'],
)
def test_a_constant_that_cannot_take_its_type_is_refused(tmp_path, field) -> None:
    [problem] = failure(
        tmp_path,
        PEOPLE,
        f"""
version: 1
collections:
  people:
    table: people
    fields:
      bad: {field}
""",
    )
    assert "constant" in problem.message and problem.line == 7


# --- composite keys and duplicate ids -------------------------------------------------------

PAIRS = r"""
CREATE TABLE pairs (a TEXT, b TEXT, code TEXT, PRIMARY KEY (a, b));
INSERT INTO pairs VALUES ('x|y', 'z', 'one'), ('x', 'y|z', 'two'), ('x\', '|z', 'one');
"""


def run_cli(tmp_path: Path, schema: str, mapping: str, *extra: str) -> tuple[int, Path]:
    """`mapper run` in-process into `file:` under tmp_path; its exit code and reject file."""
    url = sqlite_database(tmp_path / "source.db", schema)
    (tmp_path / "m.yaml").write_text(mapping)
    rejects = tmp_path / "rejects.jsonl"
    code = cli.main(
        [
            "run",
            str(tmp_path / "m.yaml"),
            "--source",
            url,
            "--target",
            f"file:{tmp_path / 'out'}",
            "--rejects",
            str(rejects),
            *extra,
        ]
    )
    return code, rejects


def written(tmp_path: Path, collection: str) -> list[dict]:
    text = (tmp_path / "out" / f"{collection}.jsonl").read_text()
    return [json_util.loads(line) for line in text.splitlines()]


def test_composite_keys_with_the_separator_get_distinct_oids(tmp_path) -> None:
    code, _ = run_cli(tmp_path, PAIRS, "version: 1\ncollections:\n  pairs: {table: pairs}\n")
    assert code == 0
    assert {d["_id"] for d in written(tmp_path, "pairs")} == {
        oid("pairs", k) for k in [("x|y", "z"), ("x", "y|z"), ("x\\", "|z")]
    }
    assert len(written(tmp_path, "pairs")) == 3
    assert key_text(("x|y", "z")) != key_text(("x", "y|z"))
    assert key_text(("a", "b")) == "a|b"  # keys without the separator keep their ids


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_repeated_id_is_rejected_with_both_source_keys(tmp_path, workers) -> None:
    code, rejects = run_cli(
        tmp_path,
        PAIRS,
        """
version: 1
collections:
  pairs: {table: pairs, _id: {column: code}}
""",
        "--workers",
        workers,
    )
    assert code == 1
    assert [d["_id"] for d in written(tmp_path, "pairs")] == ["two", "one"]  # in key order
    [reject] = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert reject["stage"] == "duplicate"
    assert reject["key"] == key_text(("x|y", "z"))
    assert key_text(("x\\", "|z")) in reject["reason"]


# --- references resolve the same way whatever files are loaded ------------------------------

SHOP = """
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id));
INSERT INTO users VALUES (1, 'Ann');
INSERT INTO orders VALUES (10, 1);
"""
USERS_BY_KEY = "version: 1\ncollections:\n  users: {table: users, _id: key}\n"


def orders(tmp_path: Path, reference: str, *more: str) -> list[dict]:
    """The orders documents with `reference` as their `user` field, `more` files loaded too."""
    files = [tmp_path / "orders.yaml"]
    files[0].write_text(
        f"version: 1\ncollections:\n  orders:\n    table: orders\n"
        f"    columns: []\n    fields:\n      user: {reference}\n"
    )
    for index, text in enumerate(more):
        files.append(tmp_path / f"more{index}.yaml")
        files[-1].write_text(text)
    if not (tmp_path / "shop.db").exists():
        sqlite_database(tmp_path / "shop.db", SHOP)
    with api.prepare(files, f"sqlite:///{tmp_path / 'shop.db'}") as prepared:
        return [document for name, document in api.preview(prepared, 10) if name == "orders"]


def test_a_reference_without_a_collection_is_an_oid_and_names_a_conflict(tmp_path) -> None:
    alone = orders(tmp_path, "{reference: users}")
    assert alone[0]["user"] == oid("users", [1])
    with pytest.raises(SpecError) as raised:  # it used to become the key 1 silently
        orders(tmp_path, "{reference: users}", USERS_BY_KEY)
    assert "collection: users" in str(raised.value.problems[0])


def test_a_reference_to_a_named_collection_takes_its_id_rule(tmp_path) -> None:
    assert orders(tmp_path, "{reference: users, collection: users}", USERS_BY_KEY)[0] == {
        "_id": oid("orders", [10]),
        "user": 1,
    }
    with pytest.raises(SpecError) as raised:  # never a guess when its file is missing
        orders(tmp_path, "{reference: users, collection: users}")
    assert "no collection `users`" in str(raised.value)


# --- max_depth on a many-to-one self-embed --------------------------------------------------

STAFF = """
CREATE TABLE employees (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
    reports_to INTEGER REFERENCES employees(id));
INSERT INTO employees VALUES (1, 'ceo', NULL), (2, 'vp', 1), (3, 'lead', 2), (4, 'dev', 3);
"""


def staff(tmp_path: Path, extra: str = "") -> tuple[list[dict], list]:
    documents, problems = build(
        tmp_path,
        STAFF,
        f"""
version: 1
collections:
  employees:
    table: employees
    _id: key
    columns: [name]
    fields:
      manager: {{embed: employees, on: {{reports_to: id}}, _id: false, columns: [name],
                max_depth: 2{extra}}}
""",
    )
    return documents.get("employees", []), problems


def test_a_to_one_self_embed_stops_at_max_depth_without_an_array(tmp_path) -> None:
    documents, _ = staff(tmp_path)
    assert documents == [  # on_depth truncate, the default for a sub-document
        {"_id": 1, "name": "ceo"},
        {"_id": 2, "name": "vp", "manager": {"name": "ceo"}},
        {"_id": 3, "name": "lead", "manager": {"name": "vp", "manager": {"name": "ceo"}}},
        {"_id": 4, "name": "dev", "manager": {"name": "lead", "manager": {"name": "vp"}}},
    ]


def test_on_depth_reject_rejects_the_rows_that_go_deeper(tmp_path) -> None:
    code, rejects = run_cli(
        tmp_path,
        STAFF,
        """
version: 1
collections:
  employees:
    table: employees
    fields:
      manager: {embed: employees, on: {reports_to: id}, max_depth: 2, on_depth: reject}
""",
    )
    assert code == 1
    [reject] = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert (reject["key"], reject["stage"]) == ("4", "depth")
    assert len(written(tmp_path, "employees")) == 3


# --- aggregates over several hops, per join path or per distinct row ------------------------

RENTALS = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE films (id INTEGER PRIMARY KEY, title TEXT NOT NULL, length INTEGER NOT NULL);
CREATE TABLE inventory (id INTEGER PRIMARY KEY, film_id INTEGER NOT NULL REFERENCES films(id));
CREATE TABLE rentals (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL
    REFERENCES customers(id), inventory_id INTEGER NOT NULL REFERENCES inventory(id));
INSERT INTO customers VALUES (1, 'Ann');
INSERT INTO films VALUES (7, 'Alien', 117), (8, 'Heat', 170);
INSERT INTO inventory VALUES (70, 7), (71, 7), (80, 8);
INSERT INTO rentals VALUES (1, 1, 70), (2, 1, 71), (3, 1, 80), (4, 1, 70);
"""


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_distinct_aggregates_count_each_row_once(tmp_path, request, dialect) -> None:
    via = "via: [rentals, inventory]"
    url = None
    if dialect == "postgresql":
        url = request.getfixturevalue("pg_url")
        with sa.create_engine(url).begin() as connection:
            for statement in filter(str.strip, RENTALS.split(";")):
                connection.exec_driver_sql(statement)
    documents, _ = build(
        tmp_path,
        RENTALS,
        f"""
version: 1
collections:
  customers:
    table: customers
    _id: key
    columns: [name]
    fields:
      rented: {{count: films, {via}}}
      films: {{count: films, {via}, distinct: true}}
      minutes: {{sum: films.length, {via}, distinct: true}}
      long_films: {{count: films, {via}, distinct: true, filter: {{length: {{gt: 150}}}}}}
      average: {{avg: films.length, {via}, distinct: true}}
""",
        url,
    )
    assert documents["customers"] == [
        {
            "_id": 1,
            "name": "Ann",
            "rented": 4,
            "films": 2,
            "minutes": 287,
            "long_films": 1,
            "average": 143.5,
        }
    ]


def test_lint_says_how_many_rows_go_deeper_than_max_depth(tmp_path) -> None:
    url = sqlite_database(tmp_path / "staff.db", STAFF)
    (tmp_path / "m.yaml").write_text("""
version: 1
collections:
  employees:
    table: employees
    fields:
      manager: {embed: employees, on: {reports_to: id}, max_depth: 2}
""")
    [problem] = lint([tmp_path / "m.yaml"], url)
    assert problem.severity == "warning" and problem.line == 7
    assert "1 rows go deeper" in problem.message and "on_depth truncate" in problem.message
    assert "on_depth: reject rejects the documents" in problem.hint


def test_decimal_as_applies_to_typed_constants_too(tmp_path) -> None:
    code, _ = run_cli(
        tmp_path,
        PEOPLE,
        """
version: 1
collections:
  people:
    table: people
    columns: []
    fields:
      price: {value: "1.50", type: decimal128}
""",
        "--decimal-as",
        "string",
    )
    assert code == 0
    assert {d["price"] for d in written(tmp_path, "people")} == {"1.50"}


def test_a_field_out_of_range_policy_holds_on_min_and_max(pg_url, tmp_path) -> None:
    with sa.create_engine(pg_url).begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE plans (id int PRIMARY KEY);"
            "CREATE TABLE steps (id int PRIMARY KEY, plan_id int REFERENCES plans(id),"
            " due timestamptz);"
            "INSERT INTO plans VALUES (1); INSERT INTO steps VALUES (1, 1, 'infinity')"
        )
    documents, _ = build(
        tmp_path,
        "",
        """
version: 1
collections:
  plans:
    table: plans
    _id: key
    fields:
      last: {max: steps.due, out_of_range: clamp}
""",
        pg_url,
    )
    assert documents["plans"][0]["last"].year == 9999
