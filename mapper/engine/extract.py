"""Stream rows from the source inside one consistent, read-only snapshot."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa

from mapper import plan as p
from mapper.catalog import MYSQL
from mapper.compile import KEYS, Compiler
from mapper.engine.build import Row
from mapper.errors import SourceError
from mapper.types import Unrepresentable, unrepresentable

if TYPE_CHECKING:
    import sqlite3

    # psycopg2 has no stubs: these are Any to mypy, named for the reader
    from psycopg2.extensions import QuotedString
    from psycopg2.extensions import connection as PgConnection
    from psycopg2.extensions import cursor as PgCursor

    Parse = Callable[[str | None, PgCursor], object]  # a psycopg2 typecaster's function

log = logging.getLogger(__name__)
KEY_CHUNK = 10_000


@contextlib.contextmanager
def snapshot(engine: sa.Engine, imported: str | None = None) -> Iterator[sa.Connection]:
    """A connection whose reads all see one snapshot and can write nothing.

    PostgreSQL: one REPEATABLE READ READ ONLY transaction, timestamps read in UTC; with
    `imported`, the snapshot another transaction exported (`Extractor.export_snapshot`).
    MySQL: one REPEATABLE READ transaction started `WITH CONSISTENT SNAPSHOT, READ ONLY`,
    TIMESTAMP columns read in UTC. SQLite: one read transaction.
    """
    options: dict[str, str | bool] = {}
    if engine.dialect.name == "postgresql":
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    if engine.dialect.name in MYSQL:
        options = {"isolation_level": "REPEATABLE READ"}
    log.debug("opening the source snapshot (%s)", options or "one read transaction")
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(**options)
            with connection.begin():
                if imported is not None:
                    connection.execute(sa.text("SET TRANSACTION SNAPSHOT :id"), {"id": imported})
                if engine.dialect.name == "postgresql":
                    connection.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
                if engine.dialect.name in MYSQL:
                    connection.exec_driver_sql("SET time_zone = '+00:00'")
                    connection.exec_driver_sql(
                        "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"
                    )
                if engine.dialect.driver == "psycopg2":
                    _typecasters(connection.connection.dbapi_connection)
                if engine.dialect.driver == "mysqldb":
                    _mysqldb_converters(connection.connection.dbapi_connection)
                if engine.dialect.name == "sqlite":
                    with _sqlite_snapshot(connection):
                        yield connection
                    return
                yield connection
    except sa.exc.OperationalError as error:
        raise _source_error(f"source failed: {_describe(error)}") from None


@contextlib.contextmanager
def _sqlite_snapshot(connection: sa.Connection) -> Iterator[None]:
    """One read transaction, begun here: pysqlite begins none before a SELECT (each read
    would see the database as it is then), and read only for its length."""
    # the stub's DBAPIConnection names no driver's own attributes
    sqlite = cast("sqlite3.Connection", connection.connection.dbapi_connection)
    sqlite.text_factory = _SQLITE_TEXT
    connection.exec_driver_sql("PRAGMA query_only = ON")
    try:
        connection.exec_driver_sql("BEGIN")  # committed (ended) by the caller's transaction
        connection.exec_driver_sql("SELECT 1 FROM sqlite_master LIMIT 1")  # the snapshot
        yield
    finally:
        connection.exec_driver_sql("PRAGMA query_only = OFF")


# SQLite text that is not valid UTF-8 keeps its bytes as surrogates (the driver would fail
# the whole batch, quoting the text): such a document cannot be encoded, and its row is
# rejected naming the field (`batches.encode_batch`)
_SQLITE_TEXT = functools.partial(str, encoding="utf-8", errors="surrogateescape")

# PostgreSQL's built-in type oids: (scalar, array)
_UUID = (2950, 2951)
_RANGES = (
    (3904, 3905),
    (3926, 3927),
    (3906, 3907),
    (3908, 3909),
    (3910, 3911),
    (3912, 3913),
)  # int4, int8, num, ts, tstz and date ranges
_TEMPORAL = (
    ("date", 1082, 1182),
    ("timestamp", 1114, 1115),
    ("timestamptz", 1184, 1185),
    ("time", 1083, 1183),
    ("time", 1266, 1270),
    ("interval", 1186, 1187),
)
# arrays psycopg2 returns as their text, by their element's oid: enums, domains, uuid, bit...
_UNPARSED_ARRAYS = """
SELECT a.oid, CASE WHEN e.typtype = 'd' THEN e.typbasetype ELSE e.oid END
FROM pg_type a JOIN pg_type e ON e.oid = a.typelem AND e.typarray = a.oid
WHERE a.typcategory = 'A'"""


def _typecasters(dbapi_connection: PgConnection) -> None:
    """How a psycopg2 snapshot connection reads values, so that each value of a column reads
    as what its conversion expects, and none can fail a whole batch:

    - uuid as its text (`compile.TextUuid`): keys and ids are computed from text, and a UUID
      object per value would cost a third of a run's CPU; conversions make UUIDs where asked;
    - dates, timestamps, times and intervals that Python cannot hold (±infinity, years past
      9999 or before 1, 24:00, intervals past a timedelta) as `types.Unrepresentable`
      markers, which conversions reject (or clamp): psycopg2 would write ±infinity as
      9999-12-31 / 0001-01-01, read 24:00 as 00:00, and raise for the others;
    - ranges as their text (`[1,5)`), arrays of any element type as lists (psycopg2 leaves
      arrays of enums, domains, uuid or bit as their text).
    """
    import psycopg2.extensions as extensions

    casters: dict[int, object] = {}  # by scalar oid: the casters set here
    done: set[int] = set()  # array oids

    def register(oid: int, array_oid: int, name: str, read: Parse) -> None:
        casters[oid] = scalar = extensions.new_type((oid,), name, read)
        extensions.register_type(scalar, dbapi_connection)
        extensions.register_type(
            extensions.new_array_type((array_oid,), f"{name}_ARRAY", scalar), dbapi_connection
        )
        done.add(array_oid)

    register(*_UUID, "UUID_AS_TEXT", _as_text)
    for oid, array_oid in _RANGES:
        register(oid, array_oid, f"RANGE_{oid}_AS_TEXT", _as_text)
    for kind, oid, array_oid in _TEMPORAL:
        read = _ISO.get(kind)
        register(
            oid,
            array_oid,
            f"{kind.upper()}_{oid}_OR_MARKER",
            _iso_or_marker(kind, read) if read else _or_marker(kind, extensions.string_types[oid]),
        )
    extensions.register_adapter(Unrepresentable, _marker_text)  # a key sent back as its text
    with dbapi_connection.cursor() as cursor:
        cursor.execute(_UNPARSED_ARRAYS)
        arrays = cursor.fetchall()
    for array_oid, element in arrays:
        if array_oid not in done and array_oid not in extensions.string_types:
            extensions.register_type(
                extensions.new_array_type(
                    (array_oid,),
                    f"ARRAY_{array_oid}",
                    casters.get(element)
                    or extensions.string_types.get(element, extensions.UNICODE),
                ),
                dbapi_connection,
            )


def _marker_text(marker: Unrepresentable) -> QuotedString:
    """A marker bound as a parameter (a key of a batch, or a parent's key for its children)
    is the source's text it was read from: `'infinity'` compares equal to that value."""
    import psycopg2.extensions as extensions

    return extensions.QuotedString(marker.text)


def _as_text(value: str | None, _cursor: PgCursor) -> str | None:
    return value


def _or_marker(kind: str, parse: Parse) -> Parse:
    """psycopg2's own parser of `kind`, giving a marker for what Python cannot hold."""

    def read(value: str | None, cursor: PgCursor) -> object:
        if value is None:
            return None
        if value in _INFINITE or (kind == "time" and value.startswith("24:")):
            return unrepresentable(kind, value)
        try:
            return parse(value, cursor)
        except (ValueError, OverflowError):
            return unrepresentable(kind, value)

    return read


_INFINITE = frozenset(("infinity", "-infinity"))
# dates and timestamps as PostgreSQL writes them in the ISO style psycopg2 sets: Python's C
# parser reads them in a quarter of the time of psycopg2's own (benchmarks/README.md)
_ISO: dict[str, Callable[[str], object]] = {
    "date": dt.date.fromisoformat,
    "timestamp": dt.datetime.fromisoformat,
    "timestamptz": dt.datetime.fromisoformat,
}


def _iso_or_marker(kind: str, parse: Callable[[str], object]) -> Parse:
    """`parse` of ISO text, giving a marker for what Python cannot hold (±infinity, BC,
    years past 9999): the values and markers psycopg2's own parser and `_or_marker` give."""

    def read(value: str | None, _cursor: PgCursor) -> object:
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError:
            return unrepresentable(kind, value)

    return read


def _mysqldb_converters(dbapi_connection: Any) -> None:
    """How a mysqlclient snapshot connection reads dates and timestamps: one that Python
    cannot hold (MySQL's zero date `0000-00-00`, a zero month or day), which mysqlclient
    reads as None, a NULL that the source does not hold, reads as an `Unrepresentable`
    marker instead, which conversions reject."""
    from MySQLdb.constants import FIELD_TYPE
    from MySQLdb.converters import conversions

    for field_type, kind in (
        (FIELD_TYPE.DATE, "date"),
        (FIELD_TYPE.DATETIME, "timestamp"),
        (FIELD_TYPE.TIMESTAMP, "timestamp"),
    ):
        dbapi_connection.converter[field_type] = _marker_for_none(kind, conversions[field_type])


def _marker_for_none(kind: str, parse: Callable[[str], object]) -> Callable[[str], object]:
    def read(text: str) -> object:
        value = parse(text)
        return unrepresentable(kind, text) if value is None else value

    return read


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
            return (
                f"{message} (the server's `{setting}` ended the run's snapshot: raise it "
                "for the migration's role, or use a smaller --batch-size)"
            )
    return message


def _source_error(message: str) -> SourceError:
    """A failed read as an error whose `setting` is the server timeout that the message
    says ended the snapshot, if any."""
    named = [setting for setting in _SETTINGS.values() if f"`{setting}`" in message]
    return SourceError(message, setting=named[0] if named else None)


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
            message += (
                f" after {idle:.1f}s idle in the snapshot transaction: the server's "
                "`idle_in_transaction_session_timeout` "
                f"({self._idle_timeout:g}s) ended it; raise it for the migration's "
                "role, or find what slowed the target"
            )
        return message

    def export_snapshot(self) -> str:
        """An id by which other connections read this one's snapshot (PostgreSQL only)."""
        try:
            snapshot_id: str = self.connection.exec_driver_sql(
                "SELECT pg_export_snapshot()"
            ).scalar_one()
            return snapshot_id
        except sa.exc.DBAPIError as error:
            raise SourceError(
                f"cannot share the run's snapshot with worker processes: "
                f"{_describe(error)} (run with --workers 1)"
            ) from None

    def largest_group(self, children: p.Children) -> tuple[tuple[Any, ...], int] | None:
        """The parent key with the most elements in an array, and how many."""
        row = self.connection.execute(self.compiler.largest_group(children)).first()
        return (tuple(row[:-1]), row[-1]) if row else None

    def count_rows(self, query: p.Query) -> int:
        rows: int = self.connection.execute(self.compiler.count_rows(query)).scalar_one()
        return rows

    def count(self, table: str) -> int:
        rows: int = self.connection.execute(self.compiler.count(table)).scalar_one()
        return rows

    def batches(self, query: p.Query, size: int, table: str) -> Iterator[list[Row]]:
        """The root rows in batches, from a server-side cursor (memory bounded by `size`);
        from MySQL, in pages (`_pages`)."""
        with self._reading(f"`{table}`"):
            if self.connection.dialect.name in MYSQL:
                yield from self._pages(query, size)
                return
            result = self.connection.execute(  # options of this statement, not the connection
                *self.compiler.statement(query),
                execution_options={"stream_results": True, "yield_per": size},
            )
            for partition in result.partitions(size):
                rows: list[Row] = list(partition)
                self._last_activity = time.monotonic()
                yield rows

    def _pages(self, query: p.Query, size: int) -> Iterator[list[Row]]:
        """A query ordered by its key, one statement of `size` rows per batch, each after
        the previous one's last key: MySQL sends nothing else on a connection until an
        unbuffered result is read to its end, and the child rows of each batch are read on
        this connection, in this snapshot."""
        page = query
        while True:
            statement, parameters = self.compiler.statement(page)
            rows: list[Row] = list(
                self.connection.execute(
                    statement.limit(size), parameters, execution_options={"stream_results": True}
                ).all()
            )
            self._last_activity = time.monotonic()
            if rows:
                yield rows
            if len(rows) < size:
                return
            page = p.rows_after(query, tuple(rows[-1][o.index] for o in query.order))

    def rows(self, query: p.Query, table: str) -> list[Row]:
        """All rows of a query that holds one batch at most (a worker's key range): one
        plain statement, without the round trips of a server-side cursor."""
        with self._reading(f"`{table}`"):
            return _all(self.connection.execute(*self.compiler.statement(query)))

    def by_range(self, collection: p.CollectionPlan, children: p.Children) -> bool:
        """Whether an array is read by a batch's key range (`plan.read_by_range`): only when
        its link columns compare by code point as they are, so that an index serves the
        range (text that must be cast or collated for that order would be read in full for
        each batch: such an array is read by its list of keys)."""
        return p.read_by_range(collection, children) and self.compiler.compares_as_stored(
            children.query, children.query.link
        )

    def children(self, children: p.Children, parents: list[Any] | p.Span) -> list[Row]:
        """Child rows of the given parents: their key values (tuples for composite keys),
        one statement per chunk of keys; or, for an array read by range
        (`plan.read_by_range`), the span of root keys they are in, one statement."""
        if isinstance(parents, tuple):
            chunks = [self.compiler.statement(p.children_in_range(children, parents))]
        else:
            statement, _ = self.compiler.statement(children.query)
            chunks = [
                (statement, {KEYS: parents[start : start + KEY_CHUNK]})
                for start in range(0, len(parents), KEY_CHUNK)
            ]
        rows: list[Row] = []
        with self._reading(f"`{children.query.table}` for `{'.'.join(children.path)}`"):
            for statement, parameters in chunks:
                rows += _all(self.connection.execute(statement, parameters))
        return rows

    @contextlib.contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        """A read of the source: its errors become a SourceError naming `what`."""
        try:
            yield
        except sa.exc.DBAPIError as error:
            raise _source_error(f"reading {what} failed: {self._explain(error)}") from None
        finally:
            self._last_activity = time.monotonic()


def _all(result: sa.CursorResult[Any]) -> list[Row]:
    """Every row of a result read whole (not streamed): the driver's own tuples where no
    column's type processes what the driver gives, since SQLAlchemy's `Row`s cost 1.5 to
    3 µs of CPU each (benchmarks/README.md); else SQLAlchemy's rows. The metadata's
    processors and the cursor are SQLAlchemy's internals (2.0 and 2.1 alike)."""
    if result._metadata._effective_processors is not None:
        return list(result.all())
    dbapi_error = result.context.dialect.loaded_dbapi.Error
    try:
        rows: list[Row] = list(result.cursor.fetchall())
    except dbapi_error as error:  # a value the driver cannot read: as SQLAlchemy raises it
        raise sa.exc.DBAPIError.instance(None, None, error, dbapi_error) from None
    finally:
        result.close()
    return rows
