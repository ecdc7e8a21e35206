"""The numbers behind `mapper init`'s proposal, read cheaply from the source: rows per table,
bytes per column, children per parent for each foreign key, NULL shares, the depth of
self-references; PostgreSQL's big tables from the catalog's estimates and a block sample.

Every query runs under what is left of a time budget (PostgreSQL's `statement_timeout`); a
query that does not finish leaves its number unknown, and `Statistics.notes` says so.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from mapper.catalog import Catalog, ForeignKey, Table
from mapper.progress import SILENT, Progress

log = logging.getLogger(__name__)

STATISTICS = "statistics"  # the progress task of `statistics`
SAMPLE_ABOVE = 1_000_000  # rows (PostgreSQL's estimate) above which a table is sampled
SAMPLE_ROWS = 100_000  # about how many rows a sample reads
MAX_CHAIN = 10  # self-references are followed this many levels at most
# BSON bytes of a value by column kind; the kinds not here are measured
FIXED_BYTES = {
    "bool": 1,
    "int32": 4,
    "int64": 8,
    "double": 8,
    "decimal": 16,
    "money": 16,
    "datetime": 8,
    "date": 8,
    "interval": 8,
    "uuid": 21,
}


@dataclass(frozen=True)
class TableStats:
    """Rows of a table (`estimated`: PostgreSQL's planner estimate, not a count), the
    average BSON bytes of each column's value (NULL as 0), and the share of rows whose
    foreign key (by its first column) is NULL. `sample`: the percentage of the table's
    blocks that the per-column numbers come from (None: all rows)."""

    name: str
    rows: int
    estimated: bool = False
    column_bytes: Mapping[str, float] = field(default_factory=dict)
    null_shares: Mapping[str, float] = field(default_factory=dict)
    sample: float | None = None

    def bytes_of(self, columns: Iterable[str]) -> int:
        """About how many BSON bytes these columns take in a document (names included)."""
        return round(sum(len(c) + 2 + self.column_bytes.get(c, 8.0) for c in columns))


@dataclass(frozen=True)
class Fanout:
    """Children per parent along a foreign key, among parents that have any: the most,
    the mean and the 99th percentile; `sample`: the percentage of the child table read
    (the counts scaled up from it), None when exact."""

    child: str
    columns: tuple[str, ...]
    parent: str
    parents: int
    maximum: int
    mean: float
    p99: int
    sample: float | None = None

    @property
    def described(self) -> str:
        how = f", estimated from a {self.sample:g}% sample" if self.sample else ""
        return f"max {self.maximum:,}, p99 {self.p99:,}, mean {self.mean:.1f}{how}"


@dataclass(frozen=True)
class Statistics:
    """What `propose` decides with; a number missing from a mapping was not measured."""

    dialect: str
    tables: Mapping[str, TableStats]
    fanouts: Mapping[tuple[str, tuple[str, ...]], Fanout]
    depths: Mapping[tuple[str, tuple[str, ...]], int | None]  # None: deeper than MAX_CHAIN
    notes: tuple[str, ...] = ()

    def fanout(self, table: str, foreign_key: ForeignKey) -> Fanout | None:
        return self.fanouts.get((table, foreign_key.columns))

    def rows(self, table: str) -> int:
        found = self.tables.get(table)
        return found.rows if found else 0


class _Budget:
    """What is left of the time budget, and the notes of what it cut short."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds
        self.notes: list[str] = []

    def run(self, engine: sa.Engine, statement: sa.Executable, what: str) -> list[Any] | None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.notes.append(f"{what}: not measured (time budget spent)")
            return None
        try:
            with engine.connect() as connection, connection.begin():
                if engine.dialect.name == "postgresql":
                    connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(left * 1000)}")
                return list(connection.execute(statement))
        except sa.exc.OperationalError as error:
            log.debug("%s: %s", what, error)
            self.notes.append(f"{what}: not measured (the query took too long)")
            return None


