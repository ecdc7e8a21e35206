"""Documents rebuilt whole from the source for a set of root keys, with `run`'s builder:
replaced where the root row passes its filter, deleted where it is gone (or filtered out,
or rejected: a row that cannot be built has no document, as in a run)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from mapper import plan as p
from mapper.compile import KEYS, Compiler
from mapper.engine import batches, convert
from mapper.engine.build import Builder, Row
from mapper.engine.extract import Extractor
from mapper.engine.load import Encoded
from mapper.errors import UsageError
from mapper.ids import key_text

Key = tuple[Any, ...]


def id_shape(collection: p.CollectionPlan) -> p.DocumentId:
    """The collection's `_id`, which sync must be able to make from a root key alone (to
    delete the document of a row that is gone)."""
    shape = next((f for f in collection.document.fields if f.path == ("_id",)), None)
    if not isinstance(shape, p.DocumentId) or shape.indexes != collection.source_key:
        raise UsageError(
            f"collection `{collection.name}`: sync needs its `_id` made from the key of "
            f"`{collection.table}` ({', '.join(collection.source_key_columns)}: `_id: oid` or "
            "`_id: key`), to delete the document of a row that is gone",
            table=collection.table,
        )
    return shape


@dataclass(frozen=True)
class Rebuilt:
    documents: list[Encoded]
    deleted: list[object]  # `_id`s
    rejected: list[batches.Rejected]


class Rebuilder:
    """Rebuilds one collection's documents for root keys, on a connection the caller opens
    (one snapshot per round)."""

    def __init__(self, collection: p.CollectionPlan, compiler: Compiler):
        self.collection = collection
        self.compiler = compiler
        self.id = id_shape(collection)
        query = collection.query
        self.query = replace(
            query,
            link=tuple(p.ColumnRef(query.alias, c) for c in collection.source_key_columns),
        )
        self._extractor: Extractor | None = None  # the round's, which the builder reads through
        self._builder: Builder | None = None  # made (its code generated) once

    def rebuild(self, extractor: Extractor, keys: Iterable[Key], typed: bool = False) -> Rebuilt:
        """The documents of `keys` (text or typed values alike: compared by their text);
        `typed`: they are all values as the source reads them (else the `_id`s of the keys
        that are gone are made from their text)."""
        wanted = {key_text(key): key for key in keys}
        if not wanted:
            return Rebuilt([], [], [])
        collection = self.collection
        self._extractor = extractor
        if self._builder is None:
            self._builder = Builder(collection, self._children, by_range=lambda *_: False)
        builder = self._builder
        statement, _ = self.compiler.statement(self.query)
        parameters = list(wanted.values())
        if len(collection.source_key_columns) == 1:
            parameters = [key[0] for key in parameters]
        rows: list[Any] = list(extractor.connection.execute(statement, {KEYS: parameters}).all())
        built = batches.encode_batch(collection, *builder.build_each(rows, None), (), None)
        found = {key_text(item.key) for item in built.documents}
        gone = [key for text, key in wanted.items() if text not in found]
        deleted = self.ids_of(gone) if typed else self.ids(extractor.connection, gone)
        return Rebuilt(built.documents, deleted, built.rejected)

    def _children(self, children: p.Children, parents: list[Any] | p.Span) -> list[Row]:
        assert self._extractor is not None  # set by `rebuild` before the builder runs
        return self._extractor.children(children, parents)

    def ids(self, connection: sa.Connection, keys: list[Key]) -> list[object]:
        """The `_id`s of root keys given as text (a change's values): each key read back as
        its column's type by the source, so that it is the value a run reads."""
        if not keys:
            return []
        table = self.compiler.table(self.collection.table)
        columns = [table.c[name] for name in self.collection.source_key_columns]
        typed = connection.execute(
            sa.select(
                *(
                    sa.func.unnest(
                        sa.cast(
                            sa.literal([str(key[i]) for key in keys], postgresql.ARRAY(sa.Text)),
                            postgresql.ARRAY(column.type),
                        ),
                        type_=column.type,
                    )
                    for i, column in enumerate(columns)
                )
            )
        ).all()
        return self.ids_of(tuple(key) for key in typed)

    def ids_of(self, keys: Iterable[Key]) -> list[object]:
        """The `_id`s of root keys of typed values (as the source reads them)."""
        width = max(self.id.indexes) + 1
        ids: list[object] = []
        for key in keys:
            row: list[Any] = [None] * width
            for index, value in zip(self.id.indexes, key, strict=True):
                row[index] = value
            ids.append(convert.document_id(self.id, row))
        return ids
