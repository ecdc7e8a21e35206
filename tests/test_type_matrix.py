"""The type matrix: every source type that PostgreSQL, SQLite and MySQL report gets its documented
BSON value (docs/mapping-language.md, "Types"), a reject naming table, column and key, or a
lint error naming the column. One case per row: a column, a value, what the run writes."""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from bson import Decimal128, Int64, ObjectId, json_util
from bson.binary import UuidRepresentation
from conftest import mysql_database, postgres_database, run_to_files, sqlite_database

from mapper import api
from mapper.api import lint

ROOT = Path(__file__).resolve().parent.parent
UTC = dt.UTC


@dataclass(frozen=True)
class Rejected:
    """The row is rejected, its reason naming the column and saying `words`."""

    words: str


@dataclass(frozen=True)
class Case:
    column: str
    sql_type: str  # as the source declares it
    literal: str  # SQL text of the value
    expected: Any  # the BSON value written (as decoded), or Rejected
    documented: str = ""  # the name the Types table knows it by (default: sql_type)


def deep_json(levels: int) -> str:
    return "'" + '{"a": ' * levels + "1" + "}" * levels + "'"


POSTGRES = [
    Case("small", "smallint", "7", 7, "smallint"),
    Case("int_", "integer", "-2147483648", -2147483648, "integer"),
    Case("big", "bigint", "9007199254740993", Int64(9007199254740993)),
    Case("exact", "numeric", "3.50", Decimal128("3.50")),
    Case(
        "digits34",
        "numeric",
        "1234567890123456789012345678901234",
        Decimal128("1234567890123456789012345678901234"),
        "numeric",
    ),
    Case(
        "digits40",
        "numeric",
        "1234567890123456789012345678901234567890",
        Rejected("34 significant digits"),
        "numeric",
    ),
    Case("nan", "numeric", "'NaN'", Decimal128("NaN"), "NaN"),
    Case("inf", "numeric", "'Infinity'", Decimal128("Infinity"), "Infinity"),
    Case("ninf", "numeric", "'-Infinity'", Decimal128("-Infinity"), "Infinity"),
    Case("scaled", "numeric(10, 2)", "12.3", Decimal128("12.30"), "numeric"),
    Case("money_", "money", "12.34", Decimal128("12.34"), "money"),
    Case("real_", "real", "0.5", 0.5, "real"),
    Case("double", "double precision", "0.1", 0.1, "double precision"),
    Case("dnan", "double precision", "'NaN'", math.nan, "NaN"),
    Case("dinf", "double precision", "'-Infinity'", -math.inf, "Infinity"),
    Case("flag", "boolean", "true", True),
    Case("label", "text", "'é😀'", "é😀"),
    Case("short", "varchar(5)", "'abc'", "abc", "varchar"),
    Case("padded", "char(4)", "'ab'", "ab  ", "char(n)"),
    Case("name_", "name", "'ab'", "ab"),
    Case("feeling", "mood", "'happy'", "happy", "enum"),
    Case(
        "ident",
        "uuid",
        "'0F8FAD5B-D9CB-469F-A165-70867728950E'",
        uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e"),
    ),
    Case(
        "at",
        "timestamptz",
        "'2024-03-31 02:30:00.123456+02'",
        dt.datetime(2024, 3, 31, 0, 30, 0, 123000, tzinfo=UTC),
    ),
    Case(
        "naive", "timestamp", "'2024-10-27 01:30:00'", dt.datetime(2024, 10, 27, 1, 30, tzinfo=UTC)
    ),
    Case("day", "date", "'2024-02-29'", dt.datetime(2024, 2, 29, tzinfo=UTC)),
    Case("at_inf", "timestamptz", "'infinity'", Rejected("out of range"), "infinity"),
    Case("naive_inf", "timestamp", "'-infinity'", Rejected("out of range"), "infinity"),
    Case("day_bc", "date", "'0044-03-15 BC'", Rejected("out of range"), "0044-03-15 BC"),
    Case("day_far", "date", "'10000-01-01'", Rejected("out of range"), "10000-01-01"),
    Case("clock", "time", "'13:45:01.5'", "13:45:01.500000", "time"),
    Case("clock24", "time", "'24:00:00'", Rejected("out of range"), "24:00:00"),
    Case("zoned", "timetz", "'12:00:00+05'", "12:00:00+05:00", "time with time zone"),
    Case(
        "span",
        "interval",
        "'1 year 2 mons 3 days 04:00:00.000001'",
        Int64(((365 + 60 + 3) * 86400 + 4 * 3600) * 10**6 + 1),
        "interval",
    ),
    Case("span_far", "interval", "'100000000 years'", Rejected("interval"), "interval"),
    Case(
        "doc",
        "jsonb",
        """'{"a": {"b": [1, null, "x"]}, "big": 123456789012345678901234}'""",
        {"a": {"b": [1, None, "x"]}, "big": Decimal128("123456789012345678901234")},
        "jsonb",
    ),
    Case("plain", "json", """'{"z": 1, "a": [true, 1.5]}'""", {"z": 1, "a": [True, 1.5]}, "json"),
    Case("dotted", "jsonb", """'{"a.b": 1}'""", Rejected("`.`"), "jsonb"),
    Case("dollar", "jsonb", """'{"x": {"$set": 1}}'""", Rejected("`$`"), "jsonb"),
    Case("deep", "jsonb", deep_json(150), Rejected("deeper than 100 levels"), "jsonb"),
    Case("tags", "text[]", "ARRAY['x', NULL, 'z']", ["x", None, "z"], "arrays"),
    Case("grid", "integer[][]", "'{{1,2},{3,4}}'", [[1, 2], [3, 4]], "multi-dimensional"),
    Case("holes", "integer[]", "'{1,NULL,3}'", [1, None, 3], "arrays"),
    Case("moods", "mood[]", "'{sad,happy}'", ["sad", "happy"], "arrays of enums"),
    Case(
        "idents",
        "uuid[]",
        "ARRAY['0f8fad5b-d9cb-469f-a165-70867728950e'::uuid]",
        ["0f8fad5b-d9cb-469f-a165-70867728950e"],
        "uuid[]",
    ),
    Case("days", "date[]", "'{2024-02-29,infinity}'", Rejected("out of range"), "arrays"),
    Case("bits", "bit(3)[]", "ARRAY[B'101']", ["101"], "bit"),
    Case("positives", "posint[]", "'{1,2}'", [1, 2], "domains"),
    Case("ranges", "int4range[]", "ARRAY['[1,5)'::int4range]", ["[1,5)"], "ranges"),
    Case("range_", "int4range", "'[1,4]'", "[1,5)", "int4range"),
    Case("empty", "numrange", "'empty'", "empty", "ranges"),
    Case(
        "period",
        "tstzrange",
        "'[2024-01-01 00:00+00,infinity)'",
        '["2024-01-01 00:00:00+00",infinity)',
        "tstzrange",
    ),
    Case("multi", "int4multirange", "'{[1,2),[5,6)}'", "{[1,2),[5,6)}", "multiranges"),
    Case("raw", "bytea", "'\\x00ff'", b"\x00\xff"),
    Case("addr", "inet", "'192.168.0.1/24'", "192.168.0.1/24"),
    Case("net", "cidr", "'10.0.0.0/8'", "10.0.0.0/8"),
    Case("mac", "macaddr", "'08:00:2b:01:02:03'", "08:00:2b:01:02:03"),
    Case("mac8", "macaddr8", "'08:00:2b:01:02:03:04:05'", "08:00:2b:01:02:03:04:05"),
    Case("bit_", "bit(3)", "B'101'", "101", "bit"),
    Case("varbit_", "bit varying", "B'10'", "10", "bit varying"),
    Case("markup", "xml", "'<a>x</a>'", "<a>x</a>"),
    Case("words", "tsvector", "'a b'", "'a' 'b'"),
    Case("query", "tsquery", "'a & b'", "'a' & 'b'"),
    Case("spot", "point", "'(1,2)'", "(1,2)"),
    Case("ring", "circle", "'<(0,0),1>'", "<(0,0),1>"),
    Case("lsn", "pg_lsn", "'0/16B6C50'", "0/16B6C50"),
    Case("pair", "pair", "ROW(1, 'a')", "(1,a)", "composite types"),
    Case("object_id", "oid", "42", 42, "oid"),
    Case("positive", "posint", "5", 5, "domains"),
    Case("titled", "title", "'Mr'", "Mr", "domains"),
]
POSTGRES_TYPES = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (n integer, s text);
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE DOMAIN title AS text;
"""
# (root table, a field of its documents, words of the lint error, the column it names)
LINT_CASES = [
    ("owners", "{sum: holdings.label}", "cannot `sum`", "holdings.label"),
    ("owners", "{avg: holdings.label}", "cannot `avg`", "holdings.label"),
    ("owners", "{avg: holdings.span}", "cannot `avg`", "holdings.span"),
    ("owners", "{min: holdings.ident}", "cannot `min`", "holdings.ident"),
    ("owners", "{max: holdings.flag}", "cannot `max`", "holdings.flag"),
    ("owners", "{min: holdings.doc}", "cannot `min`", "holdings.doc"),
    ("owners", "{max: holdings.period}", "cannot `max`", "holdings.period"),
    ("holdings", "{column: prices}", "no conversion for", "holdings.prices"),
]
LINT_SCHEMA = """
CREATE TABLE owners (id integer PRIMARY KEY);
CREATE TABLE holdings (id integer PRIMARY KEY, owner_id integer REFERENCES owners, label text,
    span interval, ident uuid, flag boolean, doc jsonb, period tstzrange, prices money[],
    amount money);
