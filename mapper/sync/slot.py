"""The source side of `sync` on PostgreSQL: the publication of the tables a plan reads, the
logical replication slot (`pgoutput`) and its exported snapshot, the checks that must pass
before either is made, and what `--status` reports of the slots left on the server."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mapper.catalog import Catalog
from mapper.errors import SourceError, UsageError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Needs:
    """Of one table: its name in SQL (`schema.table`), and the columns whose old values
    sync must see in a change (those that locate its parents)."""

    table: str
    qualified: str
    columns: frozenset[str]


def qualified(catalog: Catalog, name: str) -> str:
    table = catalog.tables[name]
    return f'"{table.schema or "public"}"."{table.table_name}"'


def check_source(connection: sa.Connection, needs: list[Needs]) -> None:
    """Refuse, before anything is made on the server, a source that cannot be followed:
    `wal_level` below logical, a role without REPLICATION, or a table whose replica identity
    would not carry the old values sync needs (whose UPDATE and DELETE would even fail once
    it is published, when it has none)."""
    level = connection.exec_driver_sql("SHOW wal_level").scalar()
    if level != "logical":
        raise UsageError(
            f"the source's `wal_level` is {level}: sync follows a logical replication slot, "
            "which needs `wal_level = logical` (ALTER SYSTEM SET wal_level = logical, then "
            "restart the server), or use --poll",
            setting="wal_level",
        )
    allowed = connection.exec_driver_sql(
        "SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user"
    ).scalar()
    if not allowed:
        raise UsageError(
            "the source's role may not replicate: ALTER ROLE ... WITH REPLICATION (on "
            "Supabase: the direct connection's `postgres` role, not the pooler), or use --poll",
            setting="REPLICATION",
        )
    fixes: list[str] = []
    for need in needs:
        identity, columns = _identity(connection, need.qualified)
        missing = sorted(need.columns - columns) if identity != "f" else []
        if identity == "n" or missing or (identity == "d" and not columns):
            why = (
                f"its replica identity lacks {', '.join(missing)}"
                if missing and columns
                else "it has no replica identity"
            )
            fixes.append(
                f"`{need.table}` ({why}): ALTER TABLE {need.qualified} REPLICA IDENTITY FULL;"
            )
    if fixes:
        raise UsageError(
            "sync needs the old values of the columns that place a changed row in its "
            "documents, which these tables' replica identities do not send:\n  "
            + "\n  ".join(fixes),
            table=needs[0].table if len(fixes) == 1 else None,
            setting="REPLICA IDENTITY",
        )


def _identity(connection: sa.Connection, table: str) -> tuple[str, frozenset[str]]:
    """A table's replica identity (d, f, i or n) and the columns it sends (d: the primary
    key; i: the index's)."""
    row = connection.execute(
        sa.text(
            """
            SELECT c.relreplident,
                   ARRAY(SELECT a.attname FROM pg_index i
                         JOIN pg_attribute a ON a.attrelid = i.indrelid
                          AND a.attnum = ANY(i.indkey)
                         WHERE i.indrelid = c.oid
                           AND ((c.relreplident = 'd' AND i.indisprimary)
                             OR (c.relreplident = 'i' AND i.indisreplident)))
            FROM pg_class c WHERE c.oid = CAST(:table AS regclass)
            """
        ),
        {"table": table},
    ).one()
    return str(row[0]), frozenset(row[1])


def publish(connection: sa.Connection, publication: str, tables: list[str]) -> None:
    """The publication of exactly `tables` (made, or its tables set); partitions' changes
    published as their partitioned table's, as mappings name it."""
    names = ", ".join(tables)
    exists = connection.execute(
        sa.text("SELECT 1 FROM pg_publication WHERE pubname = :name"), {"name": publication}
    ).first()
    if exists:
        connection.exec_driver_sql(f'ALTER PUBLICATION "{publication}" SET TABLE {names}')
    else:
        connection.exec_driver_sql(
            f'CREATE PUBLICATION "{publication}" FOR TABLE {names} '
            "WITH (publish_via_partition_root = true)"
        )


