"""The demo task database (demo-taskdb.md): create its schema and fill it deterministically."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from mapper.config import redact, sqlalchemy_url
from mapper.demo.generate import generate
from mapper.demo.load import load
from mapper.demo.schema import METADATA, TABLES
from mapper.errors import SourceError, UsageError

if TYPE_CHECKING:
    import sqlite3

    from sqlalchemy.pool import ConnectionPoolEntry

__all__ = ["create_demo"]


def create_demo(url: str, scale: float = 1.0, seed: int = 42, drop: bool = False) -> dict[str, int]:
    """Create the demo tables at `url` and fill them; return row counts in creation order.

    With `drop`, existing demo tables are dropped first; without it, demo tables that already
    hold rows are an error. Everything happens in one transaction.
    """
    if not scale > 0:
        raise UsageError(f"the demo scale must be positive, not {scale}")
    try:
        engine = sa.create_engine(sqlalchemy_url(url))
    except sa.exc.ArgumentError as error:
        raise UsageError(f"bad source URL {redact(url)}: {error}") from error
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_foreign_keys)
    try:
        with engine.begin() as connection:
            if drop:
                METADATA.drop_all(connection)
            else:
                _refuse_filled_tables(connection, redact(url))
            METADATA.create_all(connection)
            return load(connection, generate(seed, scale))
    except sa.exc.DBAPIError as error:
        raise SourceError(f"cannot create the demo at {redact(url)}: {error.orig}") from error
    finally:
        engine.dispose()


def _refuse_filled_tables(connection: sa.Connection, where: str) -> None:
    existing = set(sa.inspect(connection).get_table_names())
    filled = [
        table.name
        for table in TABLES
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
