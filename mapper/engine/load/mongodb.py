"""The MongoDB sink: bulk replace-upserts by `_id` into a server that speaks MongoDB's wire
protocol (MongoDB, FerretDB, SecantusDB), retrying exactly the failures that are transient."""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any, TypeVar

import bson
import pymongo
from bson.raw_bson import RawBSONDocument
from pymongo import errors as mongo_errors
from pymongo.collection import Collection
from pymongo.database import Database

from mapper import plan as p
from mapper.config import TARGET_VARIABLE, redact
from mapper.engine import capabilities, server_errors
from mapper.engine.capabilities import Capabilities
from mapper.engine.load import probe
from mapper.engine.load.sink import CODEC, Encoded, WriteResult
from mapper.errors import TargetError, UsageError
from mapper.ids import key_text
from mapper.validator import json_schema

log = logging.getLogger(__name__)
MAX_BATCH_BYTES = 32 * 1024 * 1024
RETRIES = 5
PREFLIGHT_SECONDS = 5.0  # the first contact with the target: is it reachable
PROBE_SECONDS = 30.0  # trying what it can do: a dozen commands, collection and index builds
SOCKET_TIMEOUT_SECONDS = 120.0  # no answer for this long mid-run: a transient failure
BACKOFF_SECONDS = 0.2  # the first wait before a retry; it doubles, up to 5 s
RAW_CODEC = bson.CodecOptions(
    document_class=RawBSONDocument, uuid_representation=bson.binary.UuidRepresentation.STANDARD
)
MAX_DIGESTS = 500_000  # stored documents read whole at `open` (about 150 bytes each kept)
T = TypeVar("T")