INSERT INTO owners VALUES (1);
INSERT INTO holdings VALUES (1, 1, 'x', '1 day', gen_random_uuid(), true, '{}', NULL,
    '{1.50}', 1.25), (2, 1, 'y', '2 days', gen_random_uuid(), false, '{}', NULL, NULL, 2.5);
"""

SQLITE = [
    Case("i", "INTEGER", "7", 7),
    Case("wide", "BIGINT", "9007199254740993", Int64(9007199254740993), "BIGINT"),
    Case("r", "REAL", "0.5", 0.5),
    Case("n", "NUMERIC(10, 2)", "'3.50'", Decimal128("3.50"), "NUMERIC"),
    Case("bad_n", "NUMERIC", "'lots'", Rejected("decimal"), "NUMERIC"),
    Case("b", "BOOLEAN", "1", True),
    Case("t", "TEXT", "'é😀'", "é😀"),
    Case("v", "VARCHAR(5)", "'abc'", "abc", "VARCHAR"),
    Case("c", "CHAR(4)", "'ab'", "ab", "CHAR"),
    Case("blob", "BLOB", "x'00ff'", b"\x00\xff"),
    Case("d", "DATE", "'2024-02-29'", dt.datetime(2024, 2, 29, tzinfo=UTC), "DATE"),
    Case("d_far", "DATE", "'10000-01-01'", Rejected("out of range"), "DATE"),
    Case("d_bad", "DATE", "'someday'", Rejected("not a valid date"), "DATE"),
    Case(
        "ts",
        "DATETIME",
        "'2024-03-31 02:30:00.123456'",
        dt.datetime(2024, 3, 31, 2, 30, 0, 123000, tzinfo=UTC),
        "DATETIME",
    ),
    Case("ts_inf", "TIMESTAMP", "'infinity'", Rejected("out of range"), "TIMESTAMP"),
    Case("tm", "TIME", "'13:45:01.500000'", "13:45:01.500000", "TIME"),
    Case("j", "JSON", """'{"a": [1, null]}'""", {"a": [1, None]}, "JSON"),
    Case("j_bad", "JSON", """'{"a": '""", Rejected("not a valid json"), "JSON"),
    Case("j_dot", "JSON", """'{"a.b": 1}'""", Rejected("`.`"), "JSON"),
    Case("other_int", "WIDGET", "3", 3, "any other declared type"),
    Case("other_text", "WIDGET", "'w'", "w", "any other declared type"),
]


MYSQL = [
    Case("tiny", "TINYINT", "-128", -128, "TINYINT"),
    Case("flag", "TINYINT(1)", "1", True, "TINYINT(1)"),
    Case("boolean", "BOOLEAN", "false", False, "BOOLEAN"),
    Case("bit_on", "BIT(1)", "b'1'", True, "BIT(1)"),
    Case("bit_off", "BIT(1)", "b'0'", False, "BIT(1)"),
    Case("bits", "BIT(12)", "b'100000000101'", Int64(2053), "BIT(n)"),
    Case("small", "SMALLINT UNSIGNED", "65535", 65535, "SMALLINT"),
    Case("medium", "MEDIUMINT", "-8388608", -8388608, "MEDIUMINT"),
    Case("umedium", "MEDIUMINT UNSIGNED", "16777215", 16777215, "MEDIUMINT"),
    Case("uint_small", "INT UNSIGNED", "5", Int64(5), "INT UNSIGNED"),
    Case("int_", "INT", "-2147483648", -2147483648, "INT"),
    Case("uint", "INT UNSIGNED", "4294967295", Int64(4294967295), "INT UNSIGNED"),
    Case("big", "BIGINT", "9007199254740993", Int64(9007199254740993), "BIGINT"),
    Case("ubig", "BIGINT UNSIGNED", "9223372036854775807", Int64(2**63 - 1), "BIGINT UNSIGNED"),
    Case(
        "ubig_far",
        "BIGINT UNSIGNED",
        "18446744073709551615",
        Rejected("beyond 64 bits"),
        "BIGINT UNSIGNED",
    ),
    Case("exact", "DECIMAL(10, 2)", "12.3", Decimal128("12.30"), "DECIMAL"),
    Case(
        "digits40",
        "DECIMAL(65, 0)",
        "1234567890123456789012345678901234567890",
        Rejected("34 significant digits"),
        "DECIMAL",
    ),
    Case("single", "FLOAT", "0.5", 0.5, "FLOAT"),
    Case("dbl", "DOUBLE", "0.1", 0.1, "DOUBLE"),
    Case("short", "VARCHAR(5)", "'abc'", "abc", "VARCHAR"),
    Case("padded", "CHAR(4)", "'ab'", "ab", "CHAR"),
    Case("label", "TEXT", "'é😀'", "é😀", "TEXT"),
    Case("long_", "LONGTEXT", "'x'", "x", "LONGTEXT"),
    Case("feeling", "ENUM('sad', 'happy')", "'happy'", "happy", "ENUM"),
    Case("flags", "SET('a', 'b')", "'a,b'", "a,b", "SET"),
    Case("day", "DATE", "'2024-02-29'", dt.datetime(2024, 2, 29, tzinfo=UTC), "DATE"),
    Case("day_zero", "DATE", "'0000-00-00'", Rejected("not a valid date"), "0000-00-00"),
    Case("at_zero", "DATETIME", "'2024-00-10 00:00:00'", Rejected("not a valid"), "DATETIME"),
    Case(
        "at",
        "DATETIME(6)",
        "'2024-03-31 02:30:00.123456'",
        dt.datetime(2024, 3, 31, 2, 30, 0, 123000, tzinfo=UTC),
        "DATETIME",
    ),
    Case(
        "stamp",
        "TIMESTAMP(6) NULL",
        "'2024-03-31 08:00:00.5'",  # in the session's +05:30
        dt.datetime(2024, 3, 31, 2, 30, 0, 500000, tzinfo=UTC),
        "TIMESTAMP",
    ),
    Case("clock", "TIME(6)", "'13:45:01.5'", "13:45:01.500000", "TIME"),
    Case("clock25", "TIME", "'25:00:00'", Rejected("not a valid time"), "TIME"),
    Case("year_", "YEAR", "2024", 2024, "YEAR"),
    Case("doc", "JSON", """'{"a": {"b": [1, null, "x"]}}'""", {"a": {"b": [1, None, "x"]}}),
    Case("dotted", "JSON", """'{"a.b": 1}'""", Rejected("`.`"), "JSON"),
    Case("raw", "BLOB", "x'00ff'", b"\x00\xff", "BLOB"),
    Case("var", "VARBINARY(4)", "x'00ff'", b"\x00\xff", "VARBINARY"),
    Case("fixed", "BINARY(2)", "x'00ff'", b"\x00\xff", "BINARY"),
]


def table_script(cases: list[Case], table: str = "matrix") -> str:
    columns = ", ".join(f"{case.column} {case.sql_type}" for case in cases)
    inserts = "".join(
        f"INSERT INTO {table} (id, {case.column}) VALUES ({index}, {case.literal});\n"
        for index, case in enumerate(cases, 1)
    )
    return f"CREATE TABLE {table} (id integer PRIMARY KEY, {columns});\n{inserts}"


def migrate(url: str, folder: Path, name: str) -> tuple[dict, dict, bytes]:
    """Documents by `_id`, reject reasons by key, and the output file's bytes."""
    (folder / "matrix.yaml").write_text(
        "version: 1\ncollections:\n  matrix:\n    table: matrix\n    _id: key\n"
    )
    problems = run_to_files(
        url, [folder / "matrix.yaml"], folder / name, folder / f"{name}.rejects"
    )
    assert not [pr for pr in problems if pr.severity == "error"], problems
    output = (folder / name / "matrix.jsonl").read_bytes()
    options = json_util.JSONOptions(
        tz_aware=True, tzinfo=UTC, uuid_representation=UuidRepresentation.STANDARD
    )
    documents = {
        d["_id"]: d
        for d in (
            json_util.loads(line, json_options=options) for line in output.decode().splitlines()
        )
    }
    rejects_path = folder / f"{name}.rejects"
    rejects = {
        int(r["key"]): r
        for r in (
            json.loads(line)
            for line in (rejects_path.read_text().splitlines() if rejects_path.exists() else [])
        )
    }
    return documents, rejects, output


