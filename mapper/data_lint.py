"""The data checks of `mapper lint` (`mapper.api.lint` runs the others first): arrays whose
largest parent has more elements than a threshold (unbounded arrays), the largest
documents against the 16 MiB limit, and `key`s of views that repeat in their rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from mapper import plan as p
from mapper.catalog import Catalog
from mapper.compile import Compiler
from mapper.engine.build import Builder
from mapper.engine.extract import Extractor, snapshot
from mapper.engine.load import MAX_DOCUMENT_BYTES, encode
from mapper.errors import Problem, Severity
from mapper.ids import key_text
from mapper.resolve.keys import named_keys
from mapper.spec import MappingFile
from mapper.spec.read import JsonPath

MAX_CHILDREN = 1000
SIZE_WARNING = MAX_DOCUMENT_BYTES * 3 // 4


def data_problems(
    mappings: Sequence[MappingFile],
    plan: p.Plan,
    engine: sa.Engine,
    catalog: Catalog,
    max_children: int,
) -> list[Problem]:
    """Unbounded arrays and oversized documents, found in the source's data."""
    files = {mapping.path: mapping for mapping in mappings}
    found: list[Problem] = []
    with snapshot(engine) as connection:
        compiler = Compiler(catalog)
        extractor = Extractor(connection, compiler)
        for collection in plan.collections:
            found += _collection_problems(
                files[collection.file], collection, extractor, max_children
            )
        found += _key_problems(mappings, connection, compiler)
    return found


def _key_problems(
    mappings: Sequence[MappingFile], connection: sa.Connection, compiler: Compiler
) -> Iterator[Problem]:
    """A `key` that repeats in its view's rows (where it is first named): the run would
    make one `_id` of several rows, and a join to it would repeat its parent."""
    checked: set[str] = set()
    for mapping in mappings:
        for name, key, path in named_keys(mapping):
            known = compiler.catalog.table(name)
            if name in checked or known is None or known.primary_key != key:
                continue
            checked.add(name)
            table = compiler.table(name)
            columns = [table.c[column] for column in key]
            repeated = sa.select(*columns).group_by(*columns).having(sa.func.count() > 1)
            count = connection.execute(
                sa.select(sa.func.count()).select_from(repeated.subquery())
            ).scalar_one()
            if count:
                yield _problem(
                    mapping,
                    path,
                    "error",
                    f"the key ({', '.join(key)}) of `{name}` is not unique: "
                    f"{count:,} {'value is' if count == 1 else 'values are'} "
                    "shared by several rows",
                    "name the columns that tell every row apart",
                )


def _collection_problems(
    mapping: MappingFile, collection: p.CollectionPlan, extractor: Extractor, max_children: int
) -> Iterator[Problem]:
    candidates: list[p.Filter] = []
    for children in p.children_of(collection.document):
        largest = extractor.largest_group(children)
        if largest is None:
            continue
        key, size = largest
        where = ("collections", collection.name, "fields", ".".join(children.path))
        if children.limit is None and size > max_children:
            yield _problem(
                mapping,
                where,
                "warning",
                f"array `{'.'.join(children.path)}` of `{collection.name}` is "
                f"unbounded: its largest parent (key `{key_text(key)}`) has "
                f"{size:,} elements, more than {max_children:,}",
                "add `limit` with an `overflow` policy, or reference instead",
            )
        candidates.append(_parent_filter(collection.query, children, key))
    yield from _size_problems(mapping, collection, extractor, candidates)
    yield from _depth_problems(mapping, collection, extractor)


