"""Where `sync` is, kept in the target beside the documents: one document per slot in the
collection `mapper_sync` of the target database, written only after the target acknowledged
every document up to the position it records."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any, Literal

from mapper.engine.load.mongodb import MongoSink, retried

COLLECTION = "mapper_sync"
Phase = Literal["loading", "streaming"]


@dataclass(frozen=True)
class Position:
    phase: Phase
    lsn: int  # every change committed before it is in the target
    fingerprint: str  # the plan's: a sync may not continue with other mappings
    behind_bytes: int = 0
    behind_seconds: float = 0.0


class Store:
    def __init__(self, sink: MongoSink, database: str, slot: str):
        self.collection = sink.client[database][COLLECTION]
        self.slot, self.uri = slot, sink.uri

    def load(self) -> Position | None:
        found = retried(lambda: self.collection.find_one({"_id": self.slot}), COLLECTION, self.uri)
        if found is None:
            return None
        fields: dict[str, Any] = {k: found[k] for k in Position.__dataclass_fields__ if k in found}
        return Position(**{**fields, "lsn": int(fields["lsn"])})

    def save(self, position: Position) -> None:
        document = {**asdict(position), "lsn": str(position.lsn)}  # past int64 in theory
        document["saved_at"] = dt.datetime.now(dt.UTC)
        retried(
            lambda: self.collection.replace_one({"_id": self.slot}, document, upsert=True),
            COLLECTION,
            self.uri,
        )

    def forget(self) -> None:
        retried(lambda: self.collection.delete_one({"_id": self.slot}), COLLECTION, self.uri)
