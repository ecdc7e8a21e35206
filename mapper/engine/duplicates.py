"""Duplicate `_id`s within a run: two source rows that make documents with one `_id` (a
non-unique `_id: {column: ...}`, keys that convert to one value) would overwrite each other
in the target while the summary counted both as written. The run checks every document of
such a collection against those written before it, whatever the sink, and rejects the later
row, naming both source keys.

Memory: the 12 bytes of each ObjectId `_id` (a 16-byte digest of others) and the source key
of its row, per collection of the run (about 230 bytes a document); a resumed run checks the
documents it writes itself. A collection whose `_id` the source's keys prove unique
(`unproven_id`: its table's primary key, or a unique key of NOT NULL columns, by `oid` or a
one-to-one conversion) keeps none: its `_id`s cannot repeat, and the check would grow with
its rows (2.3 GB for ten million).

A cluster's ranges are checked each on its own, so a run there needs an `_id` that the
source's keys prove unique (`unproven_id`).
"""

from __future__ import annotations

from hashlib import blake2b
from typing import Any

import bson

from mapper import plan as p
from mapper.catalog import Table
from mapper.engine.load import Encoded, encode
from mapper.ids import key_text

Repeated = tuple[tuple[Any, ...], str]  # a repeating document's source key, and why
# conversions that keep distinct source values distinct (a datetime's loses microseconds)
_ONE_TO_ONE = frozenset({"int", "long", "double", "bool", "string", "uuid", "binary"})


class SeenIds:
    """The `_id`s one collection's run has written so far, with their rows' source keys;
    none when `proven` (`unproven_id`): every document is then new."""

    def __init__(self, proven: bool = False) -> None:
        self._keys: dict[bytes, tuple[Any, ...]] = {}
        self._proven = proven

    def new(self, documents: list[Encoded]) -> tuple[list[Encoded], list[Repeated]]:
        """The documents whose `_id` was not seen before (each now seen), and (source key,
        reason) for each that repeats one."""
        if self._proven:
            return documents, []
        fresh: list[Encoded] = []
        repeated: list[Repeated] = []
        for document in documents:
            first = self._keys.setdefault(_digest(document.id), document.key)
            if first is document.key:
                fresh.append(document)
            else:
                repeated.append(
                    (
                        document.key,
                        f"duplicate `_id`: the same as the document of "
                        f"source key `{key_text(first)}`",
                    )
                )
        return fresh, repeated


def _digest(value: object) -> bytes:
    """An `_id`'s identity in 16 bytes at most: an ObjectId's own 12, else a hash of its BSON."""
    if type(value) is bson.ObjectId:
        return value.binary
    return blake2b(encode({"": value}), digest_size=16).digest()


def unproven_id(collection: p.CollectionPlan, table: Table | None) -> str | None:
    """What the collection's `_id` is made of, when no key of its table proves that two rows
    never make one: the primary key or a unique key of NOT NULL columns (or of one column,
    whose NULL is no `_id`) of a table, mapped by `oid` or converted one-to-one. None when
    proven."""
    shape = next((f for f in collection.document.fields if f.path == ("_id",)), None)
    if not isinstance(shape, p.DocumentId):
        return "a field, not made by an `_id` rule of key columns" if shape else "not set"
    source = ", ".join(f"`{collection.table}.{column}`" for column in shape.columns)
    if table is None or table.kind != "table":
        return f"{source} of a view, whose key the source does not enforce"
    keys = [table.primary_key, *(key for key in table.unique if _not_null(table, key))]
    if not any(key and set(key) <= set(shape.columns) for key in keys):
        return f"{source}, which no unique key of NOT NULL columns covers"
    if shape.rule != "oid" and not set(shape.conversions) <= _ONE_TO_ONE:
        return f"{source}, whose conversion ({', '.join(shape.conversions)}) may join values"
    return None


def _not_null(table: Table, key: tuple[str, ...]) -> bool:
    columns = [table.column(name) for name in key]
    return len(key) == 1 or all(column and not column.nullable for column in columns)