def _depth_problems(
    mapping: MappingFile, collection: p.CollectionPlan, extractor: Extractor
) -> Iterator[Problem]:
    """How many rows go deeper than a self-embed's `max_depth`, and what `on_depth` does
    with them (exact for the root's own chains; a bound inside arrays)."""
    for guard, query in _depth_guards(collection.document, collection.query):
        if guard.deeper is not None:
            deeper = extractor.count_rows(guard.deeper.query)
        else:
            ref = _column(query, guard.present_index)
            present = p.Condition(ref.alias, ref.column, "is_null", False)
            deeper = extractor.count_rows(
                replace(
                    query,
                    filter=present
                    if query.filter is None
                    else p.BoolOp("and", (query.filter, present)),
                )
            )
        if not deeper:
            continue
        name = ".".join(guard.path)
        rows = f"{deeper:,} rows" if query is collection.query else f"up to {deeper:,} rows"
        other = "truncate" if guard.policy == "reject" else "reject"
        fields = mapping.data["collections"][collection.name].get("fields") or {}
        where = ("collections", collection.name, *(("fields", name) if name in fields else ()))
        yield _problem(
            mapping,
            where,
            "warning",
            f"`{name}` of `{collection.name}`: {rows} "
            f"go deeper than its `max_depth`: on_depth {guard.policy} "
            f"{_DEPTH_EFFECTS[guard.policy]}",
            f"on_depth: {other} {_DEPTH_EFFECTS[other]} instead",
        )


_DEPTH_EFFECTS = {
    "reject": "rejects the documents that hold them",
    "truncate": "leaves their deeper levels out (counted as truncated)",
}


def _depth_guards(shape: p.SubDocument, query: p.Query) -> Iterator[tuple[p.DepthGuard, p.Query]]:
    """Every depth guard of a document shape, with the query whose rows it looks at."""
    for place in p.walk(shape):
        if isinstance(place.field, p.DepthGuard):
            yield place.field, query if place.array is None else place.array.query


def _parent_filter(query: p.Query, children: p.Children, key: tuple[Any, ...]) -> p.Filter:
    conditions = []
    for index, value in zip(children.parent_key, key, strict=True):
        ref = _column(query, index)
        conditions.append(p.Condition(ref.alias, ref.column, "eq", value))
    return p.BoolOp("and", tuple(conditions))


def _column(query: p.Query, index: int | None) -> p.ColumnRef:
    """The column a query selects at `index`: a key's or a row's presence, never an
    aggregate (and a depth guard without `deeper` always has its `present_index`)."""
    ref = None if index is None else query.selects[index]
    if not isinstance(ref, p.ColumnRef):
        raise AssertionError(f"the plan selects no column at {index} of `{query.table}`")
    return ref


def _size_problems(
    mapping: MappingFile,
    collection: p.CollectionPlan,
    extractor: Extractor,
    candidates: list[p.Filter],
) -> Iterator[Problem]:
    """Build the documents of the parents with the most elements and weigh them."""
    builder = Builder(collection, extractor.children)
    worst: tuple[int, tuple[Any, ...]] = (0, ())
    for condition in candidates:
        items = tuple(x for x in (collection.query.filter, condition) if x is not None)
        query = replace(collection.query, filter=p.BoolOp("and", items))
        rows = next(extractor.batches(query, 1, collection.table), [])[:1]
        for row, document in builder.build_batch(rows).documents:
            size = len(encode(document))
            if size > worst[0]:
                worst = (size, tuple(row[i] for i in collection.source_key))
    size, key = worst
    where = ("collections", collection.name)
    if size > MAX_DOCUMENT_BYTES:
        yield _problem(
            mapping,
            where,
            "error",
            f"the largest document of `{collection.name}` "
            f"(key `{key_text(key)}`) is {size / 2**20:.1f} MiB, over MongoDB's "
            "16 MiB limit",
            "limit or reference its largest arrays",
        )
    elif size > SIZE_WARNING:
        yield _problem(
            mapping,
            where,
            "warning",
            f"the largest document of "
            f"`{collection.name}` (key `{key_text(key)}`) is "
            f"{size / 2**20:.1f} MiB, close to MongoDB's 16 MiB limit",
        )


def _problem(
    mapping: MappingFile, path: JsonPath, severity: Severity, message: str, hint: str = ""
) -> Problem:
    line, column = mapping.position(path)
    return Problem(mapping.path, line, column, message, path, hint, severity)
