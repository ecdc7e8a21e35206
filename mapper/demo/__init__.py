"""The demo databases: create a demo schema and fill it deterministically.

`tasks` is the task database the shipped mappings use (demo-taskdb.md); `retail` is a shop with
quirks on purpose, for `mapper init` (docs/demo-retail.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from mapper.config import redact, sqlalchemy_url
from mapper.demo import generate as tasks_generate
from mapper.demo import retail
from mapper.demo import schema as tasks_schema
from mapper.demo.generate import Row
from mapper.demo.load import load
from mapper.errors import SourceError, UsageError
from mapper.progress import SILENT, Progress

if TYPE_CHECKING:
    import sqlite3

    from sqlalchemy.pool import ConnectionPoolEntry

__all__ = ["DEMO_SCHEMAS", "create_demo"]


@dataclass(frozen=True)
class DemoSchema:
    """A demo: its tables (in creation order) and its rows as a function of (seed, scale)."""

    metadata: sa.MetaData
    tables: tuple[sa.Table, ...]
    generate: Callable[[int, float], Iterable[tuple[str, list[Row]]]]


DEMO_SCHEMAS = {
    "tasks": DemoSchema(tasks_schema.METADATA, tasks_schema.TABLES, tasks_generate.generate),
    "retail": DemoSchema(retail.METADATA, retail.TABLES, retail.generate),
}


def create_demo(
    url: str,
    scale: float = 1.0,
    seed: int = 42,
    drop: bool = False,
    schema: str = "tasks",
    progress: Progress = SILENT,
) -> dict[str, int]:
    """Create the tables of the demo `schema` at `url` and fill them; return row counts in
    creation order.

    With `drop`, existing tables of that demo are dropped first; without it, its tables that
    already hold rows are an error. Everything happens in one transaction; `progress` has a
    task per table.
    """
    if not scale > 0:
        raise UsageError(f"the demo scale must be positive, not {scale}")
    if schema not in DEMO_SCHEMAS:
        raise UsageError(
            f"unknown demo schema `{schema}`: choose one of {', '.join(sorted(DEMO_SCHEMAS))}"
        )
    demo = DEMO_SCHEMAS[schema]
    try:
        engine = sa.create_engine(sqlalchemy_url(url))
    except sa.exc.ArgumentError as error:
        raise UsageError(f"bad source URL {redact(url)}: {error}") from error
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_foreign_keys)
    try:
        with engine.begin() as connection:
            if drop:
                demo.metadata.drop_all(connection)
            else:
                _refuse_filled_tables(connection, demo.tables, redact(url))
            demo.metadata.create_all(connection)
            return load(connection, demo.metadata, demo.generate(seed, scale), progress)
    except sa.exc.DBAPIError as error:
        raise SourceError(f"cannot create the demo at {redact(url)}: {error.orig}") from error
    finally:
        engine.dispose()


def _refuse_filled_tables(
    connection: sa.Connection, tables: tuple[sa.Table, ...], where: str
) -> None:
    existing = set(sa.inspect(connection).get_table_names())
    filled = [
        table.name
        for table in tables
        if table.name in existing
        and connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first()
    ]
    if filled:
        raise UsageError(
            f"demo tables at {where} already hold data ({', '.join(filled)}): "
            "pass --drop to replace them"
        )


def _sqlite_foreign_keys(
    dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry
) -> None:
    """SQLite checks foreign keys only when asked, per connection."""
    dbapi_connection.execute("PRAGMA foreign_keys = ON")
