"""The demo database: its schema, and rows that are deterministic, unkind, and the same in
PostgreSQL and SQLite."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import mapper_cli

from mapper.demo import create_demo
from mapper.demo.generate import DST_CHANGES
from mapper.demo.schema import TABLES, comments, labels, org_members, projects, task_assignees
from mapper.demo.schema import task_labels as task_labels_table
from mapper.demo.schema import tasks as tasks_table
from mapper.errors import UsageError

# SQLite has no decimal type; values with two places below 10000 survive its floats exactly.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Dialect sqlite\+pysqlite does \*not\* support Decimal objects natively"
)

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]


@pytest.fixture(params=BACKENDS)
def demo_url(request) -> str:
    """The session's demo database at scale 1, seed 42, in each backend (read only)."""
    return request.getfixturevalue("demo_sqlite" if request.param == "sqlite" else "demo_pg")


@pytest.fixture(params=BACKENDS)
def empty_url(request) -> str:
    """A fresh empty database in each backend."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def connection(demo_url: str) -> Iterator[sa.Connection]:
    engine = sa.create_engine(demo_url)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def normalize(value: Any) -> Any:
    """A backend-independent form of a column value."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


def digests(url: str) -> dict[str, tuple[int, str]]:
    """(row count, SHA-256 of the normalized rows in primary-key order) per demo table."""
    engine = sa.create_engine(url)
    result = {}
    with engine.connect() as connection:
        for table in TABLES:
            digest, count = hashlib.sha256(), 0
            rows = connection.execute(sa.select(table).order_by(*table.primary_key.columns))
            for row in rows:
                digest.update(repr([normalize(value) for value in row]).encode())
                count += 1
            result[table.name] = (count, digest.hexdigest())
    engine.dispose()
    return result


def table_counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        counts = {
            table.name: connection.scalar(sa.select(sa.func.count()).select_from(table))
            for table in TABLES
        }
    engine.dispose()
    return counts


def scalar(connection: sa.Connection, query: sa.Select) -> Any:
    return connection.execute(query).scalar_one()


def count(connection: sa.Connection, query: sa.Select) -> int:
    return scalar(connection, sa.select(sa.func.count()).select_from(query.subquery()))


@pytest.mark.integration
def test_same_seed_and_scale_give_the_same_rows_in_sqlite_and_postgresql(demo_sqlite, demo_pg):
    assert digests(demo_sqlite) == digests(demo_pg)


def test_the_seed_decides_the_rows(tmp_path):
    urls = {name: f"sqlite:///{tmp_path / name}.db" for name in ("one", "again", "other")}
    for name, seed in (("one", 1), ("again", 1), ("other", 2)):
        create_demo(urls[name], scale=0.1, seed=seed)
    one, again, other = (digests(urls[name]) for name in ("one", "again", "other"))
    assert one == again
    assert all(one[table][1] != other[table][1] for table in one)


def test_counts_at_scale_1(demo_sqlite):
    counts = table_counts(demo_sqlite)
    assert (counts["organizations"], counts["users"], counts["projects"]) == (10, 200, 50)
    assert 900 <= counts["tasks"] <= 1100
    assert 2500 <= counts["comments"] <= 3500
    assert counts["labels"] == 8 * counts["organizations"]
    assert 1.2 <= counts["task_labels"] / counts["tasks"] <= 1.8
    assert 1.0 <= counts["task_assignees"] / counts["tasks"] <= 1.4
    assert 1.1 <= counts["org_members"] / counts["users"] <= 1.5
    engine = sa.create_engine(demo_sqlite)
    with engine.connect() as connection:
        per_org = connection.execute(
            sa.select(sa.func.count()).select_from(labels).group_by(labels.c.org_id)
        )
        assert {row[0] for row in per_org} == {8}
    engine.dispose()


@pytest.mark.parametrize(
    "scale, expected",
    [
        (0.2, {"organizations": 2, "users": 40, "projects": 10, "tasks": 200, "comments": 600}),
        (0.001, {"organizations": 1, "users": 1, "projects": 1, "tasks": 1, "comments": 3}),
    ],
)
def test_scale_multiplies_every_count(sqlite_url, scale, expected):
    counts = create_demo(sqlite_url, scale=scale)
    assert list(counts) == [table.name for table in TABLES]
    assert counts == table_counts(sqlite_url)
    assert {name: counts[name] for name in expected} == expected
    assert counts["labels"] == 8 * counts["organizations"]


def test_every_nullable_column_has_nulls_and_values(connection):
    for table in TABLES:
        total = scalar(connection, sa.select(sa.func.count()).select_from(table))
        for column in table.columns:
            if column.nullable:
                nulls = scalar(connection, sa.select(sa.func.count()).where(column.is_(None)))
                assert 0.1 <= nulls / total <= 0.8, f"{table.name}.{column.name}: {nulls}/{total}"


