"""Bulk insert of generated rows: batched executemany, never row by row."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from mapper.demo.generate import Row
from mapper.progress import SILENT, Progress

CHUNK_ROWS = 5000


def load(
    connection: sa.Connection,
    metadata: sa.MetaData,
    tables: Iterable[tuple[str, list[Row]]],
    progress: Progress = SILENT,
) -> dict[str, int]:
    """Insert every (table name, rows) of `metadata` in order, in chunks, a `progress` task
    per table; return the row count per table."""
    counts = {}
    for name, rows in tables:
        insert = metadata.tables[name].insert()
        progress.start(name, len(rows))
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = rows[start : start + CHUNK_ROWS]
            connection.execute(insert, chunk)
            progress.advance(name, len(chunk))
        progress.finish(name)
        counts[name] = len(rows)
    return counts
