"""Bulk insert of generated rows: batched executemany, never row by row."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from mapper.demo.generate import Row

CHUNK_ROWS = 5000


def load(
    connection: sa.Connection, metadata: sa.MetaData, tables: Iterable[tuple[str, list[Row]]]
) -> dict[str, int]:
    """Insert every (table name, rows) of `metadata` in order, in chunks; return the row count
    per table."""
    counts = {}
    for name, rows in tables:
        insert = metadata.tables[name].insert()
        for start in range(0, len(rows), CHUNK_ROWS):
            connection.execute(insert, rows[start : start + CHUNK_ROWS])
        counts[name] = len(rows)
    return counts
