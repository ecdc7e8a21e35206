"""Duplicate `_id`s within a run: two source rows that make documents with one `_id` (a
non-unique `_id: {column: ...}`, keys that convert to one value) would overwrite each other
in the target while the summary counted both as written. The run checks every document of a
collection against those written before it, whatever the sink, and rejects the later row,
naming both source keys.

Memory: the 12 bytes of each ObjectId `_id` (a 16-byte digest of others) and the source key
of its row, per collection of the run (about 150 bytes a document); a resumed run checks the
documents it writes itself.
"""

from __future__ import annotations

from hashlib import blake2b
from typing import Any

import bson

from mapper.engine.load import Encoded, encode
from mapper.ids import key_text

Repeated = tuple[tuple[Any, ...], str]  # a repeating document's source key, and why


class SeenIds:
    """The `_id`s one collection's run has written so far, with their rows' source keys."""

    def __init__(self) -> None:
        self._keys: dict[bytes, tuple[Any, ...]] = {}

    def new(self, documents: list[Encoded]) -> tuple[list[Encoded], list[Repeated]]:
        """The documents whose `_id` was not seen before (each now seen), and (source key,
        reason) for each that repeats one."""
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