def same(actual: Any, expected: Any) -> bool:
    """Equal and of the same BSON type, NaN equal to NaN."""
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and list(actual) == list(expected)
            and all(same(actual[k], v) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return type(actual) is type(expected) and actual == expected


def check(cases: list[Case], documents: dict, rejects: dict) -> None:
    wrong = []
    for index, case in enumerate(cases, 1):
        if isinstance(case.expected, Rejected):
            reason = rejects.get(index, {}).get("reason", "")
            if (
                index in documents
                or f"`matrix.{case.column}`" not in reason
                or case.expected.words not in reason
            ):
                wrong.append((case, documents.get(index), reason))
        elif index not in documents or not same(documents[index].get(case.column), case.expected):
            wrong.append((case, documents.get(index), rejects.get(index)))
    assert wrong == []


@pytest.fixture(scope="module")
def postgres_matrix(postgres_server: str, tmp_path_factory) -> tuple[dict, dict, list[bytes]]:
    """The matrix migrated twice, under two database time zones."""
    folder = tmp_path_factory.mktemp("matrix")
    with postgres_database(postgres_server, POSTGRES_TYPES + table_script(POSTGRES)) as url:
        outputs = []
        for zone in ("America/New_York", "Asia/Kolkata"):
            admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                database = connection.execute(sa.text("SELECT current_database()")).scalar()
                connection.execute(
                    sa.text(f"ALTER DATABASE \"{database}\" SET timezone = '{zone}'")
                )
            admin.dispose()
            documents, rejects, output = migrate(url, folder, zone.replace("/", "-"))
            outputs.append(output)
    return documents, rejects, outputs


def test_every_postgres_type_has_its_documented_value(postgres_matrix) -> None:
    documents, rejects, _ = postgres_matrix
    check(POSTGRES, documents, rejects)
    assert all(r["stage"] == "convert" for r in rejects.values())


def test_timestamptz_is_one_instant_whatever_the_session_time_zone(postgres_matrix) -> None:
    first, second = postgres_matrix[2]
    assert first == second


@pytest.mark.integration
def test_every_mysql_type_has_its_documented_value(mysql_server: str, tmp_path) -> None:
    # no strict mode: legacy data holds zero dates
    script = "SET time_zone = '+05:30';\nSET sql_mode = '';\n" + table_script(MYSQL)
    with mysql_database(mysql_server, script) as url:
        documents, rejects, _ = migrate(url, tmp_path, "out")
    check(MYSQL, documents, rejects)


def test_every_sqlite_type_has_its_documented_value(tmp_path) -> None:
    url = sqlite_database(tmp_path / "matrix.db", table_script(SQLITE))
    documents, rejects, _ = migrate(url, tmp_path, "out")
    check(SQLITE, documents, rejects)


@pytest.mark.parametrize(("table", "field", "words", "column"), LINT_CASES)
def test_what_the_run_cannot_do_is_a_lint_error_naming_the_column(
    lint_source: str, tmp_path, table: str, field: str, words: str, column: str
) -> None:
    path = tmp_path / "lint.yaml"
    path.write_text(
        f"version: 1\ncollections:\n  {table}:\n    table: {table}\n"
        f"    columns: [id]\n    fields:\n      v: {field}\n"
    )
    errors = [pr for pr in lint([path], lint_source) if pr.severity == "error"]
    assert len(errors) == 1 and words in errors[0].message and f"`{column}`" in errors[0].message, (
        errors
    )


def test_aggregates_over_numbers_and_money_run(lint_source: str, tmp_path) -> None:
    path = tmp_path / "owners.yaml"
    path.write_text(
        "version: 1\ncollections:\n  owners:\n    table: owners\n    fields:\n"
        "      total: {sum: holdings.amount}\n      spent: {sum: holdings.span}\n"
        "      first: {min: holdings.label}\n"
    )
    assert [pr for pr in lint([path], lint_source) if pr.severity == "error"] == []
    run_to_files(lint_source, [path], tmp_path / "out", tmp_path / "rejects")
    documents = [
        json_util.loads(line)
        for line in (tmp_path / "out" / "owners.jsonl").read_text().splitlines()
    ]
    assert documents == [
        {
            "_id": documents[0]["_id"],
            "id": 1,
            "total": Decimal128("3.75"),
            "spent": Int64(3 * 86400 * 10**6),
            "first": "x",
        }
    ]


@pytest.fixture(scope="module")
def lint_source(postgres_server: str):
    with postgres_database(postgres_server, LINT_SCHEMA) as url:
        yield url


def test_every_case_is_documented() -> None:
    text = (ROOT / "docs" / "mapping-language.md").read_text()
    types = text[text.index("## Types") : text.index("## Credentials")]
    missing = sorted(
        {case.documented or case.sql_type for case in POSTGRES + SQLITE + MYSQL}
        - {
            name
            for name in (c.documented or c.sql_type for c in POSTGRES + SQLITE + MYSQL)
            if name in types
        }
    )
    assert missing == []


# a template's `type:` parses its rendered text: (type, text, the BSON value written)
TEMPLATE_TYPES = [
    ("string", "7", "7"),
    ("int", "7", 7),
    ("long", "7", Int64(7)),
    ("double", "1.5", 1.5),
    ("decimal128", "1.50", Decimal128("1.50")),
    ("bool", "true", True),
    ("date", "2024-02-29", dt.datetime(2024, 2, 29, tzinfo=UTC)),
    ("datetime", "2024-02-29T12:00:00+02:00", dt.datetime(2024, 2, 29, 10, tzinfo=UTC)),
    (
        "uuid",
        "0F8FAD5B-D9CB-469F-A165-70867728950E",
        uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e"),
    ),
    ("objectid", "65f0a1b2c3d4e5f60718293a", ObjectId("65f0a1b2c3d4e5f60718293a")),
    ("binary", "ab", b"ab"),
]


def test_every_template_type_parses_its_text(tmp_path) -> None:
    names = [f"t_{name}" for name, _, _ in TEMPLATE_TYPES]
    good = ", ".join(f"'{text}'" for _, text, _ in TEMPLATE_TYPES)
    bad = ", ".join(
        "'seven'" if name == "int" else f"'{text}'" for name, text, _ in TEMPLATE_TYPES
    )  # row 2: an int that does not parse
    url = sqlite_database(
        tmp_path / "t.db",
        f"CREATE TABLE texts (id INTEGER PRIMARY KEY, "
        f"{', '.join(f'{n} TEXT NOT NULL' for n in names)});"
        f"INSERT INTO texts VALUES (1, {good}), (2, {bad});",
    )
    fields = "".join(
        f"      {n}: {{template: '{{{{ {n} }}}}', type: {name}}}\n"
        for n, (name, _, _) in zip(names, TEMPLATE_TYPES, strict=True)
    )
    path = tmp_path / "texts.yaml"
    path.write_text(
        "version: 1\ncollections:\n  texts:\n    table: texts\n    _id: key\n"
        f"    columns: [id]\n    fields:\n{fields}"
    )
    problems = run_to_files(url, [path], tmp_path / "out", tmp_path / "rejects")
    assert problems == []
    options = json_util.JSONOptions(
        tz_aware=True, tzinfo=UTC, uuid_representation=UuidRepresentation.STANDARD
    )
    written = [
        json_util.loads(line, json_options=options)
        for line in (tmp_path / "out" / "texts.jsonl").read_text().splitlines()
    ]
    assert len(written) == 1
    wrong = [
        (name, written[0][f"t_{name}"])
        for name, _, value in TEMPLATE_TYPES
        if not same(written[0][f"t_{name}"], value)
    ]
    assert wrong == []
    rejects = [json.loads(line) for line in (tmp_path / "rejects").read_text().splitlines()]
    assert [(r["key"], r["stage"]) for r in rejects] == [("2", "convert")]
    assert "`t_int`" in rejects[0]["reason"] and "seven" not in rejects[0]["reason"]


AS_TEXT = """
CREATE TABLE notes (id integer PRIMARY KEY, body jsonb, tags text[], due date[]);
INSERT INTO notes VALUES (1, '{"é": [1.5, null], "ok": true}', ARRAY['a', 'b'], NULL);
INSERT INTO notes VALUES (2, '"plain"', NULL, ARRAY[DATE '2024-01-02']);
"""
AS_TEXT_MAPPING = """
version: 1
collections:
  notes:
    table: notes
    _id: key
    columns: []
    fields:
      body: {column: body, type: string}
      tags: {column: tags, type: string}
      due: {column: due, type: string}
"""


def _as_text(
    postgres_server: str, tmp_path: Path, schema: str, mapping: str, oracle: str
) -> tuple[list, api.RunSummary, list[dict]]:
    """The rows of `oracle` (PostgreSQL's own text of the columns), the summary of a run of
    `mapping` on `schema` into files (validated: it must agree), and the documents by `_id`."""
    path, out = tmp_path / "as-text.yaml", tmp_path / "out"
    path.write_text(mapping)
    with (
        postgres_database(postgres_server, schema) as url,
        api.prepare([path], url) as prepared,
    ):
        with prepared.engine.connect() as connection:
            texts = connection.exec_driver_sql(oracle).all()
        summary = api.migrate(prepared, f"file:{out}", api.MigrateOptions(rejects=tmp_path / "r"))
        report = api.validate(prepared, f"file:{out}", api.ValidateOptions(sample=None))
        assert report.ok, api.render(report, "text")
    (written,) = out.glob("*.jsonl")
    documents = [json_util.loads(line) for line in written.read_text().splitlines()]
    return texts, summary, sorted(documents, key=lambda d: d["_id"])


def test_json_and_arrays_as_text_are_their_json(postgres_server: str, tmp_path: Path) -> None:
    """`type: string` on a jsonb or array column writes its JSON text (PostgreSQL's own for
    jsonb), where it wrote Python's repr (`{'ok': True}`), and validate agrees; an array of
    dates has no JSON text: its row is rejected, naming the field."""
    texts, summary, documents = _as_text(
        postgres_server,
        tmp_path,
        AS_TEXT,
        AS_TEXT_MAPPING,
        "SELECT body::text FROM notes WHERE id = 1",
    )
    ((body,),) = texts
    assert summary.rejected == 1
    assert documents == [{"_id": 1, "body": body, "tags": '["a", "b"]'}]
    assert body == '{"ok": true, "é": [1.5, null]}'
    reject = json.loads((tmp_path / "r").read_text())
    assert (
        int(reject["key"]) == 2 and "`notes.due`" in reject["reason"] and "JSON" in reject["reason"]
    )


SCALARS_AS_TEXT = """
CREATE TABLE readings (id integer PRIMARY KEY, ok boolean, amount numeric, ratio numeric(12, 7));
INSERT INTO readings VALUES
  (1, true, 0.0000001, 0.0000100), (2, false, 100000000000000000000, 1), (3, NULL, 'NaN', -0.5);
"""
SCALARS_AS_TEXT_MAPPING = """
version: 1
collections:
  readings:
    table: readings
    _id: key
    columns: []
    fields:
      ok: {column: ok, type: string}
      amount: {column: amount, type: string}
      ratio: {column: ratio, type: string}
"""


def test_booleans_and_decimals_as_text_are_postgresqls(
    postgres_server: str, tmp_path: Path
) -> None:
    """`type: string` on a boolean or numeric column writes PostgreSQL's own text of it
    (`::text`, the oracle), where it wrote Python's (`True`, `1E-7`, `1E+20`), and validate
    agrees."""
    texts, summary, documents = _as_text(
        postgres_server,
        tmp_path,
        SCALARS_AS_TEXT,
        SCALARS_AS_TEXT_MAPPING,
        "SELECT id, ok::text, amount::text, ratio::text FROM readings ORDER BY id",
    )
    assert summary.rejected == 0
    fields = ("ok", "amount", "ratio")
    expected = [
        {"_id": id_, **{k: v for k, v in zip(fields, row, strict=True) if v is not None}}
        for id_, *row in texts
    ]
    assert documents == expected
    assert expected[0] == {"_id": 1, "ok": "true", "amount": "0.0000001", "ratio": "0.0000100"}