def test_filled_database_needs_drop(empty_url):
    counts = create_demo(empty_url, scale=0.05, seed=7)
    with pytest.raises(UsageError, match="--drop"):
        create_demo(empty_url, scale=0.05, seed=7)
    assert create_demo(empty_url, scale=0.05, seed=7, drop=True) == counts
    assert table_counts(empty_url) == counts


@pytest.mark.integration
def test_driverless_postgresql_url_is_accepted(pg_url):
    driverless = pg_url.replace("postgresql+psycopg2://", "postgresql://")
    assert driverless != pg_url
    assert create_demo(driverless, scale=0.01)["tasks"] == 10


def test_bad_scale_is_a_usage_error(sqlite_url):
    with pytest.raises(UsageError, match="scale"):
        create_demo(sqlite_url, scale=0)


FOREIGN_KEYS = {  # (table, column): (referred table, on delete), as demo-taskdb.md says
    ("org_members", "org_id"): ("organizations", "CASCADE"),
    ("org_members", "user_id"): ("users", "CASCADE"),
    ("projects", "org_id"): ("organizations", None),
    ("projects", "created_by"): ("users", "SET NULL"),
    ("tasks", "project_id"): ("projects", "CASCADE"),
    ("tasks", "created_by"): ("users", "SET NULL"),
    ("labels", "org_id"): ("organizations", None),
    ("task_labels", "task_id"): ("tasks", "CASCADE"),
    ("task_labels", "label_id"): ("labels", "CASCADE"),
    ("task_assignees", "task_id"): ("tasks", "CASCADE"),
    ("task_assignees", "user_id"): ("users", "CASCADE"),
    ("comments", "task_id"): ("tasks", "CASCADE"),
    ("comments", "user_id"): ("users", "SET NULL"),
}


def test_schema_has_every_constraint_and_foreign_key_index(connection):
    inspector = sa.inspect(connection)
    foreign_keys = {}
    for table in TABLES:
        assert inspector.get_pk_constraint(table.name)["constrained_columns"] == [
            column.name for column in table.primary_key.columns
        ]
        indexed = {index["column_names"][0] for index in inspector.get_indexes(table.name)}
        for foreign_key in inspector.get_foreign_keys(table.name):
            (column,) = foreign_key["constrained_columns"]
            ondelete = foreign_key["options"].get("ondelete")
            foreign_keys[table.name, column] = (
                foreign_key["referred_table"],
                ondelete.upper() if ondelete else None,
            )
            assert column in indexed, f"{table.name}.{column} has no index"
        reflected = {column["name"]: column for column in inspector.get_columns(table.name)}
        for column in table.columns:
            assert reflected[column.name]["nullable"] == column.nullable, column
    assert foreign_keys == FOREIGN_KEYS
    uniques = {
        (name, tuple(unique["column_names"]))
        for name in ("organizations", "users", "labels")
        for unique in inspector.get_unique_constraints(name)
    }
    assert uniques == {
        ("organizations", ("slug",)),
        ("users", ("email",)),
        ("labels", ("org_id", "name")),
    }


def test_no_orphan_rows(connection):
    for table in TABLES:
        for foreign_key in table.foreign_keys:
            child, parent = foreign_key.parent, foreign_key.column
            orphans = (
                sa.select(child)
                .select_from(table.outerjoin(parent.table, child == parent))
                .where(child.is_not(None), parent.is_(None))
            )
            assert count(connection, orphans) == 0, f"{table.name}.{child.name}"


def test_relations_are_sensible(connection):
    task_org = (
        sa.select(tasks_table.c.id, projects.c.org_id)
        .join(projects, tasks_table.c.project_id == projects.c.id)
        .subquery()
    )
    foreign_labels = (
        sa.select(task_labels_table.c.task_id)
        .join(task_org, task_org.c.id == task_labels_table.c.task_id)
        .join(labels, labels.c.id == task_labels_table.c.label_id)
        .where(labels.c.org_id != task_org.c.org_id)
    )
    assert count(connection, foreign_labels) == 0

    def outsiders(user_column: sa.Column, org_column: sa.Column, source) -> sa.Select:
        membership = sa.exists().where(
            org_members.c.user_id == user_column, org_members.c.org_id == org_column
        )
        return (
            sa.select(user_column).select_from(source).where(user_column.is_not(None), ~membership)
        )

    assignees = task_assignees.join(task_org, task_org.c.id == task_assignees.c.task_id)
    authors = comments.join(task_org, task_org.c.id == comments.c.task_id)
    creators = tasks_table.join(task_org, task_org.c.id == tasks_table.c.id)
    assert count(connection, outsiders(task_assignees.c.user_id, task_org.c.org_id, assignees)) == 0
    assert count(connection, outsiders(comments.c.user_id, task_org.c.org_id, authors)) == 0
    assert count(connection, outsiders(tasks_table.c.created_by, task_org.c.org_id, creators)) == 0
    assert count(connection, outsiders(projects.c.created_by, projects.c.org_id, projects)) == 0
    for table in (projects, tasks_table):
        assert (
            count(connection, sa.select(table.c.id).where(table.c.updated_at < table.c.created_at))
            == 0
        )
    assert (
        count(
            connection,
            sa.select(comments.c.id).where(comments.c.edited_at <= comments.c.created_at),
        )
        == 0
    )


