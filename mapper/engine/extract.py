"""Stream rows from the source inside one consistent, read-only snapshot."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import sqlalchemy as sa

from mapper import plan as p
from mapper.compile import KEYS, Compiler
from mapper.errors import SourceError

log = logging.getLogger(__name__)
KEY_CHUNK = 10_000


@contextlib.contextmanager
def snapshot(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection whose reads all see one snapshot and can write nothing.

    PostgreSQL: one REPEATABLE READ READ ONLY transaction. SQLite: one read transaction.
    """
    options: dict = {}
    if engine.dialect.name == "postgresql":
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(**options)
            with connection.begin():
                if engine.dialect.name == "sqlite":
                    connection.exec_driver_sql("SELECT 1 FROM sqlite_master LIMIT 1")
                yield connection
    except sa.exc.OperationalError as error:
        raise SourceError(f"source failed: {_describe(error)}") from None


def _describe(error: sa.exc.DBAPIError) -> str:
    """The driver's message, first line only (it may quote SQL, never parameters)."""
    return str(getattr(error, "orig", error)).strip().splitlines()[0]


class Extractor:
    """Runs a plan's statements on one snapshot connection."""

    def __init__(self, connection: sa.Connection, compiler: Compiler):
        self.connection = connection
        self.compiler = compiler
        self._statements: dict[p.Query, sa.Select] = {}

    def statement(self, query: p.Query) -> sa.Select:
        if query not in self._statements:
            self._statements[query] = self.compiler.select(query)
        return self._statements[query]

    def largest_group(self, children: p.Children) -> tuple[tuple, int] | None:
        """The parent key with the most elements in an array, and how many."""
        row = self.connection.execute(self.compiler.largest_group(children)).first()
        return (tuple(row[:-1]), row[-1]) if row else None

    def count(self, table: str) -> int:
        return self.connection.execute(self.compiler.count(table)).scalar_one()

    def batches(self, query: p.Query, size: int, table: str) -> Iterator[list[sa.Row]]:
        """The root rows in batches, from a server-side cursor (memory bounded by `size`)."""
        try:
            result = self.connection.execution_options(stream_results=True,
                                                       yield_per=size).execute(
                self.statement(query))
            for partition in result.partitions(size):
                yield list(partition)
        except sa.exc.DBAPIError as error:
            raise SourceError(f"reading `{table}` failed: {_describe(error)}") from None

    def children(self, children: p.Children, keys: list[tuple]) -> list[sa.Row]:
        """Child rows of the given parent keys: one statement per chunk of keys."""
        statement = self.statement(children.query)
        single = len(children.query.link) == 1
        rows: list[sa.Row] = []
        try:
            for start in range(0, len(keys), KEY_CHUNK):
                chunk = keys[start:start + KEY_CHUNK]
                values = [key[0] for key in chunk] if single else chunk
                rows.extend(self.connection.execute(statement, {KEYS: values}))
        except sa.exc.DBAPIError as error:
            raise SourceError(f"reading `{children.query.table}` for "
                              f"`{'.'.join(children.path)}` failed: {_describe(error)}") from None
        return rows
