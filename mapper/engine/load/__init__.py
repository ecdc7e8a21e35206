"""Sinks, one module each: MongoDB (`mongodb`: bulk, idempotent), Extended JSON Lines files
(`files`) and null (`null`), each implementing `sink.Sink`; `open_sink` picks one by URL."""

from __future__ import annotations

from pathlib import Path

from mapper.config import redact
from mapper.engine.load.files import FileSink
from mapper.engine.load.null import NullSink
from mapper.engine.load.sink import (
    CODEC,
    MAX_DOCUMENT_BYTES,
    Encoded,
    Render,
    Sink,
    WriteResult,
    encode,
)
from mapper.errors import UsageError


def open_sink(url: str, default_database: str | None = None) -> Sink:
    """The sink for a target URL: mongodb://, mongodb+srv://, file:DIR or null:."""
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from mapper.engine.load.mongodb import MongoSink  # pymongo, for this target only

        return MongoSink(url, default_database)
    if url.startswith("file:"):
        return FileSink(Path(url.removeprefix("file:").removeprefix("//") or "out"))
    if url.rstrip(":/") == "null":
        return NullSink()
    raise UsageError(f"unknown target {redact(url)}: use mongodb://, file:DIR or null:")


__all__ = [
    "CODEC",
    "MAX_DOCUMENT_BYTES",
    "Encoded",
    "FileSink",
    "NullSink",
    "Render",
    "Sink",
    "WriteResult",
    "encode",
    "open_sink",
]