def unpublish(connection: sa.Connection, publication: str) -> None:
    connection.exec_driver_sql(f'DROP PUBLICATION IF EXISTS "{publication}"')


def drop_slot(connection: sa.Connection, slot: str) -> bool:
    """Drop the slot if it exists (its WAL is then released); whether it did."""
    found = connection.execute(
        sa.text("SELECT active_pid FROM pg_replication_slots WHERE slot_name = :slot"),
        {"slot": slot},
    ).first()
    if found is None:
        return False
    if found[0] is not None:
        connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": found[0]})
    connection.execute(sa.text("SELECT pg_drop_replication_slot(:slot)"), {"slot": slot})
    return True


@dataclass(frozen=True)
class SlotStatus:
    name: str
    active: bool
    confirmed: str | None  # the position confirmed flushed
    retained_bytes: int | None  # the WAL the server keeps for it
    behind_bytes: int | None  # from what sync confirmed to the server's current position


def slots(connection: sa.Connection) -> list[SlotStatus]:
    """The `pgoutput` slots on the server whose names sync makes (`mapper_...`)."""
    rows = connection.execute(
        sa.text(
            """
            SELECT slot_name, active, confirmed_flush_lsn::text,
                   pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint,
                   pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint
            FROM pg_replication_slots
            WHERE plugin = 'pgoutput' AND slot_name LIKE 'mapper\\_%'
            ORDER BY slot_name
            """
        )
    ).all()
    return [SlotStatus(*row) for row in rows]


def current_position(connection: sa.Connection) -> int:
    """The source's position: where its next WAL record goes (a commit made without waiting
    for its flush, `synchronous_commit = off`, may be past what the server wrote so far)."""
    from mapper.sync.pgoutput import lsn_value

    return lsn_value(
        connection.exec_driver_sql("SELECT pg_current_wal_insert_lsn()::text").scalar_one()
    )


class Replication:
    """A replication connection (psycopg2's) to the source: makes the slot with its exported
    snapshot, then streams the slot's changes."""

    def __init__(self, engine: sa.Engine):
        import psycopg2
        import psycopg2.extras

        args, kwargs = engine.dialect.create_connect_args(engine.url)
        try:
            self.connection = psycopg2.connect(
                *args, **kwargs, connection_factory=psycopg2.extras.LogicalReplicationConnection
            )
        except psycopg2.Error as error:
            raise SourceError(
                f"cannot open a replication connection: {_first_line(error)}"
            ) from None
        self.cursor: Any = self.connection.cursor()

    def create_slot(self, slot: str) -> tuple[int, str]:
        """Make the slot; its consistent point and the snapshot exported at it, valid until
        this connection sends its next command (`stream`)."""
        import psycopg2

        from mapper.sync.pgoutput import lsn_value

        try:
            self.cursor.execute(
                f'CREATE_REPLICATION_SLOT "{slot}" LOGICAL pgoutput EXPORT_SNAPSHOT'
            )
        except psycopg2.Error as error:
            raise SourceError(
                f"cannot create the replication slot `{slot}`: {_first_line(error)}"
            ) from None
        _, consistent, snapshot, _ = self.cursor.fetchone()
        return lsn_value(consistent), snapshot

    def stream(self, slot: str, publication: str, start: int) -> None:
        """Start streaming the slot's changes after position `start`."""
        self.cursor.start_replication(
            slot_name=slot,
            decode=False,
            start_lsn=start,
            status_interval=5,
            options={"proto_version": "1", "publication_names": publication},
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.connection.close()


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or ["?"])[0]


@contextlib.contextmanager
def plain(engine: sa.Engine) -> Iterator[sa.Connection]:
    """An autocommit connection, for the statements that make and drop things."""
    with engine.connect() as connection:
        yield connection.execution_options(isolation_level="AUTOCOMMIT")
