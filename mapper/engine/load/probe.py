"""What a MongoDB-wire server can store and build, found out by trying rather than by its name
(servers that speak the protocol differ: FerretDB 1.x stores no Decimal128, SecantusDB builds
no text index, and both report a MongoDB version). Everything is tried in a scratch collection
of the target database, dropped afterwards."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import bson
import pymongo
from pymongo import errors as mongo_errors
from pymongo.collection import Collection
from pymongo.database import Database

from mapper.engine import server_errors
from mapper.engine.capabilities import ALL_INDEX_KINDS, Capabilities

log = logging.getLogger(__name__)
Connect = Callable[[], pymongo.MongoClient[dict[str, Any]]]
SCRATCH_PREFIX = "mapper_probe_"
VALIDATION_FAILED = 121  # the server's code for a document its validator refuses
DECIMAL = bson.Decimal128("0.1")
# how messages call servers that name themselves in `buildInfo` (only the name: what each can
# do is tried)
FLAVOURS = {"ferretdbVersion": "FerretDB", "secantusVersion": "SecantusDB"}


def server_capabilities(
    database: Database[dict[str, Any]], build_info: Mapping[str, Any], connect: Connect
) -> Capabilities:
    """The capabilities of `database`'s server (which answered `build_info`), tried in a
    scratch collection of it; `connect` gives another client of the same server, for the
    trial that may cost a connection. A failure to reach the server is the caller's (a
    `PyMongoError` other than a refusal)."""
    name = server_name(build_info)
    scratch = database[f"{SCRATCH_PREFIX}{uuid.uuid4().hex[:12]}"]
    try:
        validators = _enforces_validators(scratch)
        kinds = frozenset(kind for kind in ALL_INDEX_KINDS if _builds_index(scratch, kind))
        with contextlib.closing(connect()) as other:
            decimal128 = _stores_decimal128(scratch, other[database.name])
    finally:
        try:
            scratch.drop()
        except mongo_errors.PyMongoError as error:
            log.warning(
                "could not drop the probe's scratch collection %s.%s (%s): drop it by hand",
                database.name,
                scratch.name,
                type(error).__name__,
            )
    return Capabilities(name, decimal128=decimal128, validators=validators, index_kinds=kinds)


def server_name(build_info: Mapping[str, Any]) -> str:
    """How messages call the server: its own name and version, and the MongoDB version it
    reports (`MongoDB 8.0.4`, `SecantusDB 0.7.0b3 (reports MongoDB 8.2.11)`)."""
    mongodb = f"MongoDB {build_info.get('version', '(version unknown)')}"
    for key, flavour in FLAVOURS.items():
        if key in build_info:
            version = str(build_info[key])
            named = flavour if version in ("", "unknown") else f"{flavour} {version}"
            return f"{named} (reports {mongodb})"
    return mongodb


def _enforces_validators(scratch: Collection[dict[str, Any]]) -> bool:
    """Whether the server takes a `$jsonSchema` validator and refuses a document against it."""
    schema = {"$jsonSchema": {"bsonType": "object", "required": ["probe"]}}
    if not _done(partial(scratch.database.create_collection, scratch.name, validator=schema)):
        return False
    try:
        scratch.insert_one({"_id": "no probe field"})
    except mongo_errors.WriteError as refused:
        return refused.code == VALIDATION_FAILED
    return False  # taken and ignored


def _stores_decimal128(
    scratch: Collection[dict[str, Any]], other: Database[dict[str, Any]]
) -> bool:
    """Whether a Decimal128 comes back as one. A server may refuse it, convert it, or drop the
    connection over it (FerretDB 1.x): the insert goes through `other`, a client of its own,
    as a command (not retried), so that the sink's client need not find the server again; a
    server that answers the sink's ping straight after dropped the connection."""
    insert = partial(other.command, "insert", scratch.name, documents=[{"probe": DECIMAL}])
    try:
        if not _done(insert):
            return False
    except mongo_errors.ConnectionFailure:
        scratch.database.client.admin.command("ping")  # raises if the server is gone
        return False
    stored = scratch.find_one({"probe": {"$exists": True}})
    return stored is not None and stored.get("probe") == DECIMAL


def _builds_index(scratch: Collection[dict[str, Any]], kind: int | str) -> bool:
    return _done(partial(scratch.create_index, [(f"key_{kind}", kind)]))


def _done(trial: Callable[[], object]) -> bool:
    """Whether the server did `trial` rather than refuse it (refusing the URL's user is
    raised: it says nothing of the server's features)."""
    try:
        trial()
    except mongo_errors.OperationFailure as error:
        if error.code in server_errors.ACCESS_REFUSED:
            raise
        return False
    return True
