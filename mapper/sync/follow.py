"""`sync` on PostgreSQL: load in the slot's snapshot, then follow the slot.

1. Checks (`slot.check_source`), the publication of exactly the tables the plan reads, the
   slot made with an exported snapshot, and the initial load (`run`, its workers included)
   inside that snapshot; documents the target held that the snapshot has no root for are
   deleted (the catch-up of a target `run` loaded earlier).
2. The stream from the slot's consistent point: each committed transaction's row changes
   are turned into the root keys they affect (`reach`), with their old and new values;
   transactions are coalesced into rounds (up to `batch_size` changes, or whatever arrived
   when the stream goes quiet), and each round rebuilds its documents whole in one snapshot
   that sees every transaction of the round (`rebuild`), replaces or deletes them, stores
   its position in the target (`position`), and only then confirms it to the slot.

A crash anywhere replays from the last confirmed position: a replayed change rebuilds the
same documents from the source as it is, so the result is the same (exactly-once effect).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import select
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from mapper import plan as p
from mapper.compile import KEYS, Compiler
from mapper.engine.extract import Extractor, snapshot
from mapper.engine.load.mongodb import MongoSink, id_key
from mapper.engine.rejects import RejectFile
from mapper.errors import UsageError
from mapper.ids import key_text
from mapper.sync import pgoutput, slot
from mapper.sync.position import Position, Store
from mapper.sync.reach import Reach
from mapper.sync.rebuild import Key, Rebuilder, Rebuilt

log = logging.getLogger(__name__)
REPORT_SECONDS = 5.0  # a line on how far behind, this often
QUIET_SECONDS = 0.5  # a round is applied once the stream has had nothing for this long
VISIBLE_SECONDS = 60.0  # a committed transaction must become visible to new snapshots by then


@dataclass
class Round:
    """Changes received and not yet applied: root keys by collection (direct), values to
    look roots up by (per reach), collections to rebuild whole (a truncate)."""

    keys: dict[str, dict[str, Key]] = field(default_factory=dict)
    lookups: dict[Reach, set[Any]] = field(default_factory=dict)
    whole: set[str] = field(default_factory=set)
    xids: set[int] = field(default_factory=set)
    changes: int = 0
    end: int | None = None  # the end of its last committed transaction
    committed: dt.datetime | None = None

    def __bool__(self) -> bool:
        return self.end is not None


@dataclass
class Followed:
    """What a sync did (its summary)."""

    loaded: bool = False
    rounds: int = 0
    changes: int = 0
    replaced: int = 0
    deleted: int = 0
    rejected: int = 0
    position: int = 0
    caught_up: bool = False


class Follower:
    def __init__(
        self,
        plan: p.Plan,
        engine: sa.Engine,
        compiler: Compiler,
        sink: MongoSink,
        reaches: dict[str, list[Reach]],
        tables: dict[tuple[str, str], str],
        batch_size: int,
        rejects: RejectFile,
        typed: bool = False,
    ):
        """`typed`: the keys of changes are values as the source reads them (polled), not
        the text of pgoutput's rows."""
        self.plan, self.engine, self.compiler, self.sink = plan, engine, compiler, sink
        self.reaches, self.tables, self.batch_size = reaches, tables, batch_size
        self.rejects, self.typed = rejects, typed
        self.rebuilders = {c.name: Rebuilder(c, compiler) for c in plan.collections}
        self.relations: dict[int, pgoutput.Relation] = {}
        self.summary = Followed()

    # --- receiving ----------------------------------------------------------------------

    def take(self, message: pgoutput.Message, into: Round) -> None:
        if isinstance(message, pgoutput.Relation):
            self.relations[message.id] = message
        elif isinstance(message, pgoutput.Begin):
            into.xids.add(message.xid)
        elif isinstance(message, pgoutput.Change):
            self._change(message, into)
        elif isinstance(message, pgoutput.Truncate):
            for relation_id in message.relations:
                for reach in self._reaches_of(relation_id):
                    into.whole.add(reach.collection)
            into.changes += 1
        elif isinstance(message, pgoutput.Commit):
            into.end, into.committed = message.end_lsn, message.committed

    def _reaches_of(self, relation_id: int) -> list[Reach]:
        relation = self.relations[relation_id]
        name = self.tables.get((relation.schema, relation.name))
        return self.reaches.get(name, []) if name else []

    def _change(self, change: pgoutput.Change, into: Round) -> None:
        relation = self.relations[change.relation]
        into.changes += 1
        for reach in self._reaches_of(change.relation):
            self._located(reach, _values(relation, change, reach.columns), into)

    def touched(self, table: str, rows: Iterable[Mapping[str, Any]], into: Round) -> None:
        """A change of a row of `table`, given by its values before and after (typed, as the
        source reads them; the tracked columns at least)."""
        into.changes += 1
        for reach in self.reaches.get(table, []):
            self._located(reach, [tuple(row[c] for c in reach.columns) for row in rows], into)

    def _located(self, reach: Reach, found: Iterable[Key], into: Round) -> None:
        """A changed row's old and new `values` of `reach.columns`, each set once and none
        with a NULL (no parent): a root key, or what the reach's query looks up."""
        seen: list[Key] = []
        for values in found:
            if any(v is None or v is pgoutput.UNCHANGED for v in values) or values in seen:
                continue
            seen.append(values)
            if reach.query is None:
                into.keys.setdefault(reach.collection, {})[key_text(values)] = values
            else:
                into.lookups.setdefault(reach, set()).add(values[0] if len(values) == 1 else values)

    # --- applying -----------------------------------------------------------------------

    def apply(self, done: Round) -> None:
        """Rebuild and write a round's documents, in a snapshot that sees all of it."""
        with self._seeing(done.xids) as extractor:
            self.applied(extractor, done)

    def applied(self, extractor: Extractor, done: Round) -> None:
        """Rebuild a round's documents in `extractor`'s snapshot and write them, a batch at a
        time; every document is written when this returns."""
        keys = {name: dict(found) for name, found in done.keys.items()}
        for reach, values in done.lookups.items():
            assert reach.query is not None  # a direct reach gives keys, not lookups
            rows = extractor.connection.execute(
                self.compiler.statement(reach.query)[0], {KEYS: list(values)}
            ).all()
            found = keys.setdefault(reach.collection, {})
            for row in rows:
                found[key_text(tuple(row))] = tuple(row)
        for name in sorted(keys.keys() | done.whole):
            collection = self.plan.collection(name)
            wanted: Iterable[Key] = keys.get(name, {}).values()
            if name in done.whole:  # every root the source holds now; the others are stale
                wanted = list(root_keys(extractor, collection))
                self._write(collection, Rebuilt([], self.stale(collection, wanted), []))
            listed = list(wanted)
            for start in range(0, len(listed), self.batch_size):
                batch = listed[start : start + self.batch_size]
                rebuilt = self.rebuilders[name].rebuild(extractor, batch, self.typed)
                self._write(collection, rebuilt)
        self.summary.rounds += 1
        self.summary.changes += done.changes

    def _write(self, collection: p.CollectionPlan, rebuilt: Rebuilt) -> None:
        if rebuilt.documents or rebuilt.deleted:
            self.summary.deleted += self.sink.apply(collection, rebuilt.documents, rebuilt.deleted)
        self.summary.replaced += len(rebuilt.documents)
        for key, stage, reason in rebuilt.rejected:
            self.rejects.add(collection.name, key, stage, reason)
        if rebuilt.rejected:
            self.summary.rejected += len(rebuilt.rejected)
            log.warning(
                "collection %s: %d rows could not be built; their documents are deleted "
                "(listed in %s)",
                collection.name,
                len(rebuilt.rejected),
                self.rejects.path,
            )

    def stale(self, collection: p.CollectionPlan, roots: Iterable[Key]) -> list[object]:
        """The `_id`s in the target that none of the root keys `roots` (typed, as the
        source reads them) makes."""
        made = {id_key(i) for i in self.rebuilders[collection.name].ids_of(roots)}
        return [i for i in self.sink.ids(collection) if id_key(i) not in made]

    def catch_up(self, exported: str) -> None:
        """After the initial load: delete what the target held that the snapshot `exported`
        has no root row for (documents a `run` wrote, of rows deleted since)."""
        with snapshot(self.engine, exported) as connection:
            extractor = Extractor(connection, self.compiler)
            for collection in self.plan.collections:
                stale = self.stale(collection, root_keys(extractor, collection))
                self._write(collection, Rebuilt([], stale, []))

    @contextlib.contextmanager
    def _seeing(self, xids: set[int]) -> Iterator[Extractor]:
        """A snapshot in which every transaction of `xids` is visible: one committed is
        sent by the slot a moment before new snapshots see it, so a snapshot taken in that
        moment is given up and taken again."""
        deadline = time.monotonic() + VISIBLE_SECONDS
        while True:
            with snapshot(self.engine) as connection:
                if not xids or _all_visible(connection, xids):
                    yield Extractor(connection, self.compiler)
                    return
            if time.monotonic() > deadline:
                raise UsageError(f"transactions {sorted(xids)} never became visible")
            time.sleep(0.01)


