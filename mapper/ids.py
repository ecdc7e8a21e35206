"""Deterministic document identifiers: oid(table, key) = first 12 bytes of SHA-256."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from hashlib import sha256
from typing import TYPE_CHECKING, Any

from bson import ObjectId

if TYPE_CHECKING:
    from _hashlib import HASH


def key_text(values: Sequence[Any]) -> str:
    """The canonical text of a key: UUID lowercase, integers decimal, parts joined by `|`.

    In a composite key, `\\` and `|` inside a part are escaped (`\\\\`, `\\|`), so that no two
    keys share a text: `('x|y', 'z')` is `x\\|y|z`, `('x', 'y|z')` is `x|y\\|z`. Parts without
    them, and single-column keys, are written as they are.
    """
    if len(values) == 1:
        return _part(values[0])
    return "|".join(_escaped(_part(value)) for value in values)


def _escaped(part: str) -> str:
    if "|" in part or "\\" in part:
        return part.replace("\\", "\\\\").replace("|", "\\|")
    return part


def _part(value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return str(value)


def oid(table: str, key: Sequence[Any]) -> ObjectId:
    """The ObjectId of a row of `table` (unqualified name) with primary key values `key`."""
    return _hashed(sha256(f"{table}:".encode()), key_text(key))


def single_key_oid(table: str) -> Callable[[Any], ObjectId]:
    """`oid(table, (value,))` as a function of the value alone: the builder's fast path (the
    hash of `table:` taken once and copied: 0.53 µs an ObjectId against 0.64 hashing it again)."""
    prefix = sha256(f"{table}:".encode())

    def make(value: Any) -> ObjectId:
        return _hashed(prefix, value if type(value) is str else _part(value))

    return make


def _hashed(prefix: HASH, text: str) -> ObjectId:
    """The first 12 bytes of SHA-256 of `table:` (hashed in `prefix`) and a key's text."""
    digest = prefix.copy()
    digest.update(text.encode())
    return ObjectId(digest.digest()[:12])
