"""PostgreSQL's keys and indexes read in one statement (`catalog._pg_keys`) are what
SQLAlchemy's inspector reads (`catalog._inspected_keys`, the oracle), on a schema made of the
cases that differ: keys in another order than the columns, another schema, INCLUDE columns,
expression and partial indexes, partitions, a materialized view, names that need quoting.
One case differs on purpose: the inspector parses a foreign key's text and splits a column
name holding `, ` in two (`"Id, One"` as `I` and `One"`); the catalog's columns are the
names themselves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import mapper
from mapper import catalog
from mapper.pipeline import create_engine
from tests.conftest import postgres_database, sqlite_database

SCHEMA = """
CREATE SCHEMA other;
CREATE TABLE other.accounts (id int PRIMARY KEY, code text UNIQUE);
CREATE TABLE other.ledgers (
    id int PRIMARY KEY,
    account_id int REFERENCES other.accounts (id),
    order_id int
);
CREATE TABLE parts (a int, b int, c text, PRIMARY KEY (b, a), UNIQUE (c) INCLUDE (a));
CREATE TABLE "Odd, Table" (
    "Id, One" int PRIMARY KEY,
    "Mixed Case" int,
    account_id int REFERENCES other.accounts (id),
    parent int REFERENCES "Odd, Table" ("Id, One")
);
CREATE TABLE uses (
    x int,
    y int,
    z text,
    FOREIGN KEY (y, x) REFERENCES parts (a, b),
    CONSTRAINT a_unique UNIQUE (z, y)
);
ALTER TABLE other.ledgers ADD FOREIGN KEY (order_id) REFERENCES "Odd, Table" ("Id, One");
CREATE UNIQUE INDEX uses_lower ON uses (lower(z));
CREATE INDEX uses_partial ON uses (x) WHERE y > 0;
CREATE INDEX uses_covering ON uses (y DESC) INCLUDE (z);
CREATE UNIQUE INDEX uses_xy ON uses (x, y);
CREATE TABLE events (id int, at date, kind text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE INDEX events_kind ON events (kind);
CREATE TABLE sightings (
    id int PRIMARY KEY,
    event_id int,
    event_at date,
    FOREIGN KEY (event_id, event_at) REFERENCES events (id, at)
);
CREATE VIEW part_names AS SELECT a, c FROM parts;
CREATE MATERIALIZED VIEW part_counts AS SELECT a, count(*) AS n FROM parts GROUP BY a;
CREATE UNIQUE INDEX part_counts_a ON part_counts (a);
CREATE TABLE keyless (v text);
"""


FOREIGN_KEY = ("constrained_columns", "referred_schema", "referred_table", "referred_columns")


def _read(keys: catalog.Keys) -> tuple[dict[Any, Any], ...]:
    """What `catalog._table` takes of each kind, tables without any left out."""
    primary, foreign, unique, indexes = keys
    return (
        {t: v["constrained_columns"] for t, v in primary.items() if v.get("constrained_columns")},
        {t: [tuple(f[k] for k in FOREIGN_KEY) for f in v] for t, v in foreign.items() if v},
        {t: [u["column_names"] for u in v] for t, v in unique.items() if v},
        {
            t: [
                (i["column_names"], bool(i["unique"]), "postgresql_where" in i["dialect_options"])
                for i in v
            ]
            for t, v in indexes.items()
            if v
        },
    )


@pytest.mark.parametrize("schema", [None, "other"])
def test_keys_read_in_one_statement_are_the_inspectors(
    postgres_server: str, schema: str | None
) -> None:
    with postgres_database(postgres_server, SCHEMA) as url:
        engine = create_engine(url)
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            listed, _ = catalog._relations(connection, inspector, schema)
            names = [name for _, name in listed]
            statements: list[str] = []
            sa.event.listen(connection, "before_cursor_execute", lambda *a: statements.append(a[2]))
            ours = _read(catalog._pg_keys(connection, schema, names))
            assert len(statements) == 1
            theirs = _read(catalog._inspected_keys(inspector, schema, names))
        engine.dispose()
    primary, foreign, unique, indexes = ours
    misread = {  # by the inspector (above): the foreign keys to `"Id, One"`
        (table, fk[0][0]) for table, fks in foreign.items() for fk in fks if fk[3] == ["Id, One"]
    }
    if schema is None:
        assert misread == {((None, "Odd, Table"), "parent")}
    else:
        assert misread == {(("other", "ledgers"), "order_id")}
    for found in (ours[1], theirs[1]):
        for table, column in misread:
            found[table] = [fk for fk in found[table] if fk[0] != [column]]
    kinds = ("primary keys", "foreign keys", "unique constraints", "indexes")
    for kind, mine, oracle in zip(kinds, ours, theirs, strict=True):
        assert mine == oracle, kind
    if schema is None:  # the cases are there to be compared
        assert primary[(None, "parts")] == ["b", "a"]
        assert foreign[(None, "uses")] == [(["y", "x"], None, "parts", ["a", "b"])]
        assert (["account_id"], "other", "accounts", ["id"]) in foreign[(None, "Odd, Table")]
        assert unique[(None, "parts")] == [["c"]]
        assert ([None], True, False) in indexes[(None, "uses")]  # lower(z)
        assert (["y"], False, False) in indexes[(None, "uses")]  # INCLUDE (z) left out
        assert (["x"], False, True) in indexes[(None, "uses")]  # WHERE y > 0
        assert indexes[(None, "part_counts")] == [(["a"], True, False)]
    else:
        assert foreign[("other", "ledgers")] == [(["account_id"], "other", "accounts", ["id"])]


PARTIAL = """
CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL, deleted boolean NOT NULL);
CREATE UNIQUE INDEX live_emails ON users (email) WHERE NOT deleted;
CREATE INDEX live_ids ON users (id, deleted) WHERE NOT deleted;
"""


def _users(url: str, folder: Path) -> catalog.Table:
    """The users table as a run's catalog has it."""
    mapping = folder / "users.yaml"
    mapping.write_text("version: 1\ncollections:\n  users:\n    table: users\n    _id: oid\n")
    with mapper.prepare([mapping], url) as prepared:
        return prepared.catalog.tables["users"]


def test_a_partial_unique_index_is_no_key(postgres_server: str, tmp_path: Path) -> None:
    """Emails unique among the rows not deleted are not unique in the table: a join on them
    may find several rows (the catalog counted it a key, as SQLAlchemy reports it unique)."""
    with postgres_database(postgres_server, PARTIAL) as url:
        in_postgres = _users(url, tmp_path)
    sqlite = sqlite_database(tmp_path / "partial.db", PARTIAL.replace("boolean", "int"))
    in_sqlite = _users(sqlite, tmp_path)
    for users in (in_postgres, in_sqlite):
        assert not users.is_unique(["email"])
        assert not users.is_indexed(["email"])
        assert users.unique == () and users.indexes == ()
