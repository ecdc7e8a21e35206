"""Executors: what makes a collection's encoded batches for the run to write.

The run hands an executor one collection's key range (after the last acknowledged key, to the
end) and takes back `EncodedBatch`es in key order; it writes, counts and checkpoints them the
same whoever made them. `InProcess` reads and builds in the run's own process; `ForkedWorkers`
cuts the range into batches of keys that forked processes read in the run's snapshot.

A `RangeExecutor` (a cluster: `mapper.engine.cluster`) writes too: it takes the collection and
the ranges a checkpoint has not done, has each range read, built and written elsewhere, and
gives back each range's accounting as it completes, in any order.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import sqlalchemy as sa

from mapper import plan as p
from mapper.engine import batches, parallel
from mapper.engine.accounting import Written
from mapper.engine.batches import EncodedBatch
from mapper.engine.extract import Extractor
from mapper.engine.load import Render
from mapper.engine.ranges import Ledger

log = logging.getLogger(__name__)
Batches = Generator[EncodedBatch, None, None]  # closed by the run when it stops early


@dataclass(frozen=True)
class KeyRange:
    """One collection's work: its root rows after key `after` (None: from the first), of
    which the source holds `rows` in all, documents rendered by `render` where built."""

    collection: p.CollectionPlan
    after: tuple[Any, ...] | None
    rows: int
    render: Render = None


class Executor(Protocol):
    def batches(self, work: KeyRange, extractor: Extractor) -> Batches:
        """The batches of `work` in key order, read through `extractor` (the run's snapshot
        connection)."""
        ...


@dataclass(frozen=True)
class RangeDone:
    """Range `index` of a collection's `Ledger`, written, and its accounting."""

    index: int
    written: Written


@runtime_checkable
class RangeExecutor(Protocol):
    def ranges(
        self, work: KeyRange, extractor: Extractor, ledger: Ledger
    ) -> Generator[RangeDone, None, None]:
        """The ranges of `work` that `ledger` has not done, each added to it, written, as
        they complete; `extractor` (the run's snapshot connection) reads their keys."""
        ...


@dataclass(frozen=True)
class InProcess:
    """Read, build and encode in this process, the next batch read while this one is
    written."""

    batch_size: int = 1000

    def batches(self, work: KeyRange, extractor: Extractor) -> Batches:
        return batches.local(work.collection, extractor, work.after, self.batch_size, work.render)


@dataclass(frozen=True)
class ForkedWorkers:
    """Up to `workers` forked processes sharing the run's exported snapshot (PostgreSQL); a
    table too small to repay them runs in this process."""

    batch_size: int = 1000
    workers: int = 2

    def batches(self, work: KeyRange, extractor: Extractor) -> Batches:
        size, workers = parallel.sizing(work.rows, self.batch_size, self.workers)
        if workers == 1:
            return InProcess(self.batch_size).batches(work, extractor)
        return parallel.batches(work.collection, extractor, work.after, size, workers, work.render)


def choose(engine: sa.Engine, batch_size: int, workers: int | Literal["auto"]) -> Executor:
    """Forked workers when more than one is asked for and the source can share a snapshot;
    otherwise this process. `auto`: one per CPU where the source can share its snapshot
    (`ForkedWorkers` still keeps a table too small to repay them in this process)."""
    if workers == "auto":
        workers = parallel.cpus() if parallel.supported(engine) else 1
    if workers > 1 and not parallel.supported(engine):
        log.warning(
            "running with one process: parallel workers share an exported "
            "PostgreSQL snapshot, which this source (%s) has not",
            engine.dialect.name,
        )
        workers = 1
    return ForkedWorkers(batch_size, workers) if workers > 1 else InProcess(batch_size)