class MongoSink:
    """Unordered bulk writes by `_id`: inserts into a collection that was empty when the run
    opened it, otherwise only what is new or changed; transient failures are re-sent
    idempotently (as replace-upserts)."""

    render = None

    def __init__(self, uri: str, default_database: str | None = None):
        self.uri = uri
        self.client, database = client(uri)
        self.database_name = database or default_database
        self._empty: set[str] = set()
        self._digests: dict[str, dict[bytes, bytes]] = {}  # collection → `_id` key → digest
        self._builder: pymongo.MongoClient[dict[str, Any]] | None = None  # for index builds
        self._capabilities: Capabilities | None = None

    def _database(self, name: str | None) -> Database[dict[str, Any]]:
        """The database `name` (a collection's `database:`), or the URL's."""
        name = name or self.database_name
        if not name:
            raise UsageError(
                "no target database: put it in the URL path "
                "(mongodb://host/DATABASE) or as `database:` in the mapping"
            )
        return self.client[name]

    def _collection(self, collection: p.CollectionPlan) -> Collection[dict[str, Any]]:
        return self._database(collection.database)[collection.name]

    def capabilities(self, database: str | None = None) -> Capabilities:
        """The server's, found out once by trying them in a scratch collection of `database`
        (or the URL's database; `probe`). This is the run's first contact: `buildInfo`
        within `PREFLIGHT_SECONDS`, the trials within `PROBE_SECONDS`, none retried, so that
        a target that cannot be reached fails in seconds with nothing written (the retries
        are for faults in the middle of a run)."""
        if self._capabilities is None:
            target = self._database(database)
            info = self._first_contact(PREFLIGHT_SECONDS, target.client.admin.command, "buildInfo")
            self._capabilities = self._first_contact(
                PROBE_SECONDS, probe.server_capabilities, target, info, lambda: client(self.uri)[0]
            )
        return self._capabilities

    def _first_contact(self, seconds: float, action: Callable[..., T], *args: Any) -> T:
        """`action(*args)` within `seconds`, its failure as mapper's (unreachable: transient)."""
        try:
            with pymongo.timeout(seconds):
                return action(*args)
        except mongo_errors.PyMongoError as error:
            failure = server_errors.target_error(error, "the server's capabilities")
            if failure.transient:
                raise TargetError(
                    f"cannot reach the target {redact(self.uri)} within "
                    f"{seconds:g} s: {type(error).__name__} (nothing was written)",
                    setting=TARGET_VARIABLE,
                    transient=True,
                ) from None
            raise failure from None

    def preflight(self, collections: list[p.CollectionPlan]) -> None:
        """Refuse, before anything is written, what this server cannot do (its capabilities
        tried in the first collection's database)."""
        capabilities.refuse(collections, self.capabilities(collections[0].database))

    def open(self, collection: p.CollectionPlan, drop: bool) -> None:
        target = self._collection(collection)
        if drop or collection.write == "rebuild":
            self._retry(target.drop, collection.name)
        if self._retry(lambda: target.find_one({}, {"_id": 1}), collection.name) is None:
            self._empty.add(collection.name)
        else:  # one read of the collection costs FerretDB about what one lookup by `_id` does
            raw = target.with_options(codec_options=RAW_CODEC)

            def read() -> dict[bytes, bytes]:
                with raw.find() as cursor:
                    return _digests(cursor, MAX_DIGESTS)

            digests = self._retry(read, collection.name)
            if len(digests) <= MAX_DIGESTS:
                self._digests[collection.name] = digests
        if collection.validator:
            validator = json_schema(collection)
            database = target.database
            if collection.name in self._retry(database.list_collection_names, collection.name):
                self._retry(
                    lambda: database.command("collMod", collection.name, validator=validator),
                    collection.name,
                )
            else:
                self._retry(
                    lambda: database.create_collection(collection.name, validator=validator),
                    collection.name,
                )

    def write(self, collection: p.CollectionPlan, batch: list[Encoded]) -> WriteResult:
        target = self._collection(collection)
        result = WriteResult()
        for chunk in _by_bytes(batch):
            self._write_chunk(collection, target, chunk, result)
        return result

    def write_range(
        self, collection: p.CollectionPlan, part: int, batch: list[Encoded]
    ) -> WriteResult:
        """A range's documents, from a worker: this sink did not open the collection, so
        what is stored is always compared (a retried task's documents count unchanged)."""
        return self.write(collection, batch)

    def _write_chunk(
        self,
        collection: p.CollectionPlan,
        target: Collection[dict[str, Any]],
        chunk: list[Encoded],
        result: WriteResult,
    ) -> None:
        """Insert what is new, replace what changed, leave what is identical untouched.

        Stored documents are compared with the batch's by a digest of their BSON, so a re-run
        writes only changes and counts inserted / updated / unchanged exactly. The digests
        come from one read of the whole collection when the run opens it (`MAX_DIGESTS`
        documents at most), else from a lookup by `_id` per chunk: a lookup per chunk scans
        the collection on FerretDB, so a resume or re-run would cost a scan per batch. Into a
        collection that was empty at the start nothing is looked up, and an `_id` written
        twice in the run is refused by the server as a duplicate. An insert whose outcome is
        unknown (network error) is re-sent as a replace-upsert, which is idempotent.
        """
        unique: dict[bytes, Encoded] = {}
        for item in chunk:
            key = id_key(item.id)
            if key in unique:
                result.failed.append(
                    (
                        item,
                        "duplicate `_id`: another row of this batch "
                        f"(key `{key_text(unique[key].key)}`) has it",
                    )
                )
            else:
                unique[key] = item
        stored = self._stored(collection, target, unique)
        new = [item for key, item in unique.items() if key not in stored]
        changed = [
            item
            for key, item in unique.items()
            if key in stored and stored[key] != _digest(item.data)
        ]
        result.unchanged += len(unique) - len(new) - len(changed)
        if new:
            self._send(collection, target, new, result, insert=True)
        if changed:
            self._send(collection, target, changed, result, insert=False)

    def _stored(
        self,
        collection: p.CollectionPlan,
        target: Collection[dict[str, Any]],
        unique: dict[bytes, Encoded],
    ) -> dict[bytes, bytes]:
        """The digest of each stored document among `unique`'s, by `_id` key."""
        if collection.name in self._empty:
            return {}
        digests = self._digests.get(collection.name)
        if digests is not None:
            return {key: digests[key] for key in unique if key in digests}
        ids = [item.id for item in unique.values()]
        raw = target.with_options(codec_options=RAW_CODEC)
        return self._retry(lambda: _digests(raw.find({"_id": {"$in": ids}})), collection.name)

    def _send(
        self,
        collection: p.CollectionPlan,
        target: Collection[dict[str, Any]],
        items: list[Encoded],
        result: WriteResult,
        insert: bool,
    ) -> None:
        def requests(as_insert: bool) -> list[Any]:
            if as_insert:
                return [pymongo.InsertOne(RawBSONDocument(item.data)) for item in items]
            return [
                pymongo.ReplaceOne({"_id": item.id}, RawBSONDocument(item.data), upsert=True)
                for item in items
            ]

        attempts = iter([insert] + [False] * RETRIES)
        outcome: Mapping[str, Any]
        try:
            outcome = self._retry(
                lambda: target.bulk_write(requests(next(attempts)), ordered=False), collection.name
            ).bulk_api_result
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

    def apply(
        self, collection: p.CollectionPlan, replace: list[Encoded], delete: list[object]
    ) -> int:
        """Replace documents whole (upserts) and delete others by `_id`, acknowledged before
        this returns; re-sent as they are when a failure is transient (`sync`'s writes: each
        is the document as the source holds it now, so sending it twice is harmless). The
        number of documents deleted (of `delete`, those the target held)."""
        target = self._collection(collection)
        requests: list[Any] = [
            pymongo.ReplaceOne({"_id": item.id}, RawBSONDocument(item.data), upsert=True)
            for item in replace
        ] + [pymongo.DeleteOne({"_id": document_id}) for document_id in delete]
        deleted = 0
        for start in range(0, len(requests), 1000):
            chunk = requests[start : start + 1000]
            try:
                written = self._retry(
                    partial(target.bulk_write, chunk, ordered=False), collection.name
                )
                deleted += written.deleted_count
            except mongo_errors.BulkWriteError as error:
                failure = error.details["writeErrors"][0]
                at = start + failure["index"]
                document = replace[at].data if at < len(replace) else bson.encode({})
                raise TargetError(
                    f"the target refused a document of `{collection.name}`: "
                    f"{server_errors.write_error(failure, document)}"
                ) from None
        return deleted

    def ids(self, collection: p.CollectionPlan) -> list[object]:
        """Every `_id` the collection holds."""
        target = self._collection(collection)
        return self._retry(
            lambda: [document["_id"] for document in target.find({}, {"_id": 1})],
            collection.name,
        )

    def _retry(self, action: Callable[[], T], collection: str) -> T:
        return retried(action, collection, self.uri)

    def finish(self, collection: p.CollectionPlan) -> None:
        """Build the collection's indexes, through a client without the socket timeout: a
        build on a large collection may rightly take longer than any answer should."""
        self._digests.pop(collection.name, None)
        if not collection.indexes:
            return
        if self._builder is None:
            self._builder, _ = client(self.uri, patient=True)
        target = self._builder[self._collection(collection).database.name][collection.name]
        for index in collection.indexes:
            options: dict[str, Any] = {"unique": index.unique, "sparse": index.sparse}
            if index.name:
                options["name"] = index.name
            self._retry(partial(target.create_index, list(index.keys), **options), collection.name)

    def close(self) -> None:
        self.client.close()
        if self._builder is not None:
            self._builder.close()


