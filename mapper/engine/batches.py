"""Batches of encoded documents, read and built in this process.

A batch is what the run writes and checkpoints at once: the encoded documents of a run of
root keys, the rows rejected while building or encoding them, and the last key it covers.
`local` makes them in this process, reading the next batch in a background thread while the
caller writes this one; `mapper.engine.parallel` makes the same batches in worker processes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from mapper import plan as p
from mapper.engine.build import Builder, Fetched, Row, RowRejected
from mapper.engine.extract import Extractor
from mapper.engine.load import MAX_DOCUMENT_BYTES, Encoded, Render, encode

Key = tuple[Any, ...]  # a root row's source key
Rejected = tuple[Key, str, str]  # a rejected row: its key, the stage, the reason
Columns = tuple[list[Key], list[object], list[bytes], list[str | None]]  # of Encoded, pickled
Read = tuple[list[Row], p.Span, Fetched]  # a batch's root rows, its span, its child rows


@dataclass
class EncodedBatch:
    """Documents to write, rows rejected (key, stage, reason), and the batch's accounting:
    root rows that passed the filter, arrays truncated, the last key covered."""

    documents: list[Encoded]
    rejected: list[Rejected]
    passed: int
    truncated: int
    last_key: Key
    statements: int = 0  # SQL statements a worker process sent for this batch

    def __reduce__(self) -> tuple[Callable[..., EncodedBatch], tuple[object, ...]]:
        """Pickled (from a worker process) as columns: lists of builtins pickle in C, where
        a list of dataclass instances costs a Python call per document each way."""
        columns: Columns = (
            [d.key for d in self.documents],
            [d.id for d in self.documents],
            [d.data for d in self.documents],
            [d.text for d in self.documents],
        )
        return _unpickle, (
            columns,
            self.rejected,
            self.passed,
            self.truncated,
            self.last_key,
            self.statements,
        )


def _unpickle(
    columns: Columns,
    rejected: list[Rejected],
    passed: int,
    truncated: int,
    last_key: Key,
    statements: int,
) -> EncodedBatch:
    return EncodedBatch(
        list(map(Encoded, *columns)), rejected, passed, truncated, last_key, statements
    )


def encode_batch(
    collection: p.CollectionPlan,
    built: Iterator[tuple[Row, dict[str, Any] | RowRejected]],
    truncated: int,
    last_key: Key,
    render: Render = None,
) -> EncodedBatch:
    """BSON-encode built documents one by one (each dropped once encoded), rejecting rows
    that could not be built and documents over MongoDB's size limit; `render` makes the
    text a sink writes (a file's JSON lines)."""
    documents: list[Encoded] = []
    rejected: list[Rejected] = []
    passed = 0
    for row, document in built:
        passed += 1
        if isinstance(document, RowRejected):
            rejected.append((key_of(collection, row), document.stage, document.reason))
            continue
        if "_id" not in document:
            rejected.append(
                (
                    key_of(collection, row),
                    "build",
                    f"no `_id`: its column {_id_columns(collection)} is NULL",
                )
            )
            continue
        try:
            data = encode(document)
            text = render(document) if render else None
        except Exception as error:  # noqa: BLE001 - a document that cannot be encoded
            where = _invalid_text(document)
            rejected.append(
                (
                    key_of(collection, row),
                    "encode",  # the message may quote it
                    f"field `{where}` holds text that is not valid UTF-8"
                    if where
                    else f"cannot encode the document: {type(error).__name__}",
                )
            )
            continue
        if len(data) > MAX_DOCUMENT_BYTES:
            rejected.append(
                (
                    key_of(collection, row),
                    "size",
                    f"document is {len(data):,} bytes, over the 16 MiB limit",
                )
            )
            continue
        documents.append(Encoded(key_of(collection, row), document["_id"], data, text))
    return EncodedBatch(documents, rejected, passed, truncated, last_key)


def _invalid_text(value: object, path: str = "") -> str | None:
    """The path of the first text in a document that is not valid UTF-8 (a SQLite source's
    bytes kept as surrogates), if any."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return path or "_id"
        return None
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for name, item in items:
        found = _invalid_text(item, f"{path}.{name}" if path else str(name))
        if found:
            return found
    return None


def _id_columns(collection: p.CollectionPlan) -> str:
    """The columns a collection's `_id` is made of, as messages name them."""
    shape = next((f for f in collection.document.fields if f.path == ("_id",)), None)
    columns = shape.columns if isinstance(shape, p.DocumentId) else ()
    return ", ".join(f"`{collection.table}.{c}`" for c in columns) or "(none)"


def key_of(collection: p.CollectionPlan, row: Row) -> Key:
    return tuple(row[i] for i in collection.source_key)


def local(
    collection: p.CollectionPlan,
    extractor: Extractor,
    after: Key | None,
    size: int,
    render: Render = None,
) -> Generator[EncodedBatch, None, None]:
    """The collection's batches after key `after`, read, built and encoded in this process."""
    builder = Builder(collection, extractor.children, by_range=extractor.by_range)
    query = collection.query if after is None else p.in_key_range(collection, after)
    stream = extractor.batches(query, size, collection.table)
    with _read_ahead(spans(stream, lambda row: key_of(collection, row), after), builder) as fetched:
        for rows, (_, through), children in fetched:
            yield encode_batch(collection, *builder.build_each(rows, children), through, render)


def encode_range(
    collection: p.CollectionPlan,
    extractor: Extractor,
    builder: Builder,
    after: Key | None,
    through: Key,
    render: Render = None,
) -> EncodedBatch:
    """The root rows of keys in (after, through], read, built and encoded: a worker's batch
    (forked workers' and a cluster's alike)."""
    rows = extractor.rows(p.in_key_range(collection, after, through), collection.table)
    fetched = builder.fetch_batch(rows, (after, through))
    return encode_batch(collection, *builder.build_each(rows, fetched), through, render)


def spans(
    batches: Iterator[list[Row]], key: Callable[[Row], Key], after: Key | None
) -> Iterator[tuple[list[Row], p.Span]]:
    """Consecutive batches of rows in key order, each with the keys it covers: (after the
    previous batch's last key, through its own last key]; the first one after `after`."""
    for rows in batches:
        through = key(rows[-1])
        yield rows, (after, through)
        after = through


@contextlib.contextmanager
def _read_ahead(
    batches: Iterator[tuple[list[Row], p.Span]], builder: Builder
) -> Iterator[Iterator[Read]]:
    """Each batch of root rows with its span and child rows, the next batch read by a
    background thread while the caller builds and writes this one.

    The thread is the snapshot connection's only user while it runs; leaving the block waits
    for a read in flight and discards it.
    """

    def read() -> Read | None:
        batch = next(batches, None)
        return None if batch is None else (*batch, builder.fetch_batch(*batch))

    def ahead(pool: ThreadPoolExecutor) -> Iterator[Read]:
        pending = pool.submit(read)
        while (item := pending.result()) is not None:
            pending = pool.submit(read)
            yield item

    with ThreadPoolExecutor(1, thread_name_prefix="mapper-read") as pool:
        yield ahead(pool)