def _all_visible(connection: sa.Connection, xids: set[int]) -> bool:
    """Whether this transaction's snapshot sees the (32-bit) transaction ids `xids`."""
    hidden = connection.execute(
        sa.text(
            """
            WITH s AS (SELECT pg_current_snapshot() AS snap,
                              pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax)
            SELECT count(*) FROM s, unnest(CAST(:xids AS bigint[])) AS x
            WHERE NOT pg_visible_in_snapshot(
                (CASE WHEN ((s.xmax >> 32) << 32 | x) > s.xmax
                      THEN (((s.xmax >> 32) - 1) << 32 | x)
                      ELSE ((s.xmax >> 32) << 32 | x) END)::text::xid8, s.snap)
            """
        ),
        {"xids": sorted(xids)},
    ).scalar_one()
    return int(hidden) == 0


def _values(
    relation: pgoutput.Relation, change: pgoutput.Change, columns: tuple[str, ...]
) -> Iterator[Key]:
    """The values of `columns` in a change's old and new rows (an unchanged TOAST value
    taken from the other row)."""
    positions = [relation.columns.index(column) for column in columns]
    rows = [change.old, change.new]
    for row, other in ((rows[0], rows[1]), (rows[1], rows[0])):
        if row is not None:
            yield tuple(
                other[i] if row[i] is pgoutput.UNCHANGED and other is not None else row[i]
                for i in positions
            )


