"""`mapper sync`: keep a MongoDB target equal to a live PostgreSQL source until cut-over.

`follow` is the loop; `reach` finds the root documents a changed row is part of; `rebuild`
makes them again with the run's builder; `slot` owns the publication and the replication
slot; `position` keeps where the target is; `pgoutput` reads the stream.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mapper.config import redact
from mapper.errors import UsageError
from mapper.sync.pgoutput import lsn_text

__all__ = ["SyncOptions", "lsn_text", "slot_name", "status", "stop", "sync"]

if TYPE_CHECKING:
    from mapper.api import Prepared
    from mapper.sync.follow import Followed, Follower
    from mapper.sync.slot import SlotStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncOptions:
    slot: str | None = None  # default: `mapper_` and a digest of the target and collections
    until_caught_up: bool = False
    batch_size: int = 1000
    workers: int | str = "auto"  # of the initial load
    poll: bool = False  # read the tables again each cycle instead of a replication slot
    interval: float = 5.0  # seconds between the cycles of a poll
    watermarks: tuple[str, ...] = ()  # of a poll: `COLUMN` or `TABLE.COLUMN`


def slot_name(prepared: Prepared, target: str) -> str:
    """The slot (and publication) a sync of these collections into `target` uses."""
    names = ",".join(sorted(c.name for c in prepared.plan.collections))
    digest = hashlib.sha256(f"{redact(target)}\n{names}".encode()).hexdigest()[:12]
    return f"mapper_{digest}"


def _target(target: str) -> None:
    if not target.startswith("mongodb"):
        raise UsageError(
            "sync needs a mongodb:// target: it replaces and deletes documents one by one",
            setting="--target",
        )


def sync(
    prepared: Prepared,
    target: str,
    options: SyncOptions = SyncOptions(),
    stop_requested: Callable[[], bool] = lambda: False,
) -> Followed:
    """Load the target in a replication slot's snapshot (unless a sync into it already
    did), then follow the slot until `stop_requested` (or, with `until_caught_up`, until
    the target holds every change the source had committed when it began streaming).
    With `options.poll`, cycle over the source's tables instead (`poll`)."""
    from mapper.compile import Compiler
    from mapper.engine.load.mongodb import MongoSink
    from mapper.engine.rejects import RejectFile
    from mapper.sync import follow, poll, reach

    _target(target)
    engine, plan, catalog = prepared.engine, prepared.plan, prepared.catalog
    if engine.dialect.name != "postgresql" and not options.poll:
        raise UsageError(
            f"sync follows PostgreSQL's logical replication; this source is "
            f"{engine.dialect.name} (use --poll)",
            setting="--poll",
        )
    name = options.slot or slot_name(prepared, target)
    by_table = reach.tables(plan)
    sink = MongoSink(target)
    rejects = RejectFile(Path(f"mapper-{name}-rejects.jsonl"))  # after the load's
    follower = follow.Follower(
        plan,
        engine,
        Compiler(catalog),
        sink,
        by_table,
        {(catalog.tables[t].schema or "public", catalog.tables[t].table_name): t for t in by_table},
        options.batch_size,
        rejects,
        typed=options.poll,
    )
    try:
        if options.poll:
            watched = poll.watches(catalog, by_table, options.watermarks)
            sink.preflight(list(plan.collections))
            follower.summary.loaded = True  # its first cycle
            return poll.poll(
                follower, watched, options.interval, options.until_caught_up, stop_requested
            )
        return _stream(prepared, target, options, name, follower, stop_requested)
    finally:
        rejects.close()
        sink.close()


def _stream(
    prepared: Prepared,
    target: str,
    options: SyncOptions,
    name: str,
    follower: Follower,
    stop_requested: Callable[[], bool],
) -> Followed:
    """Load the target in the slot's snapshot (unless a sync did), then follow the slot."""
    from mapper import api
    from mapper.engine.state import fingerprint
    from mapper.sync import follow, slot
    from mapper.sync.position import Position, Store

    plan, catalog, sink = prepared.plan, prepared.catalog, follower.sink
    for table in follower.reaches:
        if catalog.tables[table].kind != "table":
            raise UsageError(
                f"sync cannot follow `{table}`, a {catalog.tables[table].kind}: changes are "
                "published for tables only (map its tables, or use --poll)",
                table=table,
            )
    needs = [
        slot.Needs(
            table,
            slot.qualified(catalog, table),
            frozenset(c for r in reaches for c in r.columns),
        )
        for table, reaches in sorted(follower.reaches.items())
    ]
    database = sink.database_name or plan.collections[0].database
    if database is None:
        raise UsageError("no target database: put it in the URL path", setting="--target")
    store = Store(sink, database, name)
    print_ = fingerprint(plan, redact(target))
    replication = None
    try:
        sink.preflight(list(plan.collections))  # before anything is made on the source
        with slot.plain(prepared.engine) as connection:
            slot.check_source(connection, needs)
        position = store.load()
        if position is not None and position.fingerprint != print_:
            raise UsageError(
                f"the mappings changed since sync `{name}` began: `mapper sync --stop` ends "
                "it, then sync again (the target is loaded again, writing what differs)",
                setting="--slot",
            )
        with slot.plain(prepared.engine) as connection:
            exists = any(s.name == name for s in slot.slots(connection))
        if position is not None and position.phase == "streaming" and not exists:
            log.warning("sync `%s`: its slot is gone; loading the target again", name)
            position = None
        replication = slot.Replication(prepared.engine)
        if position is None or position.phase == "loading":
            with slot.plain(prepared.engine) as connection:
                slot.drop_slot(connection, name)
                slot.publish(connection, name, [n.qualified for n in needs])
            start, exported = replication.create_slot(name)
            store.save(Position("loading", start, print_))
            summary = api.migrate(
                prepared,
                target,
                api.MigrateOptions(
                    batch_size=options.batch_size,
                    workers=options.workers,  # type: ignore[arg-type]
                    state=Path(f".mapper-{name}.json"),  # not a run's checkpoints
                    rejects=follower.rejects.path,
                ),
                snapshot=exported,
            )
            if summary.stopped:
                raise UsageError(f"the initial load stopped: {summary.stopped}")
            follower.catch_up(exported)
            position = Position("streaming", start, print_)
            store.save(position)
            follower.summary.loaded = True
        replication.stream(name, name, position.lsn)
        return follow.stream(
            follower, replication, store, position, options.until_caught_up, stop_requested
        )
    finally:
        if replication is not None:
            replication.close()


def stop(prepared: Prepared, target: str, slot_override: str | None = None) -> bool:
    """End a sync: drop its slot (the source frees the WAL kept for it), its publication and
    its position in the target; whether a slot was there."""
    from mapper.engine.load.mongodb import MongoSink
    from mapper.sync import slot
    from mapper.sync.position import Store

    _target(target)
    name = slot_override or slot_name(prepared, target)
    with slot.plain(prepared.engine) as connection:
        dropped = slot.drop_slot(connection, name)
        slot.unpublish(connection, name)
    sink = MongoSink(target)
    try:
        database = sink.database_name or prepared.plan.collections[0].database
        if database:
            Store(sink, database, name).forget()
    finally:
        sink.close()
    return dropped


def status(prepared: Prepared) -> list[SlotStatus]:
    """The sync slots on the source, with the WAL each keeps."""
    from mapper.sync import slot

    with slot.plain(prepared.engine) as connection:
        return slot.slots(connection)
