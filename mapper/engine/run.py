"""Move one plan's collections from the source to a sink, with exact accounting.

Rows stream in primary-key order; after each batch is acknowledged by the sink, a checkpoint
records the last key and the counts, so that `--resume` continues after a crash without
losing or duplicating anything (writes are idempotent by `_id`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Literal

import sqlalchemy as sa

from mapper import plan as p
from mapper.catalog import Catalog
from mapper.compile import Compiler
from mapper.engine.build import Builder
from mapper.engine.extract import Extractor, snapshot
from mapper.engine.load import MAX_DOCUMENT_BYTES, Encoded, Sink, encode
from mapper.engine.rejects import RejectFile
from mapper.engine.state import Checkpoints
from mapper.errors import SourceError
from mapper.ids import key_text

log = logging.getLogger(__name__)
Progress = Callable[[str, int], None]
YOUNG_OBJECTS = 200_000  # collect the young generations past this many (cyclic GC paused)


@dataclass(frozen=True)
class RunOptions:
    batch_size: int = 1000
    on_error: Literal["stop", "skip"] = "skip"
    max_errors: int | None = None
    drop: bool = False
    only: tuple[str, ...] = ()
    decimal_as: Literal["decimal128", "string", "double"] = "decimal128"


@dataclass
class CollectionSummary:
    """What happened to one collection; `read == written + filtered + rejected` must hold."""

    name: str
    read: int = 0
    passed: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    truncated: int = 0
    seconds: float = 0.0
    done: bool = False

    @property
    def filtered(self) -> int:
        return self.read - self.passed if self.done else 0

    @property
    def written(self) -> int:
        return self.inserted + self.updated + self.unchanged

    @property
    def balanced(self) -> bool:
        return self.read == self.written + self.filtered + self.rejected

    @property
    def rate(self) -> float:
        return self.written / self.seconds if self.seconds else 0.0

    def counts(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in ("name", "done")}


@dataclass
class RunSummary:
    collections: list[CollectionSummary] = field(default_factory=list)
    stopped: str | None = None

    @property
    def rejected(self) -> int:
        return sum(c.rejected for c in self.collections)

    @property
    def balanced(self) -> bool:
        return all(c.balanced for c in self.collections)


class StopRun(Exception):
    """The error policy or the user says stop; the summary says what was written."""


def run(plan: p.Plan, engine: sa.Engine, catalog: Catalog, sink: Sink, rejects: RejectFile,
        options: RunOptions = RunOptions(), progress: Progress | None = None,
        checkpoints: Checkpoints | None = None,
        stop_requested: Callable[[], bool] = lambda: False) -> RunSummary:
    """Migrate every collection of the plan (or `options.only`) in one source snapshot.

    With `checkpoints` holding a loaded state, finished collections are skipped and the
    others continue after their last acknowledged key.
    """
    summary = RunSummary()
    selected = [_converted(c, options) for c in plan.collections
                if not options.only or c.name in options.only]
    rejects.check_writable()
    if checkpoints is not None:
        checkpoints.check_writable()
    if selected:
        sink.preflight(selected)
    try:
        with snapshot(engine) as connection:
            extractor = Extractor(connection, Compiler(catalog))
            for collection in selected:
                result = _resumed(collection.name, checkpoints)
                summary.collections.append(result)
                if result.done:
                    continue
                try:
                    _collection(collection, extractor, sink, rejects, options, result,
                                progress, checkpoints, stop_requested)
                except StopRun as stop:
                    summary.stopped = str(stop)
                    break
    finally:
        rejects.close()
        sink.close()
    if checkpoints is not None and summary.stopped is None:
        checkpoints.clear()
    return summary


def _resumed(name: str, checkpoints: Checkpoints | None) -> CollectionSummary:
    saved = (checkpoints.collections.get(name) if checkpoints else None) or {}
    counts = {k: v for k, v in saved.items() if k != "last_key"}
    return CollectionSummary(name, **counts)


def _collection(collection: p.CollectionPlan, extractor: Extractor, sink: Sink,
                rejects: RejectFile, options: RunOptions, result: CollectionSummary,
                progress: Progress | None, checkpoints: Checkpoints | None,
                stop_requested: Callable[[], bool]) -> None:
    started = time.perf_counter() - result.seconds
    last_key = checkpoints.last_key(collection.name) if checkpoints else None
    sink.open(collection, options.drop and last_key is None and not result.passed)
    result.read = extractor.count(collection.table)
    builder = Builder(collection, extractor.children)
    batches = extractor.batches(_after(collection, last_key), options.batch_size,
                                collection.table)
    with _read_ahead(batches, builder) as fetched_batches, _collector_paused():
        while True:
            try:
                fetched = next(fetched_batches, None)
                if fetched is None:
                    break
                rows, children = fetched
                built = builder.build_batch(rows, children)
            except SourceError as error:
                after = f"after key `{key_text(last_key)}`" if last_key else "before any row"
                raise SourceError(f"{error} ({after} of `{collection.table}`; nothing of the "
                                  "failed batch was written: resume with --resume)") from None
            result.passed += len(rows)
            _batch(collection, built, sink, rejects, result)
            del built, fetched, children  # the next batch is built without this one alive
            if gc.get_count()[0] > YOUNG_OBJECTS:
                gc.collect(1)
            last_key = _key(collection, rows[-1])
            if checkpoints is not None:
                result.seconds = time.perf_counter() - started
                checkpoints.save(collection.name, result.counts(), last_key)
            if progress:
                progress(collection.name, len(rows))
            _check_policy(collection, result, options)
            if stop_requested():
                raise StopRun("interrupted after a complete batch: resume with --resume")
    sink.finish(collection)
    result.done = True
    result.seconds = time.perf_counter() - started
    if checkpoints is not None:
        checkpoints.save(collection.name, result.counts(), None, done=True)
    if result.passed == 0:
        log.warning("collection %s: the source gave no rows", collection.name)


@contextlib.contextmanager
def _read_ahead(batches: Iterator[list], builder: Builder) -> Iterator[Iterator[tuple]]:
    """Each batch of root rows with its child rows, the next batch read by a background
    thread while the caller builds and writes this one.

    The thread is the snapshot connection's only user while it runs; leaving the block waits
    for a read in flight and discards it.
    """
    def read() -> tuple | None:
        rows = next(batches, None)
        return None if rows is None else (rows, builder.fetch_batch(rows))

    def ahead(pool: ThreadPoolExecutor) -> Iterator[tuple]:
        pending = pool.submit(read)
        while (item := pending.result()) is not None:
            pending = pool.submit(read)
            yield item

    with ThreadPoolExecutor(1, thread_name_prefix="mapper-read") as pool:
        yield ahead(pool)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while batches are built (it cost a fifth of the run
    traversing documents that hold no cycles); the caller collects the young generations
    after each batch, so that cyclic garbage cannot accumulate."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _batch(collection: p.CollectionPlan, built, sink: Sink, rejects: RejectFile,
           result: CollectionSummary) -> None:
    """Encode, size-check and write one built batch; count every row exactly once."""
    result.truncated += built.truncated
    batch: list[Encoded] = []
    for row, error in built.rejected:
        _reject(collection, _key(collection, row), error.stage, error.reason, rejects, result)
    for row, document in built.documents:
        data = encode(document)
        if len(data) > MAX_DOCUMENT_BYTES:
            _reject(collection, _key(collection, row), "size",
                    f"document is {len(data):,} bytes, over the 16 MiB limit", rejects, result)
            continue
        batch.append(Encoded(_key(collection, row), document["_id"], data))
    written = sink.write(collection, batch)
    result.inserted += written.inserted
    result.updated += written.updated
    result.unchanged += written.unchanged
    for item, reason in written.failed:
        _reject(collection, item.key, "write", reason, rejects, result)


def _after(collection: p.CollectionPlan, last_key: tuple | None) -> p.Query:
    """The root query, continuing after `last_key` when resuming."""
    if last_key is None:
        return collection.query
    after = p.KeyAfter(collection.query.alias, collection.source_key_columns, last_key)
    items = tuple(x for x in (collection.query.filter, after) if x is not None)
    return replace(collection.query, filter=p.BoolOp("and", items))


def _converted(collection: p.CollectionPlan, options: RunOptions) -> p.CollectionPlan:
    if options.decimal_as == "decimal128":
        return collection
    return replace(collection, document=p.with_conversion(collection.document, "decimal128",
                                                          options.decimal_as))


def _key(collection: p.CollectionPlan, row) -> tuple:
    return tuple(row[i] for i in collection.source_key)


def _reject(collection: p.CollectionPlan, key: tuple, stage: str, reason: str,
            rejects: RejectFile, result: CollectionSummary) -> None:
    rejects.add(collection.name, key, stage, reason)
    result.rejected += 1


def _check_policy(collection: p.CollectionPlan, result: CollectionSummary,
                  options: RunOptions) -> None:
    if result.rejected and options.on_error == "stop":
        raise StopRun(f"stopped after a rejected row in `{collection.name}` (--on-error stop)")
    if options.max_errors is not None and result.rejected > options.max_errors:
        raise StopRun(f"stopped: {result.rejected} rejected rows in `{collection.name}`, "
                      f"more than --max-errors {options.max_errors}")
