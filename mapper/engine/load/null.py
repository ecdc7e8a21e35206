"""The null sink: builds and encodes everything, writes nothing (dry runs and benchmarks)."""

from __future__ import annotations

from mapper import plan as p
from mapper.engine.capabilities import NULL, Capabilities, refuse
from mapper.engine.load.sink import Encoded, WriteResult


class NullSink:
    """Counts every document as inserted."""

    render = None

    def capabilities(self) -> Capabilities:
        return NULL

    def preflight(self, collections: list[p.CollectionPlan]) -> None:
        refuse(collections, self.capabilities())

    def open(self, collection: p.CollectionPlan, drop: bool) -> None:
        pass

    def write(self, collection: p.CollectionPlan, batch: list[Encoded]) -> WriteResult:
        return WriteResult(inserted=len(batch))

    def write_range(
        self, collection: p.CollectionPlan, part: int, batch: list[Encoded]
    ) -> WriteResult:
        return self.write(collection, batch)

    def finish(self, collection: p.CollectionPlan) -> None:
        pass

    def close(self) -> None:
        pass
