"""What every sink takes and gives back: documents already BSON-encoded (so the size check and
the encoding happen once, where the document is built), and a `WriteResult` of what it wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import bson

from mapper import plan as p
from mapper.engine.capabilities import Capabilities

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
Render = Callable[[dict[str, Any]], str] | None  # a document's text, for sinks that write text
CODEC: bson.CodecOptions[dict[str, Any]] = bson.CodecOptions(
    uuid_representation=bson.binary.UuidRepresentation.STANDARD, tz_aware=True
)


@dataclass(frozen=True)
class Encoded:
    """A built document: its source key, `_id`, BSON bytes and, for sinks that `render`
    documents, their text (made where the document was built: in a worker process)."""

    key: tuple[Any, ...]
    id: object
    data: bytes
    text: str | None = None


@dataclass
class WriteResult:
    """What one `write` did with its batch, and the documents the target refused."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[tuple[Encoded, str]] = field(default_factory=list)


@runtime_checkable
class Sink(Protocol):
    """A target kind. `preflight` refuses, before anything is written, a plan that needs what
    `capabilities` lacks; `open`, `write` and `finish` go once per collection, in that order,
    `write` once per batch; `close` ends the run whatever happened. On a cluster's worker,
    `write_range` writes range `part` of a collection that the run's process opened (and
    finishes), re-sent harmlessly when a task is retried."""

    @property
    def render(self) -> Render:
        """The document's text, made where it is built (in a worker process)."""
        ...

    def capabilities(self) -> Capabilities:
        """What the target can store and build (declared, or asked of its server)."""
        ...

    def preflight(self, collections: list[p.CollectionPlan]) -> None: ...
    def open(self, collection: p.CollectionPlan, drop: bool) -> None: ...
    def write(self, collection: p.CollectionPlan, batch: list[Encoded]) -> WriteResult: ...
    def write_range(
        self, collection: p.CollectionPlan, part: int, batch: list[Encoded]
    ) -> WriteResult: ...
    def finish(self, collection: p.CollectionPlan) -> None: ...
    def close(self) -> None: ...


def encode(document: dict[str, Any]) -> bytes:
    return bson.encode(document, codec_options=CODEC)
