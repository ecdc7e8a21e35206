"""Plain reads of the source for the rebuild: one table at a time, rows as dicts.

Tables are reflected by SQLAlchemy itself (not the compiler's typed tables), money is cast to
numeric, and every read goes through the validation's snapshot connection. Values are read by
their reflected type's own processing; but for psycopg2 (whose snapshot typecasters read what
Python cannot hold as markers) a value it cannot read (SQLite keeps any value in any column)
becomes the marker the conversions reject (`types.unrepresentable`), and numerics without a
scale and columns of no known kind are read as stored. A batch's lookups
(`rows where these columns hold these values`) are cached until `clear`, so a table reached
by several fields is read once per batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import sqlalchemy as sa

from mapper.catalog import MYSQL, Catalog, mysql_loaded, unknown_types_quiet
from mapper.compile import Statement
from mapper.types import unrepresentable

Row = dict[str, Any]
Key = tuple[Any, ...]  # the values of a lookup's columns
Reader = Callable[[Any], Any]  # a column's processing of the values the driver gives
CHUNK = 500  # values per `IN (...)`


class Source:
    def __init__(self, connection: sa.Connection, catalog: Catalog):
        self.connection, self.catalog = connection, catalog
        self.metadata = sa.MetaData()
        self._tables: dict[str, sa.Table] = {}
        self._readers: dict[str, dict[str, Reader | None]] = {}
        self._raw = connection.dialect.driver != "psycopg2"  # values processed by `_read`
        # by (table, columns, only): the rows of each key looked up
        self._cache: dict[
            tuple[str, tuple[str, ...], tuple[str, ...] | None], dict[Key, list[Row]]
        ] = {}

    def table(self, name: str) -> sa.Table:
        if name not in self._tables:
            info = self.catalog.tables[name]
            with unknown_types_quiet():
                self._tables[name] = sa.Table(
                    info.table_name,
                    self.metadata,
                    schema=info.schema,
                    autoload_with=self.connection,
                )
        return self._tables[name]

    def _select(self, name: str, only: tuple[str, ...] | None = None) -> Statement:
        """The columns (all, or `only`), as the driver gives them for `_read` to process
        (unless psycopg2)."""
        table, info = self.table(name), self.catalog.tables[name]
        chosen = [c for c in info.columns if only is None or c.name in only]
        columns = [
            sa.cast(table.c[c.name], sa.Numeric(asdecimal=True)).label(c.name)
            if c.kind == "money"
            else table.c[c.name]
            for c in chosen
        ]
        if not self._raw:
            return sa.select(*columns)
        return sa.select(
            *(
                sa.type_coerce(expression, sa.types.NullType()).label(column.name)
                for expression, column in zip(columns, chosen, strict=True)
            )
        )

    def _read(self, name: str, row: sa.Row[*tuple[Any, ...]]) -> Row:
        if not self._raw:
            return dict(row._mapping)
        if name not in self._readers:
            table, dialect = self.table(name), self.connection.dialect
            readers: dict[str, Reader | None] = {}
            for column in self.catalog.tables[name].columns:
                process: Reader | None = None
                if column.kind not in ("other", "money") and not (
                    column.kind == "decimal" and column.scale is None
                ):
                    process = (
                        _reflected_type(table.c[column.name].type, column.kind)
                        .dialect_impl(dialect)
                        .result_processor(dialect, None)
                    )
                readers[column.name] = process and _guarded(process, column.kind)
            self._readers[name] = readers
        readers = self._readers[name]
        return {
            column: value if value is None or (read := readers[column]) is None else read(value)
            for column, value in row._mapping.items()
        }

    def scan(self, name: str, order: tuple[str, ...], size: int) -> Iterator[list[Row]]:
        """Every row of a table in batches of `size`, from a server-side cursor; from MySQL,
        in pages (as `Extractor.batches`: its lookups use this connection in between)."""
        table = self.table(name)
        statement = self._select(name).order_by(*(table.c[c] for c in order))
        if self.connection.dialect.name in MYSQL:
            yield from self._pages(name, statement, order, size)
            return
        result = self.connection.execute(
            statement, execution_options={"stream_results": True, "yield_per": size}
        )
        for partition in result.partitions(size):
            yield [self._read(name, row) for row in partition]

    def _pages(
        self, name: str, statement: Statement, order: tuple[str, ...], size: int
    ) -> Iterator[list[Row]]:
        """The rows of `statement` (ordered by the unique `order`), `size` at a time, each
        page read to its end from an unbuffered cursor before the next is asked for."""
        key = sa.tuple_(*(self.table(name).c[column] for column in order))
        page = statement
        while True:
            rows = self.connection.execute(
                page.limit(size), execution_options={"stream_results": True}
            ).all()
            if rows:
                yield [self._read(name, row) for row in rows]
            if len(rows) < size:
                return
            last = [sa.bindparam(None, rows[-1]._mapping[c], sa.types.NullType()) for c in order]
            page = statement.where(key > sa.tuple_(*last))

    def rows(
        self,
        name: str,
        columns: tuple[str, ...],
        keys: Iterable[Key],
        only: tuple[str, ...] | None = None,
    ) -> dict[Key, list[Row]]:
        """The rows of `name` whose `columns` hold each key (NULLs match nothing), by key;
        with `only`, just those columns (and `columns`)."""
        only = None if only is None else tuple(dict.fromkeys((*columns, *only)))
        cache = self._cache.setdefault((name, columns, only), {})
        wanted = list({key for key in keys if None not in key and key not in cache})
        table = self.table(name)
        found: dict[Key, list[Row]] = defaultdict(list)
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            if len(columns) == 1:
                condition = table.c[columns[0]].in_([key[0] for key in chunk])
            else:
                condition = sa.tuple_(*(table.c[c] for c in columns)).in_(chunk)
            for row in self.connection.execute(self._select(name, only).where(condition)):
                values = self._read(name, row)
                found[tuple(values[c] for c in columns)].append(values)
        for key in wanted:
            cache[key] = found.get(key, [])
        return cache

    def clear(self) -> None:
        """Forget the cached lookups (at the end of a batch: memory stays bounded)."""
        self._cache.clear()


_MARKER_KINDS = {"datetime": "timestamp"}


def _reflected_type(sql_type: sa.types.TypeEngine[Any], kind: str) -> sa.types.TypeEngine[Any]:
    """The type that reads a column's values: as reflected, but JSON for a column that the
    catalog knows holds JSON (MariaDB's JSON, which SQLAlchemy reflects as LONGTEXT), and
    MySQL's TIME as the run reads it (`mysql_types.TimeOfDay`)."""
    if kind == "json" and not isinstance(sql_type, sa.JSON):
        return sa.JSON()
    if not mysql_loaded():
        return sql_type
    from mapper import mysql_types

    return mysql_types.reading_type(sql_type)


def _guarded(process: Reader, kind: str) -> Reader:
    def read(value: Any) -> Any:
        try:
            return process(value)
        except (ValueError, TypeError, ArithmeticError):
            return unrepresentable(_MARKER_KINDS.get(kind, kind), str(value))

    return read