def test_orderings_have_ties(connection):
    def tied(*columns: sa.Column) -> int:
        return count(connection, sa.select(*columns).group_by(*columns).having(sa.func.count() > 1))

    assert tied(task_assignees.c.task_id, task_assignees.c.assigned_at) > 0
    assert tied(comments.c.task_id, comments.c.created_at) > 0
    assert tied(org_members.c.org_id, org_members.c.joined_at) > 0
    assert tied(labels.c.name) > 0


def test_relations_are_empty_or_crowded(connection):
    def per_task(table: sa.Table) -> list[int]:
        counted = (
            sa.select(sa.func.count(table.c.task_id))
            .select_from(tasks_table.outerjoin(table, table.c.task_id == tasks_table.c.id))
            .group_by(tasks_table.c.id)
        )
        return list(connection.execute(counted).scalars())

    for table in (task_labels_table, task_assignees, comments):
        assert 0 in per_task(table), table.name
    assert max(per_task(comments)) >= 20
    assert max(per_task(task_labels_table)) >= 6


def test_values_are_unkind(demo_sqlite):
    engine = sa.create_engine(demo_sqlite)
    with engine.connect() as connection:
        texts = [
            value
            for table, column in (
                (tasks_table, "title"),
                (tasks_table, "description"),
                (comments, "body"),
                (projects, "name"),
            )
            for value in connection.execute(sa.select(table.c[column])).scalars()
            if value is not None
        ]
        task_rows = connection.execute(sa.select(tasks_table)).mappings().all()
        instants = [
            value.replace(tzinfo=UTC)
            for table in TABLES
            for column in table.columns
            if isinstance(column.type, sa.DateTime)
            for value in connection.execute(sa.select(column)).scalars()
            if value is not None
        ]
    engine.dispose()

    text = "".join(texts)
    for sample in ("é", "日本語", "مهمة", "🚀", "'", '"', "\n", "\r\n", "\\"):
        assert sample in text, sample
    assert any(ord(character) > 0xFFFF for character in text)
    assert sum(len(row["description"] or "") > 10_000 for row in task_rows) >= 3

    hours = [row["estimate_hours"] for row in task_rows if row["estimate_hours"] is not None]
    assert all(value.as_tuple().exponent == -2 and 0 <= value < 10_000 for value in hours)
    assert {row["priority"] for row in task_rows} == {1, 2, 3, 4}
    assert {row["status"] for row in task_rows} == {"todo", "in_progress", "done"}
    assert all(isinstance(row["due_date"], date) for row in task_rows if row["due_date"])

    def arrays_nest(value: Any, in_array: bool = False) -> bool:
        if isinstance(value, list):
            return in_array or any(arrays_nest(item, True) for item in value)
        if isinstance(value, dict):
            return any(arrays_nest(item) for item in value.values())
        return False

    def keys(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            yield from value
            for item in value.values():
                yield from keys(item)
        elif isinstance(value, list):
            for item in value:
                yield from keys(item)

    documents = [row["metadata"] for row in task_rows if row["metadata"] is not None]
    assert any(isinstance(item, dict) for doc in documents for item in doc.values())
    assert any(isinstance(item, list) and item for doc in documents for item in doc.values())
    assert not any(arrays_nest(doc) for doc in documents)
    assert not any("." in key or key.startswith("$") for doc in documents for key in keys(doc))

    assert max(instants) - min(instants) > timedelta(days=3 * 365)
    assert sum(instant.microsecond != 0 for instant in instants) > 0.9 * len(instants)
    for change in DST_CHANGES:
        assert any(abs(instant - change) < timedelta(hours=2) for instant in instants), change


def test_cli_creates_the_demo(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    command = ["demo", "--source", url, "--scale", "0.2"]
    done = mapper_cli(*command)
    assert done.returncode == 0, done.stderr
    assert "tasks" in done.stdout and "200" in done.stdout
    again = mapper_cli(*command)
    assert again.returncode == 2 and "--drop" in again.stderr
    dropped = mapper_cli(*command, "--drop")
    assert dropped.returncode == 0, dropped.stderr


@pytest.mark.integration
def test_the_same_rows_in_mariadb(small_demo_sqlite, small_demo_mysql):
    """MariaDB keeps every demo value: microseconds, long texts, JSON, case-distinct texts."""
    assert digests(small_demo_mysql) == digests(small_demo_sqlite)
