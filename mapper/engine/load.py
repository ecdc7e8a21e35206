"""Sinks: MongoDB (bulk replace-upserts by `_id`), Extended JSON Lines files, and null.

Every sink takes documents already BSON-encoded (so the size check and the encoding happen
once) and reports what it wrote as a `WriteResult`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import bson
import pymongo
from bson.raw_bson import RawBSONDocument
from pymongo import errors as mongo_errors

from mapper import plan as p
from mapper.config import TARGET_VARIABLE, redact
from mapper.engine import capabilities, server_errors
from mapper.engine.extended_json import canonical
from mapper.errors import TargetError, UsageError
from mapper.ids import key_text
from mapper.validator import json_schema

log = logging.getLogger(__name__)
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
MAX_BATCH_BYTES = 32 * 1024 * 1024
RETRIES = 5
_TRANSIENT = (mongo_errors.AutoReconnect, mongo_errors.NetworkTimeout,
              mongo_errors.WTimeoutError, mongo_errors.ExecutionTimeout)
_REFUSED = (13, 18)  # Unauthorized, AuthenticationFailed: a configuration problem
CODEC = bson.CodecOptions(uuid_representation=bson.binary.UuidRepresentation.STANDARD,
                          tz_aware=True)
RAW_CODEC = bson.CodecOptions(document_class=RawBSONDocument,
                              uuid_representation=bson.binary.UuidRepresentation.STANDARD)


@dataclass(frozen=True)
class Encoded:
    """A built document: its source key, `_id`, BSON bytes and, for sinks that `render`
    documents, their text (made where the document was built: in a worker process)."""

    key: tuple
    id: object
    data: bytes
    text: str | None = None


@dataclass
class WriteResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[tuple[Encoded, str]] = field(default_factory=list)


class Sink(Protocol):
    render: Callable[[dict], str] | None  # document text to make where it is built
    def preflight(self, collections: list[p.CollectionPlan]) -> None: ...
    def open(self, collection: p.CollectionPlan, drop: bool) -> None: ...
    def write(self, collection: p.CollectionPlan, batch: list[Encoded]) -> WriteResult: ...
    def finish(self, collection: p.CollectionPlan) -> None: ...
    def close(self) -> None: ...


def encode(document: dict) -> bytes:
    return bson.encode(document, codec_options=CODEC)


class NullSink:
    """Builds and encodes everything, writes nothing (dry runs and benchmarks)."""

    render = None

    def preflight(self, collections: list[p.CollectionPlan]) -> None:
        pass

    def open(self, collection: p.CollectionPlan, drop: bool) -> None:
        pass

    def write(self, collection: p.CollectionPlan, batch: list[Encoded]) -> WriteResult:
        return WriteResult(inserted=len(batch))

    def finish(self, collection: p.CollectionPlan) -> None:
        pass

    def close(self) -> None:
        pass


class FileSink:
    """One canonical Extended JSON Lines file per collection (`mongoimport` reads it back).

    Each run rewrites the file whole: written to `NAME.jsonl.partial`, renamed when done.
    """

    render = staticmethod(canonical)  # one line per document

    def __init__(self, directory: Path):
        self.directory = directory
        self._files: dict[str, object] = {}

    def preflight(self, collections: list[p.CollectionPlan]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, collection: p.CollectionPlan) -> Path:
        return self.directory / f"{collection.name}.jsonl"

    def open(self, collection: p.CollectionPlan, drop: bool) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = self._path(collection).with_suffix(".jsonl.partial")
        self._files[collection.name] = open(partial, "w", encoding="utf-8")  # noqa: SIM115

    def write(self, collection: p.CollectionPlan, batch: list[Encoded]) -> WriteResult:
        out = self._files[collection.name]
        out.writelines(item.text + "\n" for item in batch)  # rendered by `render`
        return WriteResult(inserted=len(batch))

    def finish(self, collection: p.CollectionPlan) -> None:
        out = self._files.pop(collection.name)
        out.close()
        os.replace(out.name, self._path(collection))

    def close(self) -> None:
        for out in self._files.values():
            out.close()
            Path(out.name).unlink(missing_ok=True)
        self._files.clear()


class MongoSink:
    """Unordered bulk writes by `_id`: inserts into a collection that was empty when the run
    opened it, otherwise only what is new or changed; transient failures are re-sent
    idempotently (as replace-upserts)."""

    render = None

    def __init__(self, uri: str, default_database: str | None = None):
        self.uri = uri
        try:
            parsed = pymongo.uri_parser.parse_uri(uri)
            timeout = {} if "serverSelectionTimeoutMS" in parsed["options"] \
                else {"serverSelectionTimeoutMS": 10_000}  # the URL's own wins
            self.client = pymongo.MongoClient(uri, uuidRepresentation="standard",
                                              tz_aware=True, **timeout)
        except (mongo_errors.InvalidURI, mongo_errors.ConfigurationError, ValueError) as error:
            raise UsageError(f"bad target URL {redact(uri)}: {redact(str(error))}",
                             setting=TARGET_VARIABLE) from None
        self.database_name = parsed.get("database") or default_database
        self._empty: set[str] = set()

    def _collection(self, collection: p.CollectionPlan):
        name = collection.database or self.database_name
        if not name:
            raise UsageError("no target database: put it in the URL path "
                             "(mongodb://host/DATABASE) or as `database:` in the mapping")
        return self.client[name][collection.name]

    def preflight(self, collections: list[p.CollectionPlan]) -> None:
        """Refuse, before anything is written, what this server cannot do."""
        info = self._retry(lambda: self.client.admin.command("buildInfo"), collections[0])
        server = capabilities.of_server(info)
        for collection in collections:
            problems = capabilities.missing(collection, server)
            if problems:
                raise TargetError("; ".join(problems))

    def open(self, collection: p.CollectionPlan, drop: bool) -> None:
        target = self._collection(collection)
        if drop or collection.write == "rebuild":
            self._retry(target.drop, collection)
        if self._retry(lambda: target.find_one({}, {"_id": 1}), collection) is None:
            self._empty.add(collection.name)
        if collection.validator:
            validator = json_schema(collection)
            database = target.database
            if collection.name in self._retry(database.list_collection_names, collection):
                self._retry(lambda: database.command("collMod", collection.name,
                                                     validator=validator), collection)
            else:
                self._retry(lambda: database.create_collection(collection.name,
                                                               validator=validator),
                            collection)

    def write(self, collection: p.CollectionPlan, batch: list[Encoded]) -> WriteResult:
        target = self._collection(collection)
        result = WriteResult()
        for chunk in _by_bytes(batch):
            self._write_chunk(collection, target, chunk, result)
        return result

    def _write_chunk(self, collection, target, chunk: list[Encoded], result: WriteResult):
        """Insert what is new, replace what changed, leave what is identical untouched.

        The documents already stored are fetched by `_id` (one query) and compared byte for
        byte, so a re-run writes only changes and counts inserted / updated / unchanged
        exactly; into a collection that was empty at the start nothing needs fetching, and an
        `_id` written twice in the run is refused by the server as a duplicate. An insert
        whose outcome is unknown (network error) is re-sent as a replace-upsert, which is
        idempotent.
        """
        unique: dict[bytes, Encoded] = {}
        for item in chunk:
            key = bson.encode({"_id": item.id}, codec_options=CODEC)
            if key in unique:
                result.failed.append((item, "duplicate `_id`: another row of this batch "
                                            f"(key `{key_text(unique[key].key)}`) has it"))
            else:
                unique[key] = item
        stored = {} if collection.name in self._empty else \
            self._stored(collection, target, [item.id for item in unique.values()])
        new = [item for key, item in unique.items() if key not in stored]
        changed = [item for key, item in unique.items()
                   if key in stored and stored[key] != item.data]
        result.unchanged += len(unique) - len(new) - len(changed)
        if new:
            self._send(collection, target, new, result, insert=True)
        if changed:
            self._send(collection, target, changed, result, insert=False)

    def _stored(self, collection, target, ids: list) -> dict[bytes, bytes]:
        raw = target.with_options(codec_options=RAW_CODEC)

        def fetch() -> dict[bytes, bytes]:
            return {bson.encode({"_id": document["_id"]}, codec_options=CODEC): document.raw
                    for document in raw.find({"_id": {"$in": ids}})}

        return self._retry(fetch, collection)

    def _send(self, collection, target, items: list[Encoded], result: WriteResult,
              insert: bool) -> None:
        def requests(as_insert: bool) -> list:
            if as_insert:
                return [pymongo.InsertOne(RawBSONDocument(item.data)) for item in items]
            return [pymongo.ReplaceOne({"_id": item.id}, RawBSONDocument(item.data),
                                       upsert=True) for item in items]

        attempts = iter([insert] + [False] * RETRIES)
        try:
            outcome = self._retry(lambda: target.bulk_write(requests(next(attempts)),
                                                            ordered=False),
                                  collection).bulk_api_result
        except mongo_errors.BulkWriteError as error:
            outcome = error.details
            for failure in outcome.get("writeErrors", []):
                item = items[failure["index"]]
                result.failed.append((item, server_errors.write_error(failure, item.data)))
            if outcome.get("writeConcernErrors"):
                raise TargetError(f"write concern failed on `{collection.name}`") from None
        result.inserted += outcome.get("nInserted", 0) + outcome.get("nUpserted", 0)
        result.updated += outcome.get("nModified", 0)
        result.unchanged += outcome.get("nMatched", 0) - outcome.get("nModified", 0)

    def _retry(self, action, collection: p.CollectionPlan):
        for attempt in range(RETRIES):
            try:
                return action()
            except _TRANSIENT as error:
                log.warning("transient target error on %s (attempt %d): %s",
                            collection.name, attempt + 1, type(error).__name__)
                time.sleep(min(0.2 * 2 ** attempt, 5))
            except mongo_errors.BulkWriteError:
                raise
            except mongo_errors.OperationFailure as error:
                if error.code in _REFUSED:
                    raise UsageError(f"the target refused `{collection.name}`: "
                                     f"{server_errors.command_error(error)}: check the user, "
                                     "password, authSource and roles of the target URL",
                                     setting=TARGET_VARIABLE) from None
                raise TargetError(f"target failed on `{collection.name}`: "
                                  f"{server_errors.command_error(error)}") from None
            except mongo_errors.PyMongoError as error:
                raise TargetError(f"target failed on `{collection.name}`: "
                                  f"{server_errors.command_error(error)}") from None
        raise TargetError(f"target unreachable after {RETRIES} attempts on "
                          f"`{collection.name}` ({redact(self.uri)})")

    def finish(self, collection: p.CollectionPlan) -> None:
        target = self._collection(collection)
        for index in collection.indexes:
            options = {"unique": index.unique, "sparse": index.sparse}
            if index.name:
                options["name"] = index.name
            self._retry(lambda index=index, options=options:
                        target.create_index(list(index.keys), **options), collection)

    def close(self) -> None:
        self.client.close()


def _by_bytes(batch: list[Encoded]) -> list[list[Encoded]]:
    chunks, current, size = [], [], 0
    for item in batch:
        if current and size + len(item.data) > MAX_BATCH_BYTES:
            chunks.append(current)
            current, size = [], 0
        current.append(item)
        size += len(item.data)
    if current:
        chunks.append(current)
    return chunks


def open_sink(url: str, default_database: str | None = None) -> Sink:
    """The sink for a target URL: mongodb://, mongodb+srv://, file:DIR or null:."""
    if url.startswith(("mongodb://", "mongodb+srv://")):
        return MongoSink(url, default_database)
    if url.startswith("file:"):
        return FileSink(Path(url.removeprefix("file:").removeprefix("//") or "out"))
    if url.rstrip(":/") == "null":
        return NullSink()
    raise UsageError(f"unknown target {redact(url)}: use mongodb://, file:DIR or null:")