def root_keys(extractor: Extractor, collection: p.CollectionPlan) -> Iterator[Key]:
    """The keys of the root rows that pass the collection's filter."""
    query = collection.query
    keys = p.Query(
        query.table,
        query.alias,
        query.joins,
        tuple(p.ColumnRef(query.alias, column) for column in collection.source_key_columns),
        query.filter,
    )
    statement, parameters = extractor.compiler.statement(keys)
    for row in extractor.connection.execute(statement, parameters):
        yield tuple(row)


def stream(
    follower: Follower,
    replication: slot.Replication,
    store: Store,
    position: Position,
    until_caught_up: bool,
    stop_requested: Callable[[], bool],
) -> Followed:
    """Follow the slot from `position` until stopped (or caught up)."""
    cursor = replication.cursor
    summary = follower.summary
    summary.position = position.lsn
    with slot.plain(follower.engine) as connection:
        goal = slot.current_position(connection) if until_caught_up else None
    pending, open_round = Round(), Round()
    last_message = last_report = time.monotonic()
    in_transaction = False
    while not stop_requested():
        message = cursor.read_message()
        now = time.monotonic()
        if now - last_report >= REPORT_SECONDS:  # busy or quiet
            last_report = now
            _report(follower, store, position, pending)
        if message is not None:
            last_message = now
            decoded = pgoutput.decode(message.payload)
            follower.take(decoded, open_round)
            in_transaction = isinstance(decoded, pgoutput.Begin | pgoutput.Change) or (
                in_transaction and not isinstance(decoded, pgoutput.Commit)
            )
            if isinstance(decoded, pgoutput.Commit):
                _merge(open_round, pending)
                open_round = Round()
                if pending.changes >= follower.batch_size:
                    position = _applied(follower, pending, store, position, cursor)
                    pending = Round()
            continue
        if pending and now - last_message >= QUIET_SECONDS:
            position = _applied(follower, pending, store, position, cursor)
            pending = Round()
        if not pending and not in_transaction and cursor.wal_end > position.lsn:
            position = Position("streaming", cursor.wal_end, position.fingerprint)
            store.save(position)  # nothing of ours in between: the slot may move on
            cursor.send_feedback(flush_lsn=position.lsn)
        if goal is not None and not pending and not in_transaction and position.lsn >= goal:
            summary.caught_up = True
            break
        if goal is not None:
            cursor.send_feedback(reply=True)  # a keepalive with the server's position, soon
        select.select([cursor], [], [], QUIET_SECONDS)
    _report(follower, store, position, pending)  # where it stopped
    summary.position = position.lsn
    return summary


def _merge(done: Round, into: Round) -> None:
    for name, keys in done.keys.items():
        into.keys.setdefault(name, {}).update(keys)
    for reach, values in done.lookups.items():
        into.lookups.setdefault(reach, set()).update(values)
    into.whole |= done.whole
    into.xids |= done.xids
    into.changes += done.changes
    into.end, into.committed = done.end, done.committed


def _applied(
    follower: Follower, done: Round, store: Store, position: Position, cursor: Any
) -> Position:
    follower.apply(done)
    assert done.end is not None
    behind = (dt.datetime.now(dt.UTC) - done.committed).total_seconds() if done.committed else 0.0
    position = Position("streaming", max(done.end, position.lsn), position.fingerprint, 0, behind)
    store.save(position)  # after the target acknowledged the round's documents
    cursor.send_feedback(flush_lsn=position.lsn)
    follower.summary.position = position.lsn
    return position


def _report(follower: Follower, store: Store, position: Position, pending: Round) -> None:
    with slot.plain(follower.engine) as connection:
        behind = max(0, slot.current_position(connection) - position.lsn)
    seconds = (
        (dt.datetime.now(dt.UTC) - pending.committed).total_seconds() if pending.committed else 0.0
    )
    store.save(Position("streaming", position.lsn, position.fingerprint, behind, seconds))
    log.info(
        "sync: at %s, %d bytes (%.1f s) behind the source; %d changes in %d rounds applied",
        pgoutput.lsn_text(position.lsn),
        behind,
        seconds,
        follower.summary.changes,
        follower.summary.rounds,
    )
