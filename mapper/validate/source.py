"""Plain reads of the source for the rebuild: one table at a time, rows as dicts.

Tables are reflected by SQLAlchemy itself (not the compiler's typed tables), money is cast to
numeric, and every read goes through the validation's snapshot connection. A batch's lookups
(`rows where these columns hold these values`) are cached until `clear`, so a table reached
by several fields is read once per batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa

from mapper.catalog import Catalog

Row = dict[str, Any]
CHUNK = 500  # values per `IN (...)`


class Source:
    def __init__(self, connection: sa.Connection, catalog: Catalog):
        self.connection, self.catalog = connection, catalog
        self.metadata = sa.MetaData()
        self._tables: dict[str, sa.Table] = {}
        self._cache: dict[tuple[str, tuple[str, ...]], dict[tuple, list[Row]]] = {}

    def table(self, name: str) -> sa.Table:
        if name not in self._tables:
            info = self.catalog.tables[name]
            self._tables[name] = sa.Table(info.table_name, self.metadata, schema=info.schema,
                                          autoload_with=self.connection)
        return self._tables[name]

    def _select(self, name: str) -> sa.Select:
        table, info = self.table(name), self.catalog.tables[name]
        columns = [sa.cast(table.c[c.name], sa.Numeric(asdecimal=True)).label(c.name)
                   if c.kind == "money" else table.c[c.name] for c in info.columns]
        return sa.select(*columns)

    def scan(self, name: str, order: tuple[str, ...], size: int) -> Iterator[list[Row]]:
        """Every row of a table in batches of `size`, from a server-side cursor."""
        table = self.table(name)
        statement = self._select(name).order_by(*(table.c[c] for c in order))
        result = self.connection.execute(statement, execution_options={
            "stream_results": True, "yield_per": size})
        for partition in result.partitions(size):
            yield [dict(row._mapping) for row in partition]

    def rows(self, name: str, columns: tuple[str, ...], keys: Iterable[tuple]
             ) -> dict[tuple, list[Row]]:
        """The rows of `name` whose `columns` hold each key (NULLs match nothing), by key."""
        cache = self._cache.setdefault((name, columns), {})
        wanted = list({key for key in keys if None not in key and key not in cache})
        table = self.table(name)
        found: dict[tuple, list[Row]] = defaultdict(list)
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start:start + CHUNK]
            if len(columns) == 1:
                condition = table.c[columns[0]].in_([key[0] for key in chunk])
            else:
                condition = sa.tuple_(*(table.c[c] for c in columns)).in_(chunk)
            for row in self.connection.execute(self._select(name).where(condition)):
                values = dict(row._mapping)
                found[tuple(values[c] for c in columns)].append(values)
        for key in wanted:
            cache[key] = found.get(key, [])
        return cache

    def clear(self) -> None:
        """Forget the cached lookups (at the end of a batch: memory stays bounded)."""
        self._cache.clear()
