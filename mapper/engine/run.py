"""Move one plan's collections from the source to a sink, with exact accounting.

Rows stream in primary-key order; after each batch is acknowledged by the sink, a checkpoint
records the last key and the counts, so that `--resume` continues after a crash without
losing or duplicating anything (writes are idempotent by `_id`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa

from mapper import collector
from mapper import plan as p
from mapper.catalog import Catalog
from mapper.compile import Compiler
from mapper.engine import accounting
from mapper.engine.accounting import Written
from mapper.engine.batches import EncodedBatch
from mapper.engine.duplicates import SeenIds, unproven_id
from mapper.engine.executor import Executor, InProcess, KeyRange, RangeExecutor
from mapper.engine.extract import Extractor, snapshot
from mapper.engine.load import Sink
from mapper.engine.ranges import Ledger
from mapper.engine.rejects import RejectFile
from mapper.engine.state import Checkpoints
from mapper.errors import SourceError
from mapper.ids import key_text
from mapper.progress import SILENT, Progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    """The error policy, whether the targets are dropped first, which collections run."""

    on_error: Literal["stop", "skip"] = "skip"
    max_errors: int | None = None
    drop: bool = False
    only: tuple[str, ...] = ()


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
    batches: int = 0
    worker_statements: int = 0  # SQL statements the worker processes sent
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

    def counts(self) -> dict[str, int | float]:
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("name", "done")
        }


@dataclass
class RunSummary:
    """What a run did, collection by collection, and why it stopped, if it did."""

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


def run(
    plan: p.Plan,
    engine: sa.Engine,
    catalog: Catalog,
    sink: Sink,
    rejects: RejectFile,
    options: RunOptions = RunOptions(),
    executor: Executor | RangeExecutor = InProcess(),
    progress: Progress = SILENT,
    checkpoints: Checkpoints | None = None,
    stop_requested: Callable[[], bool] = lambda: False,
    imported: str | None = None,
) -> RunSummary:
    """Migrate every collection of the plan (or `options.only`) in one source snapshot, the
    batches made by `executor`. The plan is the one documents are made from (options that
    change documents already applied: `mapper.api.prepare`).

    With `checkpoints` holding a loaded state, finished collections are skipped and the
    others continue after their last acknowledged key (on a cluster, a `RangeExecutor`: with
    the key spans not done). With `imported`, the run reads the snapshot another
    transaction exported (PostgreSQL: `sync`'s replication slot's).
    """
    summary = RunSummary()
    selected = [c for c in plan.collections if not options.only or c.name in options.only]
    rejects.check_writable()
    if checkpoints is not None and checkpoints.rejects is not None:  # resumed
        rejects.rewind(checkpoints.rejects)  # the batches after the mark are read again
    else:
        rejects.start()
    if checkpoints is not None:
        checkpoints.rejects = rejects.mark()
        checkpoints.check_writable()
    if selected:
        sink.preflight(selected)
    try:
        with snapshot(engine, imported) as connection:
            extractor = Extractor(connection, Compiler(catalog))
            context = _Context(
                extractor, sink, rejects, options, progress, checkpoints, stop_requested
            )
            for collection in selected:
                result = _resumed(collection.name, checkpoints)
                summary.collections.append(result)
                if result.done:  # by the run resumed: shown finished
                    progress.start(collection.name, result.read, result.read)
                    progress.finish(collection.name)
                    continue
                try:
                    if isinstance(executor, RangeExecutor):
                        _collection_by_ranges(context, collection, result, executor)
                    else:
                        _collection(context, collection, result, executor)
                except StopRun as stop:
                    summary.stopped = str(stop)
                    result.read = result.passed  # read so far, not the table's count
                    break
    finally:
        rejects.close()
        sink.close()
    if checkpoints is not None and summary.stopped is None:
        checkpoints.clear()
    return summary


def _resumed(name: str, checkpoints: Checkpoints | None) -> CollectionSummary:
    saved = (checkpoints.collections.get(name) if checkpoints else None) or {}
    counts = {k: v for k, v in saved.items() if k not in ("last_key", "spans")}
    return CollectionSummary(name, **counts)


@dataclass(frozen=True)
class _Context:
    """What every collection of a run is read, written, checkpointed and shown through."""

    extractor: Extractor
    sink: Sink
    rejects: RejectFile
    options: RunOptions
    progress: Progress
    checkpoints: Checkpoints | None
    stop_requested: Callable[[], bool]

    def open(self, collection: p.CollectionPlan, fresh: bool, result: CollectionSummary) -> float:
        """Open the collection in the sink (dropped first with `--drop` when `fresh` and
        nothing of it was written), count its rows and start its progress; the clock's
        start, less the time an earlier run spent on it."""
        started = time.perf_counter() - result.seconds
        self.sink.open(collection, self.options.drop and fresh and not result.passed)
        result.read = self.extractor.count(collection.table)
        self.progress.start(collection.name, result.read, result.passed)
        return started

    def finish(
        self, collection: p.CollectionPlan, result: CollectionSummary, started: float
    ) -> None:
        """The collection done: its indexes built, its checkpoint marked done, its progress
        ended."""
        self.sink.finish(collection)
        result.done = True
        result.seconds = time.perf_counter() - started
        if self.checkpoints is not None:
            self.checkpoints.save(
                collection.name, result.counts(), None, self.rejects.mark(), done=True
            )
        if result.passed == 0:
            log.warning("collection %s: the source gave no rows", collection.name)
        self.progress.finish(collection.name)


def _collection(
    context: _Context, collection: p.CollectionPlan, result: CollectionSummary, executor: Executor
) -> None:
    extractor, sink, rejects = context.extractor, context.sink, context.rejects
    checkpoints, options = context.checkpoints, context.options
    last_key = checkpoints.last_key(collection.name) if checkpoints else None
    started = context.open(collection, last_key is None, result)
    source = executor.batches(KeyRange(collection, last_key, result.read, sink.render), extractor)
    table = extractor.compiler.catalog.table(collection.table)
    seen = SeenIds(proven=unproven_id(collection, table) is None)
    again = _advice(checkpoints)
    with contextlib.closing(source), collector.paused():
        while True:
            try:
                batch = next(source, None)
            except SourceError as error:
                after = f"after key `{key_text(last_key)}`" if last_key else "before any row"
                raise SourceError(
                    f"{error} ({after} of `{collection.table}`; nothing of the "
                    f"failed batch was written: {again})",
                    table=collection.table,
                    key=last_key,
                    setting=error.setting,
                    transient=error.transient,
                ) from None
            if batch is None:
                break
            _write(collection, batch, sink, rejects, result, seen)
            last_key, rows = batch.last_key, batch.passed
            del batch  # the next batch is built without this one alive
            collector.collect_young()
            result.seconds = time.perf_counter() - started  # also what a stop reports
            if checkpoints is not None:
                checkpoints.save(collection.name, result.counts(), last_key, rejects.mark())
            context.progress.advance(collection.name, rows)
            _check_policy(collection, result, options)
            if context.stop_requested():
                raise StopRun(f"interrupted after a complete batch: {again}")
    context.finish(collection, result, started)


def _collection_by_ranges(
    context: _Context,
    collection: p.CollectionPlan,
    result: CollectionSummary,
    executor: RangeExecutor,
) -> None:
    """A collection whose ranges a cluster writes: counted and checkpointed as they
    complete; their rejected rows put back in key order at the end."""
    rejects, checkpoints = context.rejects, context.checkpoints
    ledger = Ledger(checkpoints.done_spans(collection.name) if checkpoints else [])
    started = context.open(collection, not ledger.done(), result)
    work = KeyRange(collection, None, result.read, context.sink.render)
    listed: list[tuple[int, int, int]] = []  # range, and the bytes of its reject lines
    with contextlib.closing(executor.ranges(work, context.extractor, ledger)) as ranges:
        for done in ranges:
            start = rejects.size()
            _count(collection, done.written, rejects, result)
            result.batches += 1
            if rejects.size() > start:
                listed.append((done.index, start, rejects.size()))
            ledger.complete(done.index)
            result.seconds = time.perf_counter() - started
            if checkpoints is not None:
                checkpoints.save(
                    collection.name, result.counts(), None, rejects.mark(), spans=ledger.done()
                )
            context.progress.advance(collection.name, done.written.passed)
            _check_policy(collection, result, context.options)
            if context.stop_requested():
                raise StopRun(f"interrupted after a complete range: {_advice(checkpoints)}")
    rejects.reorder([(start, end) for _, start, end in sorted(listed)])
    context.finish(collection, result, started)


def _advice(checkpoints: Checkpoints | None) -> str:
    """What to do after a run stopped early: resume from the checkpoint where one is kept,
    else run again (a file: target is rewritten whole, a null: one keeps nothing)."""
    return "resume with --resume" if checkpoints is not None else "run again to finish"


def _write(
    collection: p.CollectionPlan,
    batch: EncodedBatch,
    sink: Sink,
    rejects: RejectFile,
    result: CollectionSummary,
    seen: SeenIds,
) -> None:
    """Write one encoded batch and count every row of it exactly once; the rows rejected
    before the write are listed first (a crash during it is rewound on resume)."""
    documents, screened = accounting.screened(batch, seen)
    _count(collection, screened, rejects, result)
    _count(collection, accounting.outcome(sink.write(collection, documents)), rejects, result)
    result.batches += 1


def _count(
    collection: p.CollectionPlan,
    written: Written,
    rejects: RejectFile,
    result: CollectionSummary,
) -> None:
    """Add a batch's accounting to the collection's summary and its rejected rows to the
    file."""
    result.passed += written.passed
    result.truncated += written.truncated
    result.worker_statements += written.statements
    result.inserted += written.inserted
    result.updated += written.updated
    result.unchanged += written.unchanged
    for key, stage, reason in written.rejected:
        _reject(collection, key, stage, reason, rejects, result)


def _reject(
    collection: p.CollectionPlan,
    key: tuple[Any, ...],
    stage: str,
    reason: str,
    rejects: RejectFile,
    result: CollectionSummary,
) -> None:
    rejects.add(collection.name, key, stage, reason)
    result.rejected += 1


def _check_policy(
    collection: p.CollectionPlan, result: CollectionSummary, options: RunOptions
) -> None:
    if result.rejected and options.on_error == "stop":
        raise StopRun(f"stopped after a rejected row in `{collection.name}` (--on-error stop)")
    if options.max_errors is not None and result.rejected > options.max_errors:
        raise StopRun(
            f"stopped: {result.rejected} rejected rows in `{collection.name}`, "
            f"more than --max-errors {options.max_errors}"
        )
