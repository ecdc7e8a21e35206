"""Stream rows from the source inside one consistent, read-only snapshot."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

import sqlalchemy as sa

from mapper import plan as p
from mapper.compile import KEYS, Compiler
from mapper.errors import SourceError

log = logging.getLogger(__name__)
KEY_CHUNK = 10_000


@contextlib.contextmanager
def snapshot(engine: sa.Engine, imported: str | None = None) -> Iterator[sa.Connection]:
    """A connection whose reads all see one snapshot and can write nothing.

    PostgreSQL: one REPEATABLE READ READ ONLY transaction, timestamps read in UTC; with
    `imported`, the snapshot another transaction exported (`Extractor.export_snapshot`).
    SQLite: one read transaction.
    """
    options: dict = {}
    if engine.dialect.name == "postgresql":
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    log.debug("opening the source snapshot (%s)", options or "one read transaction")
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(**options)
            with connection.begin():
                if imported is not None:
                    connection.execute(sa.text("SET TRANSACTION SNAPSHOT :id"),
                                       {"id": imported})
                if engine.dialect.name == "postgresql":
                    connection.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
                if engine.dialect.driver == "psycopg2":
                    _uuid_as_text(connection.connection.dbapi_connection)
                if engine.dialect.name == "sqlite":
                    connection.exec_driver_sql("SELECT 1 FROM sqlite_master LIMIT 1")
                yield connection
    except sa.exc.OperationalError as error:
        raise SourceError(f"source failed: {_describe(error)}") from None


def _uuid_as_text(dbapi_connection) -> None:
    """Read uuid values as their text (`compile.TextUuid`): keys and ids are computed from
    text, and a UUID object per value would cost a third of a run's CPU. Conversions make
    UUIDs where asked."""
    import psycopg2.extensions as extensions

    as_text = extensions.new_type((2950,), "UUID_AS_TEXT", lambda value, _cursor: value)
    extensions.register_type(as_text, dbapi_connection)


_SETTINGS = {
    "idle-in-transaction timeout": "idle_in_transaction_session_timeout",
    "statement timeout": "statement_timeout",
    "lock timeout": "lock_timeout",
}


def _idle_timeout(connection: sa.Connection) -> float:
    """PostgreSQL's idle-in-transaction timeout in seconds (0: none; other sources: 0)."""
    if connection.dialect.name != "postgresql":
        return 0.0
    milliseconds = connection.exec_driver_sql(
        "SELECT setting FROM pg_settings WHERE name = 'idle_in_transaction_session_timeout'"
    ).scalar()
    return int(milliseconds or 0) / 1000


def _describe(error: sa.exc.DBAPIError) -> str:
    """The driver's message, first line only (it may quote SQL, never parameters), naming
    the server setting that fired when a timeout ended the snapshot."""
    message = (str(getattr(error, "orig", error)).strip().splitlines() or ["?"])[0]
    for words, setting in _SETTINGS.items():
        if words in message:
            return f"{message} (the server's `{setting}` ended the run's snapshot: raise it " \
                   "for the migration's role, or use a smaller --batch-size)"
    return message


class Extractor:
    """Runs a plan's statements on one snapshot connection."""

    def __init__(self, connection: sa.Connection, compiler: Compiler):
        self.connection = connection
        self.compiler = compiler
        self._idle_timeout = _idle_timeout(connection)
        self._last_activity = time.monotonic()

    def _explain(self, error: sa.exc.DBAPIError) -> str:
        """The error, and the timeout setting that most likely ended the snapshot."""
        message = _describe(error)
        idle = time.monotonic() - self._last_activity
        if "closed the connection" in message and 0 < self._idle_timeout <= idle:
            message += (f" after {idle:.1f}s idle in the snapshot transaction: the server's "
                        "`idle_in_transaction_session_timeout` "
                        f"({self._idle_timeout:g}s) ended it; raise it for the migration's "
                        "role, or find what slowed the target")
        return message

    def export_snapshot(self) -> str:
        """An id by which other connections read this one's snapshot (PostgreSQL only)."""
        try:
            return self.connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
        except sa.exc.DBAPIError as error:
            raise SourceError(f"cannot share the run's snapshot with worker processes: "
                              f"{_describe(error)} (run with --workers 1)") from None

    def largest_group(self, children: p.Children) -> tuple[tuple, int] | None:
        """The parent key with the most elements in an array, and how many."""
        row = self.connection.execute(self.compiler.largest_group(children)).first()
        return (tuple(row[:-1]), row[-1]) if row else None

    def count_rows(self, query: p.Query) -> int:
        return self.connection.execute(self.compiler.count_rows(query)).scalar_one()

    def count(self, table: str) -> int:
        return self.connection.execute(self.compiler.count(table)).scalar_one()

    def batches(self, query: p.Query, size: int, table: str) -> Iterator[list[sa.Row]]:
        """The root rows in batches, from a server-side cursor (memory bounded by `size`)."""
        with self._reading(f"`{table}`"):
            result = self.connection.execute(  # options of this statement, not the connection
                *self.compiler.statement(query),
                execution_options={"stream_results": True, "yield_per": size})
            for partition in result.partitions(size):
                rows = list(partition)
                self._last_activity = time.monotonic()
                yield rows

    def rows(self, query: p.Query, table: str) -> list[sa.Row]:
        """All rows of a query that holds one batch at most (a worker's key range): one
        plain statement, without the round trips of a server-side cursor."""
        with self._reading(f"`{table}`"):
            return self.connection.execute(*self.compiler.statement(query)).all()

    def children(self, children: p.Children, parents: list | p.Span) -> list[sa.Row]:
        """Child rows of the given parents: their key values (tuples for composite keys),
        one statement per chunk of keys; or, for an array read by range
        (`plan.read_by_range`), the span of root keys they are in, one statement."""
        if isinstance(parents, tuple):
            chunks = [self.compiler.statement(p.children_in_range(children, parents))]
        else:
            statement, _ = self.compiler.statement(children.query)
            chunks = [(statement, {KEYS: parents[start:start + KEY_CHUNK]})
                      for start in range(0, len(parents), KEY_CHUNK)]
        rows: list[sa.Row] = []
        with self._reading(f"`{children.query.table}` for `{'.'.join(children.path)}`"):
            for statement, parameters in chunks:
                rows += self.connection.execute(statement, parameters).all()
        return rows

    @contextlib.contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        """A read of the source: its errors become a SourceError naming `what`."""
        try:
            yield
        except sa.exc.DBAPIError as error:
            raise SourceError(f"reading {what} failed: {self._explain(error)}") from None
        finally:
            self._last_activity = time.monotonic()
