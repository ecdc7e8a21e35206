"""One batch written and counted: what the run adds to a collection's summary and its reject
file, made where the batch is written (the run's process, or a cluster's worker)."""

from __future__ import annotations

from dataclasses import dataclass, field

from mapper import plan as p
from mapper.engine.batches import EncodedBatch, Rejected
from mapper.engine.duplicates import SeenIds
from mapper.engine.load import Sink


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


def write(
    collection: p.CollectionPlan,
    batch: EncodedBatch,
    sink: Sink,
    seen: SeenIds,
    part: int | None = None,
) -> Written:
    """Write one encoded batch (as range `part` of the collection, from a cluster's worker)
    and count every row of it exactly once; a document whose `_id` was seen before is
    rejected (`duplicates`)."""
    written = Written(batch.passed, batch.truncated, batch.statements)
    written.rejected += batch.rejected
    documents, repeated = seen.new(batch.documents)
    written.rejected += [(key, "duplicate", reason) for key, reason in repeated]
    result = (
        sink.write(collection, documents)
        if part is None
        else sink.write_range(collection, part, documents)
    )
    written.inserted, written.updated, written.unchanged = (
        result.inserted,
        result.updated,
        result.unchanged,
    )
    written.rejected += [(item.key, "write", reason) for item, reason in result.failed]
    return written
