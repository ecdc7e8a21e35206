"""`sync --poll`: follow a source without logical replication (SQLite, MySQL/MariaDB, or a
PostgreSQL where no slot can be made) by reading its tables again, cycle after cycle.

Each cycle reads, in one snapshot, every row of every table the plan reads: its key, the
columns that locate its parents or join it to other rows (its *tracked* columns) and its
*version*: the watermark column the user named for the table (e.g. `updated_at`), or else a
digest of the whole row. Against the previous cycle, a key that appeared, vanished, or
whose tracked columns or version changed is a changed row; its old and new values reach
their root documents as a streamed change does (`reach`), and those are rebuilt in the same
snapshot (`Follower.applied`). The first cycle, with nothing to compare against, rebuilds
every document and deletes those with no root row (the catch-up rule), so a restart is safe.

Weaker than the stream, and documented so: a watermark must change with every update of
its table (an update that leaves it and the tracked columns alone is not seen), a row
changed and changed back between two cycles is not seen (a digest compares states, not
events), and each cycle reads every table whole.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mapper import plan as p
from mapper.catalog import Catalog
from mapper.engine.extract import Extractor, snapshot
from mapper.errors import UsageError
from mapper.sync.follow import Followed, Follower, Round
from mapper.sync.reach import ROOT, Reach
from mapper.sync.rebuild import Key

log = logging.getLogger(__name__)
Seen = dict[Key, tuple[Key, Any]]  # a row's key → its tracked values and its version


@dataclass(frozen=True)
class Watch:
    """How one table's rows are compared between cycles."""

    table: str
    key: tuple[str, ...]  # its primary key; () when it has none (rows compared whole)
    tracked: tuple[str, ...]
    watermark: str | None  # None: a digest of every column


def watches(
    catalog: Catalog, reaches: Mapping[str, list[Reach]], watermarks: Iterable[str]
) -> list[Watch]:
    """A watch for every table the plan reads; `watermarks` are `COLUMN` (every table that
    has it) or `TABLE.COLUMN`."""
    tracked = _tracked(reaches)
    named: dict[str, str] = {}
    anywhere: list[str] = []
    for watermark in watermarks:
        table, _, column = watermark.rpartition(".")
        if not table:
            anywhere.append(column)
        elif table not in reaches:
            raise UsageError(
                f"--watermark {watermark}: `{table}` is not a table the mappings read",
                setting="--watermark",
            )
        elif column not in {c.name for c in catalog.tables[table].columns}:
            raise UsageError(
                f"--watermark {watermark}: `{table}` has no column `{column}`",
                setting="--watermark",
                table=table,
            )
        else:
            named[table] = column
    found: list[Watch] = []
    for table in sorted(reaches):
        info = catalog.tables[table]
        columns = {c.name for c in info.columns}
        chosen = named.get(table, next((c for c in anywhere if c in columns), None))
        found.append(Watch(table, info.primary_key, tuple(sorted(tracked[table])), chosen))
    for column in anywhere:
        if not any(w.watermark == column for w in found):
            raise UsageError(
                f"--watermark {column}: no table the mappings read has a column `{column}`",
                setting="--watermark",
            )
    return found


def _tracked(reaches: Mapping[str, list[Reach]]) -> dict[str, set[str]]:
    """Per table, the columns whose change moves a row between parents or joins: those of
    its reaches, and those its reaches' queries join and match on."""
    tracked: dict[str, set[str]] = {table: set() for table in reaches}
    for table, found in reaches.items():
        for reach in found:
            tracked[table].update(reach.columns)
            if reach.query is None:
                continue
            query = reach.query
            tables = {ROOT: query.table, **{hop.alias: hop.table for hop in query.joins}}
            for hop in query.joins:
                tracked.setdefault(tables[hop.left_alias], set()).update(c for c, _ in hop.on)
                tracked.setdefault(hop.table, set()).update(c for _, c in hop.on)
            for ref in query.link:
                if isinstance(ref, p.ColumnRef):
                    tracked.setdefault(tables[ref.alias], set()).add(ref.column)
    return tracked


def read(connection: sa.Connection, table: sa.Table, watch: Watch) -> Seen:
    """A table's rows as a cycle compares them."""
    tracked = [table.c[column] for column in watch.tracked]
    key = [table.c[column] for column in watch.key]
    if watch.watermark is not None and key:
        rows = connection.execute(sa.select(*key, *tracked, table.c[watch.watermark]))
        width = len(key) + len(tracked)
        return {tuple(row[: len(key)]): (tuple(row[len(key) : width]), row[width]) for row in rows}
    seen: Seen = {}
    repeated: collections.Counter[str] = collections.Counter()
    positions = [list(table.c.keys()).index(column) for column in watch.tracked]
    keys = [list(table.c.keys()).index(column) for column in watch.key]
    for row in connection.execute(sa.select(table)):
        whole = repr(tuple(row))
        values = tuple(row[i] for i in positions)
        if keys:
            seen[tuple(row[i] for i in keys)] = (values, hash(whole))
        else:  # no key: a row is its values, and two equal rows are two
            repeated[whole] += 1
            seen[(whole, repeated[whole])] = (values, 0)
    return seen


def changed(follower: Follower, watch: Watch, before: Seen, after: Seen, into: Round) -> None:
    """The rows of one table that differ between two cycles, as changes of `into`."""
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        rows = [dict(zip(watch.tracked, found[0], strict=True)) for found in (old, new) if found]
        follower.touched(watch.table, rows, into)


def poll(
    follower: Follower,
    watched: list[Watch],
    interval: float,
    until_caught_up: bool,
    stop_requested: Callable[[], bool],
) -> Followed:
    """Cycle until stopped; with `until_caught_up`, one cycle (the first rebuilds every
    document: the target then equals the source as it was when that cycle began)."""
    summary = follower.summary
    previous: dict[str, Seen] | None = None
    while not stop_requested():
        started = time.monotonic()
        with snapshot(follower.engine) as connection:
            seen = {w.table: read(connection, follower.compiler.table(w.table), w) for w in watched}
            done = Round()
            if previous is None:
                done.whole = {c.name for c in follower.plan.collections}
            else:
                for watch in watched:
                    changed(follower, watch, previous[watch.table], seen[watch.table], done)
            if done.whole or done.changes:
                follower.applied(Extractor(connection, follower.compiler), done)
        previous = seen
        log.info(
            "sync: cycle of %.1f s; %d changes in %d cycles applied",
            time.monotonic() - started,
            summary.changes,
            summary.rounds,
        )
        if until_caught_up:
            summary.caught_up = True
            break
        deadline = time.monotonic() + interval
        while time.monotonic() < deadline and not stop_requested():
            time.sleep(min(0.2, interval))
    return summary