def statistics(
    engine: sa.Engine,
    catalog: Catalog,
    budget_seconds: float = 60.0,
    progress: Progress = SILENT,
) -> Statistics:
    """The numbers of every table of `catalog` (and every foreign key, also the inferred
    ones it holds), within about `budget_seconds`; `progress` counts tables and foreign keys
    as the task `STATISTICS`."""
    budget = _Budget(budget_seconds)
    postgres = engine.dialect.name == "postgresql"
    estimates = _estimates(engine, budget) if postgres else {}
    joins = [
        (table, foreign_key)
        for table in catalog.tables.values()
        for foreign_key in table.foreign_keys
        if foreign_key.referred_table in catalog.tables
    ]
    progress.start(STATISTICS, len(catalog.tables) + len(joins))
    tables = {}
    for table in catalog.tables.values():
        tables[table.name] = _table_stats(engine, table, estimates.get(table.name), budget)
        progress.advance(STATISTICS, 1)
    fanouts: dict[tuple[str, tuple[str, ...]], Fanout] = {}
    depths: dict[tuple[str, tuple[str, ...]], int | None] = {}
    for table, foreign_key in joins:
        found = _fanout(engine, table, foreign_key, tables[table.name], budget)
        if found is not None:
            fanouts[(table.name, foreign_key.columns)] = found
        if foreign_key.referred_table == table.name:
            depths[(table.name, foreign_key.columns)] = _depth(engine, table, foreign_key, budget)
        progress.advance(STATISTICS, 1)
    progress.finish(STATISTICS)
    notes = list(budget.notes)
    if any(stats.estimated for stats in tables.values()):
        notes.append("row counts of big tables are PostgreSQL's estimates (pg_class.reltuples)")
    if any(stats.sample for stats in tables.values()):
        notes.append("big tables' widths and fan-outs are estimated from a TABLESAMPLE SYSTEM")
    return Statistics(
        engine.dialect.name,
        tables,
        fanouts,
        depths,
        tuple(notes),
    )


def _table(table: Table) -> sa.TableClause:
    return sa.table(
        table.table_name, *(sa.column(c) for c in table.column_names), schema=table.schema
    )


def _qualified(schema: str | None, name: str) -> str:
    return name if schema in (None, "public") else f"{schema}.{name}"


def _estimates(engine: sa.Engine, budget: _Budget) -> dict[str, int]:
    """PostgreSQL's planner estimate of each table's rows (-1: never analyzed)."""
    rows = budget.run(
        engine,
        sa.text(
            "SELECT n.nspname, c.relname, c.reltuples FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')"
        ),
        "row estimates",
    )
    return {_qualified(schema, name): int(tuples) for schema, name, tuples in rows or ()}


def _sample_percent(rows: int | None) -> float | None:
    if rows is None or rows <= SAMPLE_ABOVE:
        return None
    return min(100.0, max(0.01, round(100 * SAMPLE_ROWS / rows, 2)))


def _source(engine: sa.Engine, table: Table, percent: float | None) -> sa.FromClause:
    clause = _table(table)
    return clause if percent is None else sa.tablesample(clause, percent)


