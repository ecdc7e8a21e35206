"""Parallel workers: processes that read, build and encode batches in the run's snapshot.

The leader (the run's process) exports its snapshot, streams the root table's keys and cuts
them into ranges of `batch_size` keys. Each worker process imports the snapshot (so that it
reads exactly what the leader would), reads its range's rows and child rows, builds and
encodes the documents, and returns the batch. The leader takes the batches back in key order
and writes, checkpoints and counts them as it does its own, so that resume, rejects and the
summary are the same with any number of workers. One batch per worker, plus one, is in
flight, so memory stays bounded by the batch size.

PostgreSQL only (snapshot export); workers are forked, so they inherit the plan, the catalog
and the engine (its credentials and dialect settings) without serializing them.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import multiprocessing
import os
import signal
from collections.abc import Generator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import util

import sqlalchemy as sa

from mapper import plan as p
from mapper.catalog import Catalog
from mapper.collector import collect_young
from mapper.compile import Compiler
from mapper.engine.batches import EncodedBatch, Key, encode_range, spans
from mapper.engine.build import Builder
from mapper.engine.extract import Extractor, snapshot
from mapper.engine.load import Render
from mapper.errors import MapperError, SourceError

BATCHES_PER_WORKER = 4  # what small tables are cut into, for an even share
MIN_BATCH = 500
PR_SET_PDEATHSIG = 1  # prctl(2)


def supported(engine: sa.Engine) -> bool:
    """Workers share an exported snapshot: PostgreSQL, on a system that can fork."""
    return engine.dialect.name == "postgresql" and "fork" in multiprocessing.get_all_start_methods()


def cpus() -> int:
    """The CPUs this process may run on: what `--workers auto` starts at most."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def sizing(rows: int, batch_size: int, workers: int) -> tuple[int, int]:
    """The batch size and number of workers for a table of `rows`. The workers share
    `batch_size` (each holds one batch, so the rows in memory stay about `batch_size`);
    small tables are cut until every worker has a few batches; batches stay above
    `MIN_BATCH` rows (below it, the fixed cost of a batch's queries dominates); and no worker
    is started for less than two batches, which would not repay its start (a connection, the
    snapshot, its first statements: about 0.1 s); one worker: the run stays in its own
    process."""
    shared = max(MIN_BATCH, batch_size // workers)
    even = max(MIN_BATCH, -(-rows // (workers * BATCHES_PER_WORKER)))
    size = min(batch_size, shared, even)
    return size, max(1, min(workers, rows // (2 * size)))


def batches(
    collection: p.CollectionPlan,
    extractor: Extractor,
    after: Key | None,
    size: int,
    workers: int,
    render: Render = None,
) -> Generator[EncodedBatch, None, None]:
    """The collection's batches after key `after`, made by `workers` processes, in order;
    they read through the extractor's engine and catalog."""
    engine, catalog = extractor.connection.engine, extractor.compiler.catalog
    snapshot_id = extractor.export_snapshot()
    ranges = spans(
        extractor.batches(p.keys_after(collection, after), size, collection.table), tuple, after
    )
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_start,
        initargs=(collection, catalog, engine, snapshot_id, render, os.getpid()),
    )
    pending: collections.deque[Future[EncodedBatch]] = collections.deque()
    try:
        for _, span in ranges:
            pending.append(pool.submit(_work, *span))
            if len(pending) > workers:  # every worker busy while the leader writes
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool:
        raise SourceError(
            "a worker process ended unexpectedly (killed, or out of memory?); "
            "nothing of its batch was written"
        ) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# --- in the worker process -----------------------------------------------------------------


@dataclass
class _Worker:
    """What a worker process reads and builds with, set up once by `_start`."""

    collection: p.CollectionPlan
    extractor: Extractor
    builder: Builder
    render: Render
    statements: list[int]  # SQL statements sent so far (a counter the engine's event bumps)
    reported: int = 0  # of them, those counted in the batches returned so far


_worker: _Worker | MapperError | None = None  # or the error `_start` met, for `_work` to raise


def _start(
    collection: p.CollectionPlan,
    catalog: Catalog,
    engine: sa.Engine,
    snapshot_id: str,
    render: Render,
    leader: int,
) -> None:
    """Open this worker's connection on the leader's snapshot; an error is kept for `_work`
    to raise, so that it reaches the leader as the run's error."""
    global _worker
    _die_with(leader)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the leader decides when to stop
    gc.disable()
    try:
        engine.dispose(close=False)  # the leader's connections are not this process's to use
        statements = [0]
        sa.event.listen(
            engine, "before_cursor_execute", lambda *_: statements.__setitem__(0, statements[0] + 1)
        )
        stack = contextlib.ExitStack()
        connection = stack.enter_context(snapshot(engine, imported=snapshot_id))
        util.Finalize(None, stack.close, exitpriority=10)  # end the transaction on exit
        extractor = Extractor(connection, Compiler(catalog))
        _worker = _Worker(
            collection,
            extractor,
            Builder(collection, extractor.children, by_range=extractor.by_range),
            render,
            statements,
        )
    except MapperError as error:
        _worker = error


def _die_with(leader: int) -> None:
    """A worker whose leader is killed (SIGKILL, out of memory) ends too, rather than hold
    its snapshot transaction open: Linux's parent-death signal, with its default action
    (a leader's handler for it, `sync`'s, is not the worker's)."""
    import ctypes  # only in a worker: 17 ms of every leader's start otherwise

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != leader:  # the leader died before the signal was set up
        os._exit(1)


def _work(after: Key | None, through: Key) -> EncodedBatch:
    worker = _worker
    if isinstance(worker, MapperError):
        raise worker
    assert worker is not None, "the pool runs `_start` first in each worker"
    collection, extractor, builder = worker.collection, worker.extractor, worker.builder
    batch = encode_range(collection, extractor, builder, after, through, worker.render)
    counted = worker.statements[0]  # this batch's statements, and the snapshot's first
    batch.statements, worker.reported = counted - worker.reported, counted
    collect_young()
    return batch
