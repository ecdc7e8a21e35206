"""One batch written and counted: what the run adds to a collection's summary and its reject
file, made where the batch is written (the run's process, or a cluster's worker)."""

from __future__ import annotations

from dataclasses import dataclass, field

from mapper import plan as p
from mapper.engine.batches import EncodedBatch, Rejected
from mapper.engine.duplicates import SeenIds
from mapper.engine.load import Encoded, Sink, WriteResult


@dataclass
class Written:
    """A batch's accounting: root rows that passed the filter, arrays truncated, documents
    inserted / updated / unchanged, and the rows rejected (key, stage, reason) in the order
    the reject file lists them."""

    passed: int = 0
    truncated: int = 0
    statements: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)


def screened(batch: EncodedBatch, seen: SeenIds) -> tuple[list[Encoded], Written]:
    """The batch's documents to write, and its accounting before they are written: its counts
    and the rows rejected while building, encoding, or as a repeated `_id` (`duplicates`)."""
    written = Written(batch.passed, batch.truncated, batch.statements)
    written.rejected += batch.rejected
    documents, repeated = seen.new(batch.documents)
    written.rejected += [(key, "duplicate", reason) for key, reason in repeated]
    return documents, written


def outcome(result: WriteResult, written: Written | None = None) -> Written:
    """What a sink wrote, added to `written` (or on its own): the documents inserted,
    updated and unchanged, and those the target refused (stage `write`)."""
    written = written or Written()
    written.inserted += result.inserted
    written.updated += result.updated
    written.unchanged += result.unchanged
    written.rejected += [(item.key, "write", reason) for item, reason in result.failed]
    return written


def write(
    collection: p.CollectionPlan, batch: EncodedBatch, sink: Sink, seen: SeenIds, part: int
) -> Written:
    """Write one encoded batch as range `part` of the collection (on a cluster's worker) and
    count every row of it exactly once."""
    documents, written = screened(batch, seen)
    return outcome(sink.write_range(collection, part, documents), written)