def _table_stats(
    engine: sa.Engine, table: Table, estimate: int | None, budget: _Budget
) -> TableStats:
    """One query per table: its rows, each measured column's bytes and FK NULL counts."""
    percent = _sample_percent(estimate)
    source = _source(engine, table, percent)
    measured = [c for c in table.columns if c.kind not in FIXED_BYTES]
    size = sa.func.pg_column_size if engine.dialect.name == "postgresql" else sa.func.length
    nullable = [fk.columns[0] for fk in table.foreign_keys]
    selects = [
        sa.func.count(),
        *(sa.func.avg(sa.func.coalesce(size(source.c[c.name]), 0)) for c in measured),
        *(sa.func.count(source.c[name]) for name in nullable),
    ]
    rows = budget.run(engine, sa.select(*selects).select_from(source), f"`{table.name}`")
    if not rows:
        return TableStats(table.name, max(estimate or 0, 0), estimated=estimate is not None)
    count, *values = rows[0]
    averages, present = values[: len(measured)], values[len(measured) :]
    column_bytes = {
        c.name: float(FIXED_BYTES[c.kind]) for c in table.columns if c.kind in FIXED_BYTES
    }
    column_bytes |= {c.name: float(a or 0) + 5 for c, a in zip(measured, averages, strict=True)}
    shares = {
        name: (1 - n / count if count else 0.0) for name, n in zip(nullable, present, strict=True)
    }
    if percent is not None:
        return TableStats(table.name, estimate or 0, True, column_bytes, shares, percent)
    return TableStats(table.name, count, False, column_bytes, shares)


def _fanout(
    engine: sa.Engine, table: Table, foreign_key: ForeignKey, stats: TableStats, budget: _Budget
) -> Fanout | None:
    """Children per parent: one GROUP BY; the percentile in SQL on PostgreSQL, from the
    grouped counts elsewhere."""
    source = _source(engine, table, stats.sample)
    keys = [source.c[c] for c in foreign_key.columns]
    grouped = (
        sa.select(sa.func.count().label("n"))
        .select_from(source)
        .where(*(key.is_not(None) for key in keys))
        .group_by(*keys)
        .subquery()
    )
    what = f"fan-out of `{table.name}` ({', '.join(foreign_key.columns)})"
    scale = 100 / stats.sample if stats.sample else 1.0
    if engine.dialect.name == "postgresql":
        statement = sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.max(grouped.c.n), 0),
            sa.func.coalesce(sa.func.avg(grouped.c.n), 0),
            sa.func.coalesce(sa.func.percentile_disc(0.99).within_group(grouped.c.n), 0),
        )
        rows = budget.run(engine, statement, what)
        if rows is None:
            return None
        parents, largest, mean, p99 = rows[0]
    else:
        rows = budget.run(engine, sa.select(grouped.c.n).order_by(grouped.c.n), what)
        if rows is None:
            return None
        counts = [row[0] for row in rows]
        parents, largest = len(counts), (counts[-1] if counts else 0)
        mean = sum(counts) / parents if parents else 0.0
        p99 = counts[max(math.ceil(0.99 * parents) - 1, 0)] if counts else 0
    return Fanout(
        table.name,
        foreign_key.columns,
        foreign_key.referred_table,
        int(parents),
        math.ceil(largest * scale),
        float(mean) * scale,
        math.ceil(p99 * scale),
        stats.sample,
    )


def _depth(engine: sa.Engine, table: Table, foreign_key: ForeignKey, budget: _Budget) -> int | None:
    """The most ancestors a row has along a self-reference (one column), or None when a
    chain is longer than MAX_CHAIN (or loops)."""
    if len(foreign_key.columns) != 1:
        return None
    rows_table = _table(table)
    child, parent = rows_table.c[foreign_key.columns[0]], foreign_key.referred_columns[0]
    start = (
        sa.select(child.label("up"), sa.literal(1).label("depth"))
        .where(child.is_not(None))
        .cte("chain", recursive=True)
    )
    above = rows_table.alias("above")
    chain = start.union_all(
        sa.select(above.c[foreign_key.columns[0]], start.c.depth + 1)
        .select_from(above.join(start, above.c[parent] == start.c.up))
        .where(above.c[foreign_key.columns[0]].is_not(None), start.c.depth <= MAX_CHAIN)
    )
    rows = budget.run(
        engine,
        sa.select(sa.func.coalesce(sa.func.max(chain.c.depth), 0)),
        f"depth of `{table.name}` ({foreign_key.columns[0]})",
    )
    if rows is None:
        return None
    depth = int(rows[0][0])
    return None if depth > MAX_CHAIN else depth
