"""How a changed row of any table reaches the root documents it is part of.

For every place a collection's plan reads a table (the root, a many-to-one hop, an array's
rows, a join table, an aggregate's rows, at any depth), a `Reach` says which columns of the
changed row locate its parents, and the query that turns those values into root keys: the
plan's own join path from the root down to the parent, walked in reverse. A change affects
the roots its old and its new values reach. Filters are left out of these queries: they can
only make the set of roots rebuilt larger, never miss one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from mapper import plan as p


@dataclass(frozen=True)
class Reach:
    """A changed row of `table` reaches roots of `collection` through its `columns`' values:
    directly (`query` None: they are the root key) or through `query`, whose `link` is
    matched against them and which selects root keys."""

    collection: str
    table: str
    columns: tuple[str, ...]
    query: p.Query | None


@dataclass
class _Path:
    """The joins from the root to the aliases seen so far (renamed apart: queries of
    different levels reuse alias names)."""

    collection: p.CollectionPlan
    hops: dict[str, p.Hop] = field(default_factory=dict)  # new alias → the hop that made it
    count: int = 0

    def alias(self) -> str:
        self.count += 1
        return f"r{self.count}"

    def to(self, alias: str) -> tuple[p.Hop, ...]:
        """The hops from the root to `alias`, root first."""
        chain: list[p.Hop] = []
        while alias in self.hops:
            hop = self.hops[alias]
            chain.append(hop)
            alias = hop.left_alias
        return tuple(reversed(chain))


ROOT = "r0"


def reaches(collection: p.CollectionPlan) -> list[Reach]:
    """Every way a row change reaches this collection's roots."""
    path = _Path(collection)
    query = collection.query
    found = [Reach(collection.name, collection.table, collection.source_key_columns, None)]
    found += _query(path, query, {query.alias: ROOT}, collection.document)
    return found


def _query(
    path: _Path, query: p.Query, names: dict[str, str], shape: p.SubDocument
) -> Iterator[Reach]:
    """The reaches of a query's joins, aggregates and arrays; `names` renames its aliases
    (its own already named)."""
    for hop in query.joins:
        yield from _hop(path, hop, names)
    for select in query.selects:
        if isinstance(select, p.AggregateRef):
            inner = dict(names)
            for hop in select.hops:
                yield from _hop(path, hop, inner)
    for children in p.children_of(shape, guards=True):
        yield from _children(path, query, names, children)


def _hop(path: _Path, hop: p.Hop, names: dict[str, str]) -> Iterator[Reach]:
    """The reach of a joined table, whose parent is `hop.left_alias`; names its alias."""
    left = names[hop.left_alias]
    yield _reach(path, hop.table, left, hop.on)
    names[hop.alias] = alias = path.alias()
    path.hops[alias] = p.Hop(hop.table, alias, left, hop.on, many=True)


def _children(
    path: _Path, parent: p.Query, names: dict[str, str], children: p.Children
) -> Iterator[Reach]:
    """The reaches of an array's rows: its table hangs on the parent's key values."""
    refs = [parent.selects[index] for index in children.parent_key]
    lefts = {ref.alias for ref in refs if isinstance(ref, p.ColumnRef)}
    if len(lefts) != 1 or len(refs) != len(children.query.link):
        raise ValueError(f"array `{'.'.join(children.path)}`: its parent key is not one table's")
    query = children.query
    on = tuple(
        (ref.column, link.column)
        for ref, link in zip(refs, query.link, strict=True)
        if isinstance(ref, p.ColumnRef)
    )
    hop = p.Hop(query.table, query.alias, lefts.pop(), on, many=True)
    inner = dict(names)
    yield from _hop(path, hop, inner)
    element = children.element if isinstance(children.element, p.SubDocument) else None
    yield from _query(path, query, inner, element or p.SubDocument((), ()))


def _reach(path: _Path, table: str, left: str, on: tuple[tuple[str, str], ...]) -> Reach:
    """A row of `table` joined to alias `left` on `on` pairs: the roots whose `left` row
    holds its values."""
    collection = path.collection
    columns = tuple(this for _, this in on)
    lefts = tuple(column for column, _ in on)
    if left == ROOT and lefts == collection.source_key_columns:
        return Reach(collection.name, table, columns, None)
    root = collection.query
    query = p.Query(
        root.table,
        ROOT,
        path.to(left),
        tuple(p.ColumnRef(ROOT, column) for column in collection.source_key_columns),
        link=tuple(p.ColumnRef(left, column) for column in lefts),
    )
    return Reach(collection.name, table, columns, query)


def tables(plan: p.Plan) -> dict[str, list[Reach]]:
    """The reaches of every collection of `plan`, by the table whose change they follow."""
    by_table: dict[str, list[Reach]] = {}
    for collection in plan.collections:
        for reach in reaches(collection):
            by_table.setdefault(reach.table, []).append(reach)
    return by_table
