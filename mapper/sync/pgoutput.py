"""PostgreSQL's `pgoutput` logical replication messages (protocol version 1), decoded.

The protocol is documented in PostgreSQL's "Logical Replication Message Formats"; values come
as their text. What `sync` needs of it: the relations (names, columns, which are the replica
identity), the transactions' boundaries with their commit positions, and each row change with
its old and new values. (The PyPI decoders of this format are unmaintained or young; the
format is a few fixed records, read here with `struct`.)
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass
from typing import Literal

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # PostgreSQL's timestamps count from it
UNCHANGED = object()  # a TOASTed value an update left as it was: the server does not send it
Values = tuple[object, ...]  # a row's text values by column: str, None (NULL) or UNCHANGED


@dataclass(frozen=True)
class Relation:
    """A table as the stream names it; `key` are the columns of its replica identity."""

    id: int
    schema: str
    name: str
    identity: str  # d (default: the primary key), f (full), i (an index), n (nothing)
    columns: tuple[str, ...]
    key: tuple[str, ...]


@dataclass(frozen=True)
class Begin:
    final_lsn: int
    committed: dt.datetime
    xid: int


@dataclass(frozen=True)
class Commit:
    lsn: int
    end_lsn: int
    committed: dt.datetime


@dataclass(frozen=True)
class Change:
    """A row inserted, updated or deleted: its values before (None when the server sent
    none: an insert, or an update that kept the replica identity) and after (None: a delete).
    `old` holds the replica identity's columns only unless the table's identity is full."""

    kind: Literal["insert", "update", "delete"]
    relation: int
    old: Values | None
    new: Values | None


@dataclass(frozen=True)
class Truncate:
    relations: tuple[int, ...]


Message = Relation | Begin | Commit | Change | Truncate | None  # None: what sync ignores


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, form: str) -> tuple[int, ...]:
        values = struct.unpack_from(form, self.data, self.at)
        self.at += struct.calcsize(form)
        return values

    def int(self, form: str) -> int:
        return self.take(form)[0]

    def text(self) -> str:
        end = self.data.index(b"\0", self.at)
        value = self.data[self.at : end].decode()
        self.at = end + 1
        return value

    def byte(self) -> str:
        value = chr(self.data[self.at])
        self.at += 1
        return value

    def timestamp(self) -> dt.datetime:
        return EPOCH + dt.timedelta(microseconds=self.int("!q"))

    def tuple(self) -> Values:
        values: list[object] = []
        for _ in range(self.int("!h")):
            kind = self.byte()
            if kind == "n":
                values.append(None)
            elif kind == "u":
                values.append(UNCHANGED)
            elif kind == "t":
                size = self.int("!i")
                values.append(self.data[self.at : self.at + size].decode())
                self.at += size
            else:
                raise ValueError(f"pgoutput: a value of kind {kind!r} (binary?) is not read")
        return tuple(values)


def decode(data: bytes) -> Message:
    """One message of the stream; None for those sync does not use (origin, type, message)."""
    reader = _Reader(data)
    kind = reader.byte()
    if kind == "B":
        final_lsn = reader.int("!Q")
        committed = reader.timestamp()
        return Begin(final_lsn, committed, reader.int("!I"))
    if kind == "C":
        reader.byte()  # flags, unused
        lsn, end_lsn = reader.take("!QQ")
        return Commit(lsn, end_lsn, reader.timestamp())
    if kind == "R":
        return _relation(reader)
    if kind in "IUD":
        return _change(kind, reader)
    if kind == "T":
        count = reader.int("!i")
        reader.byte()  # options: cascade, restart identity
        return Truncate(tuple(reader.int("!I") for _ in range(count)))
    return None


def _relation(reader: _Reader) -> Relation:
    relation_id = reader.int("!I")
    schema, name = reader.text(), reader.text()
    identity = reader.byte()
    columns: list[str] = []
    key: list[str] = []
    for _ in range(reader.int("!h")):
        flags = reader.int("!b")
        column = reader.text()
        reader.take("!Ii")  # type oid and modifier: values are read as text, cast by SQL
        columns.append(column)
        if flags & 1:
            key.append(column)
    return Relation(relation_id, schema or "public", name, identity, tuple(columns), tuple(key))


def _change(kind: str, reader: _Reader) -> Change:
    relation = reader.int("!I")
    old: Values | None = None
    new: Values | None = None
    marker = reader.byte()
    if marker in "KO":
        old = reader.tuple()
        if kind == "U":
            marker = reader.byte()
    if marker == "N":
        new = reader.tuple()
    names = {"I": "insert", "U": "update", "D": "delete"}
    return Change(names[kind], relation, old, new)  # type: ignore[arg-type]


def lsn_text(lsn: int) -> str:
    """A position as PostgreSQL writes it: `16/B374D848`."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def lsn_value(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)
