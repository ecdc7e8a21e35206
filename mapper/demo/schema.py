"""The demo task database's tables (demo-taskdb.md), in portable SQLAlchemy Core types.

The same metadata creates the schema in PostgreSQL (native uuid, timestamptz, jsonb), in
SQLite (uuid as its 36-character lowercase text, timestamps as naive UTC text, JSON as text)
and in MySQL/MariaDB (uuid as text, DATETIME(6) in UTC, LONGTEXT, JSON; the unique texts in a
binary collation, as case-sensitive as elsewhere), so that keys, their text and their order
are the same in all three.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

from mapper.catalog import MYSQL

NAMING_CONVENTION = {
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}
"""Constraint and index names of the demos' tables."""
METADATA = sa.MetaData(naming_convention=NAMING_CONVENTION)

# SQL NULL (not JSON 'null') for Python None, in every dialect.
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
# MySQL's DATETIME keeps no fraction unless asked, and no time zone: it holds UTC
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), *MYSQL)
# MySQL's TEXT holds 64 KB at most; some descriptions are longer
TEXT = sa.Text().with_variant(mysql.LONGTEXT(), *MYSQL)
# a unique text: MySQL's default collations compare case- and accent-insensitively
UNIQUE_TEXT = sa.Text().with_variant(mysql.VARCHAR(255, collation="utf8mb4_bin"), *MYSQL)


class UuidText(sa.types.TypeDecorator[uuid.UUID]):
    """Native uuid in PostgreSQL; `8-4-4-4-12` lowercase text elsewhere (UUID in Python)."""

    impl = sa.Uuid
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.Uuid())
        return dialect.type_descriptor(sa.String(36))

    def process_bind_param(
        self, value: uuid.UUID | None, dialect: sa.Dialect
    ) -> uuid.UUID | str | None:
        if value is None or dialect.name == "postgresql":
            return value
        return str(value)

    def process_result_value(
        self, value: uuid.UUID | str | None, dialect: sa.Dialect
    ) -> uuid.UUID | None:
        if value is None or isinstance(value, uuid.UUID):
            return value
        return uuid.UUID(value)


def _id() -> sa.Column[uuid.UUID]:
    return sa.Column("id", UuidText, primary_key=True)


def foreign_key(
    name: str,
    target: str,
    kind: type[sa.types.TypeEngine[Any]] | sa.types.TypeEngine[Any],
    *,
    nullable: bool = False,
    ondelete: str | None = None,
    primary_key: bool = False,
) -> sa.Column[Any]:
    """A column of `kind` referencing `target`, with an index of its own (never generated:
    its values are the target's keys)."""
    return sa.Column(
        name,
        kind,
        sa.ForeignKey(target, ondelete=ondelete),
        nullable=nullable,
        primary_key=primary_key,
        autoincrement=False,
        index=True,
    )


def _fk(name: str, target: str, **options: Any) -> sa.Column[Any]:
    """A uuid column referencing `target`."""
    return foreign_key(name, target, UuidText, **options)


organizations = sa.Table(
    "organizations",
    METADATA,
    _id(),
    sa.Column("name", TEXT, nullable=False),
    sa.Column("slug", UNIQUE_TEXT, nullable=False, unique=True),
    sa.Column("plan", TEXT, nullable=False),
    sa.Column("created_at", TIMESTAMP, nullable=False),
)

users = sa.Table(
    "users",
    METADATA,
    _id(),
    sa.Column("email", UNIQUE_TEXT, nullable=False, unique=True),
    sa.Column("full_name", TEXT, nullable=False),
    sa.Column("avatar_url", TEXT, nullable=True),
    sa.Column("created_at", TIMESTAMP, nullable=False),
)

org_members = sa.Table(
    "org_members",
    METADATA,
    _fk("org_id", "organizations.id", ondelete="CASCADE", primary_key=True),
    _fk("user_id", "users.id", ondelete="CASCADE", primary_key=True),
    sa.Column("role", TEXT, nullable=False),
    sa.Column("joined_at", TIMESTAMP, nullable=False),
)

projects = sa.Table(
    "projects",
    METADATA,
    _id(),
    _fk("org_id", "organizations.id"),
    sa.Column("name", TEXT, nullable=False),
    sa.Column("description", TEXT, nullable=True),
    sa.Column("status", TEXT, nullable=False),
    _fk("created_by", "users.id", nullable=True, ondelete="SET NULL"),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
)

tasks = sa.Table(
    "tasks",
    METADATA,
    _id(),
    _fk("project_id", "projects.id", ondelete="CASCADE"),
    sa.Column("title", TEXT, nullable=False),
    sa.Column("description", TEXT, nullable=True),
    sa.Column("status", TEXT, nullable=False),
    sa.Column("priority", sa.SmallInteger, nullable=False),
    sa.Column("due_date", sa.Date, nullable=True),
    sa.Column("estimate_hours", sa.Numeric(6, 2), nullable=True),
    _fk("created_by", "users.id", nullable=True, ondelete="SET NULL"),
    sa.Column("metadata", JSON, nullable=True),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
)

labels = sa.Table(
    "labels",
    METADATA,
    _id(),
    _fk("org_id", "organizations.id"),
    sa.Column("name", UNIQUE_TEXT, nullable=False),
    sa.Column("color", TEXT, nullable=False),
    sa.UniqueConstraint("org_id", "name"),
)

task_labels = sa.Table(
    "task_labels",
    METADATA,
    _fk("task_id", "tasks.id", ondelete="CASCADE", primary_key=True),
    _fk("label_id", "labels.id", ondelete="CASCADE", primary_key=True),
)

task_assignees = sa.Table(
    "task_assignees",
    METADATA,
    _fk("task_id", "tasks.id", ondelete="CASCADE", primary_key=True),
    _fk("user_id", "users.id", ondelete="CASCADE", primary_key=True),
    sa.Column("assigned_at", TIMESTAMP, nullable=False),
)

comments = sa.Table(
    "comments",
    METADATA,
    _id(),
    _fk("task_id", "tasks.id", ondelete="CASCADE"),
    _fk("user_id", "users.id", nullable=True, ondelete="SET NULL"),
    sa.Column("body", TEXT, nullable=False),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("edited_at", TIMESTAMP, nullable=True),
)

TABLES: tuple[sa.Table, ...] = (
    organizations,
    users,
    org_members,
    projects,
    tasks,
    labels,
    task_labels,
    task_assignees,
    comments,
)
"""Every demo table, in creation (dependency) order."""