def id_key(document_id: object) -> bytes:
    """An `_id` as a dictionary key: its BSON, so that ids of any BSON type compare as the
    server compares them (uuids in the standard representation)."""
    return bson.encode({"_id": document_id}, codec_options=CODEC)


def _digest(data: bytes | memoryview) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _digests(documents: Iterable[RawBSONDocument], limit: float = math.inf) -> dict[bytes, bytes]:
    """`_id` key → digest of the stored BSON, for `documents` as the server sends them; the
    reading stops at the first one more than `limit`."""
    digests = {}
    for document in documents:
        digests[id_key(document["_id"])] = _digest(document.raw)
        if len(digests) > limit:
            break
    return digests


def _by_bytes(batch: list[Encoded]) -> list[list[Encoded]]:
    chunks: list[list[Encoded]] = []
    current: list[Encoded] = []
    size = 0
    for item in batch:
        if current and size + len(item.data) > MAX_BATCH_BYTES:
            chunks.append(current)
            current, size = [], 0
        current.append(item)
        size += len(item.data)
    if current:
        chunks.append(current)
    return chunks


def client(
    uri: str, patient: bool = False
) -> tuple[pymongo.MongoClient[dict[str, Any]], str | None]:
    """A client of the target `uri` (uuids standard, datetimes aware; server selection gives
    up after 10 s, a command without an answer after `SOCKET_TIMEOUT_SECONDS` unless
    `patient`, unless the URL says otherwise) and the database its path names. A bad URL is
    a `UsageError`. The run's sink and validate's targets connect alike."""
    try:
        parsed = pymongo.uri_parser.parse_uri(uri)
        defaults = {
            "serverSelectionTimeoutMS": 10_000,
            "socketTimeoutMS": None if patient else round(SOCKET_TIMEOUT_SECONDS * 1000),
        }
        timeouts: dict[str, Any] = {
            option: value
            for option, value in defaults.items()
            if option not in parsed["options"]  # the URL's own wins
        }
        connected: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            uri, uuidRepresentation="standard", tz_aware=True, **timeouts
        )
    except (mongo_errors.InvalidURI, mongo_errors.ConfigurationError, ValueError) as error:
        raise UsageError(
            f"bad target URL {redact(uri)}: {redact(str(error))}", setting=TARGET_VARIABLE
        ) from None
    return connected, parsed.get("database")


def retried(action: Callable[[], T], collection: str, uri: str) -> T:
    """`action`'s result, sent up to `RETRIES` times while its failure is transient (a
    `BulkWriteError`, whose documents failed one by one, is the caller's to sort)."""
    last = ""
    for attempt in range(RETRIES):
        try:
            return action()
        except mongo_errors.BulkWriteError:
            raise
        except mongo_errors.PyMongoError as error:
            failure = server_errors.target_error(error, collection)
            if not failure.transient:
                raise failure from None
            last = type(error).__name__
            log.warning(
                "transient target error on %s (attempt %d): %s", collection, attempt + 1, last
            )
            time.sleep(min(BACKOFF_SECONDS * 2**attempt, 5))
    raise TargetError(
        f"target unreachable after {RETRIES} attempts on `{collection}` ({redact(uri)}; "
        f"last: {last})",
        transient=True,
    )
