"""The compiled plan: immutable values that say what to read and how to shape documents.

A plan holds names and values only (no live SQLAlchemy or pymongo objects): plans compare with
`==`, print stably, and are built without a database. `compile.py` turns a plan's queries into
SQL; `engine/build.py` turns rows into documents by following its shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal, TypeVar, cast

FieldPath = tuple[str, ...]
T = TypeVar("T")
AggregateFunction = Literal["count", "sum", "min", "max", "avg"]
IdKind = Literal["oid", "key", "column"]  # how a `DocumentId` is made from its key values
Excess = Literal["reject", "truncate"]  # a row past an array's limit or `max_depth`: its fate


# --- Reading: what each query selects -------------------------------------------------------


@dataclass(frozen=True)
class Hop:
    """A join from `left_alias` to `table AS alias` on (left column, this column) pairs."""

    table: str
    alias: str
    left_alias: str
    on: tuple[tuple[str, str], ...]
    many: bool


@dataclass(frozen=True)
class Condition:
    """`alias.column <op> value`; op is eq, ne, lt, lte, gt, gte, in, not_in or is_null."""

    alias: str
    column: str
    op: str
    value: Any


@dataclass(frozen=True)
class BoolOp:
    """`and` or `or` of filters."""

    op: Literal["and", "or"]
    items: tuple[Filter, ...]


@dataclass(frozen=True)
class KeyRange:
    """`after < (alias.c1, alias.c2, ...) <= through` in key order (either bound may be
    open): a continuation after a checkpoint, or one parallel worker's batch."""

    alias: str
    columns: tuple[str, ...]
    after: tuple[Any, ...] | None
    through: tuple[Any, ...] | None = None


Filter = Condition | BoolOp | KeyRange
Span = tuple[tuple[Any, ...] | None, tuple[Any, ...]]  # root keys (after, through] of a batch


@dataclass(frozen=True)
class ColumnRef:
    """A column selected into a query's rows; its position is its index in `Query.selects`."""

    alias: str
    column: str
    cast: str | None = None


@dataclass(frozen=True)
class AggregateRef:
    """An aggregate over the rows reached by `hops` from `hops[0].left_alias`: one
    per join path, or with `distinct_key`, one per row of the last table."""

    function: AggregateFunction
    hops: tuple[Hop, ...]
    column: str | None
    filter: Filter | None
    distinct_key: tuple[str, ...] = ()  # `distinct`: each row of the last table once, by key
    cast: str | None = None  # as `ColumnRef.cast`: the column's SQL cast (money → numeric)


Select = ColumnRef | AggregateRef


@dataclass(frozen=True)
class Ordering:
    """Sort by the value at `index` of a query's selects; NULLs always last."""

    index: int
    descending: bool = False


@dataclass(frozen=True)
class Query:
    """SELECT selects FROM table AS alias, joins, WHERE filter [AND link IN (parent keys)].

    Inner joins for `many` hops of a child path, left outer joins for many-to-one hops.
    `link` are the (alias, column) pairs matched against the parent's key values; `order`
    sorts the rows (text by code point whatever the database's collation).
    """

    table: str
    alias: str
    joins: tuple[Hop, ...]
    selects: tuple[Select, ...]
    filter: Filter | None = None
    link: tuple[ColumnRef, ...] = ()
    order: tuple[Ordering, ...] = ()


# --- Shaping: how row values become document fields -----------------------------------------


@dataclass(frozen=True)
class Value:
    """A field from one selected value, converted by a named conversion."""

    path: FieldPath
    index: int
    conversion: str
    keep_null: bool
    source: str = ""


@dataclass(frozen=True)
class Constant:
    """A value written into every document; `conversion` (a `type:`) converts it, text parsed
    first (`"7"` as `int` is 7)."""

    path: FieldPath
    value: Any
    conversion: str | None = None


@dataclass(frozen=True)
class Template:
    """A sandboxed jinja2 template over named row values (name, index) pairs."""

    path: FieldPath
    template: str
    variables: tuple[tuple[str, int], ...]
    conversion: str
    keep_null: bool


@dataclass(frozen=True)
class DocumentId:
    """An `_id` computed from key values: oid(table, key text), the key itself, or a column."""

    path: FieldPath
    rule: IdKind
    table: str
    columns: tuple[str, ...]
    indexes: tuple[int, ...]
    keep_null: bool = False
    conversions: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubDocument:
    """A nested document; absent when the value at `present_index` is NULL (no related row)."""

    path: FieldPath
    fields: tuple[Shape, ...]
    present_index: int | None = None
    keep_null: bool = False


@dataclass(frozen=True)
class Children:
    """An array built from a child query, matched to its parent by key values."""

    path: FieldPath
    query: Query
    parent_key: tuple[int, ...]
    element: SubDocument | DocumentId
    limit: int | None = None
    overflow: Excess | None = None


@dataclass(frozen=True)
class Length:
    """The number of elements of the array at `array` in the same document, converted: a
    `count` of the very rows that array embeds, so no SQL aggregate is needed."""

    path: FieldPath
    array: FieldPath
    conversion: str
    source: str = ""
    keep_null: ClassVar[bool] = False  # a length is never null


@dataclass(frozen=True)
class DepthGuard:
    """Where a self-embed stops at its `max_depth`: no field. A row whose data goes deeper
    (the next level's row is present at `present_index`, for a sub-document; `deeper` has
    rows for it, for an array) is rejected (`policy` reject) or counted as truncated."""

    path: FieldPath
    policy: Excess
    present_index: int | None = None
    deeper: Children | None = None
    keep_null: ClassVar[bool] = False


Shape = Value | Constant | Template | DocumentId | SubDocument | Children | Length | DepthGuard


@dataclass(frozen=True)
class Index:
    """A target index: its keys and directions, and its options."""

    keys: tuple[tuple[str, Any], ...]
    unique: bool = False
    sparse: bool = False
    name: str | None = None


@dataclass(frozen=True)
class CollectionPlan:
    """Everything needed to build and write one target collection."""

    name: str
    file: str
    table: str
    query: Query
    document: SubDocument
    source_key: tuple[int, ...]
    source_key_columns: tuple[str, ...]
    indexes: tuple[Index, ...] = ()
    validator: bool = False
    write: Literal["upsert", "rebuild"] = "upsert"
    database: str | None = None


@dataclass(frozen=True)
class Plan:
    """The plans of every target collection of a run."""

    collections: tuple[CollectionPlan, ...]

    def collection(self, name: str) -> CollectionPlan:
        return next(c for c in self.collections if c.name == name)


# --- Walking shapes: the one place that knows which shapes hold others --------------------


SHAPES: tuple[type, ...] = (
    Value,
    Constant,
    Template,
    DocumentId,
    SubDocument,
    Children,
    Length,
    DepthGuard,
)
ELEMENTS = "*"  # an array's elements in a walked path (`items.*.price`)


@dataclass(frozen=True)
class Place:
    """A field found by `walk`: its path in the walked document (an array's elements under
    `*`), the array whose child rows build it (None: the walked document's row), and the
    indexes whose NULL makes a sub-document enclosing it in that row absent."""

    path: FieldPath
    field: Shape
    array: Children | None = None
    present: tuple[int, ...] = ()


def walk(shape: SubDocument, arrays: bool = True, guards: bool = False) -> Iterator[Place]:
    """Every field of a document shape, depth first and in order: a sub-document before its
    fields, an array before its elements (`arrays=False`: not entered, the fields of one
    row); with `guards`, a depth guard's array of deeper rows (which the run reads) after it."""
    yield from _walk(shape, (), None, (), arrays, guards)


def _walk(
    shape: SubDocument,
    prefix: FieldPath,
    array: Children | None,
    present: tuple[int, ...],
    arrays: bool,
    guards: bool,
) -> Iterator[Place]:
    for field in shape.fields:
        path = prefix + field.path
        yield Place(path, field, array, present)
        if isinstance(field, SubDocument):
            inner = present if field.present_index is None else (*present, field.present_index)
            yield from _walk(field, path, array, inner, arrays, guards)
        elif guards and isinstance(field, DepthGuard) and field.deeper is not None:
            yield Place(path, field.deeper, array, present)
            if arrays:
                yield from _elements(field.deeper, path, arrays, guards)
        elif isinstance(field, Children) and arrays:
            yield from _elements(field, path, arrays, guards)


def _elements(children: Children, path: FieldPath, arrays: bool, guards: bool) -> Iterator[Place]:
    element, path = children.element, (*path, ELEMENTS)
    if isinstance(element, SubDocument):
        yield from _walk(element, path, children, (), arrays, guards)
    else:
        yield Place(path, element, children)


def by_kind(functions: Mapping[type, Callable[..., T]]) -> Callable[..., T]:
    """A function of a field that calls the one of `functions` for its kind, with the same
    arguments; `functions` must have one for every kind of `SHAPES` (refused here, when the
    table is made, rather than when a plan first holds the kind it lacks)."""
    if set(functions) != set(SHAPES):
        missing = ", ".join(kind.__name__ for kind in SHAPES if kind not in functions)
        raise TypeError(f"a function per shape kind is needed; missing: {missing or 'none'}")

    def call(field: Shape, *args: Any) -> T:
        return functions[type(field)](field, *args)

    return call


def children_of(shape: SubDocument, guards: bool = False) -> tuple[Children, ...]:
    """The arrays fed by child queries of the row that builds `shape` (not their own); with
    `guards`, also the child queries of its depth guards (the run reads them too)."""
    return tuple(
        place.field
        for place in walk(shape, arrays=False, guards=guards)
        if isinstance(place.field, Children)
    )


def conversions(shape: SubDocument) -> list[tuple[FieldPath, str]]:
    """(field path, conversion) of every value in a document shape, arrays included (their
    elements' fields continue the array's path)."""
    found: list[tuple[FieldPath, str]] = []
    for place in walk(shape):
        field = place.field
        if isinstance(field, Value | Template | Length | Constant) and field.conversion is not None:
            found.append((tuple(part for part in place.path if part != ELEMENTS), field.conversion))
    return found


def with_conversion(shape: SubDocument, old: str, new: str) -> SubDocument:
    """The same shape with every `old` conversion replaced by `new`."""

    def change(field: Shape) -> Shape:
        if isinstance(field, Value | Template | Length | Constant) and field.conversion == old:
            return replace(field, conversion=new)
        return field

    return mapped(shape, change)


def mapped(shape: SubDocument, change: Callable[[Shape], Shape]) -> SubDocument:
    """The shape with `change` applied to each of its fields, those of its sub-documents and
    of its arrays' element documents included (inner fields first)."""
    fields: list[Shape] = []
    for field in shape.fields:
        if isinstance(field, SubDocument):
            field = replace(field, fields=mapped(field, change).fields)
        elif isinstance(field, Children) and isinstance(field.element, SubDocument):
            field = replace(field, element=mapped(field.element, change))
        fields.append(change(field))
    return replace(shape, fields=tuple(fields))


def with_decimals(plan: Plan, decimal_as: str) -> Plan:
    """The plan with decimals stored as `decimal_as` (`decimal128`, `string` or `double`):
    the one option that changes documents, applied to the plan before anything identifies it
    (a checkpoint's fingerprint) or compares with it (validate)."""
    if decimal_as == "decimal128":
        return plan
    return Plan(
        tuple(
            replace(c, document=with_conversion(c.document, "decimal128", decimal_as))
            for c in plan.collections
        )
    )


def in_key_range(
    collection: CollectionPlan,
    after: tuple[Any, ...] | None,
    through: tuple[Any, ...] | None = None,
) -> Query:
    """The root query for keys after `after` up to `through` (None: an open bound): the rest
    of a run after a checkpoint, or one worker's batch."""
    query = collection.query
    return _narrowed(query, KeyRange(query.alias, collection.source_key_columns, after, through))


def read_by_range(collection: CollectionPlan, children: Children) -> bool:
    """Whether an array of the root document can be read, for a batch of root rows, by the
    batch's key range rather than by its list of keys: the array hangs on the root's key and
    the root query has no filter, so the range holds the batch's parents and no others (and
    comparing an indexed column with two bounds is far cheaper for the database than
    matching it against a thousand keys)."""
    query = children.query
    return (
        collection.query.filter is None
        and children.parent_key == collection.source_key
        and len({ref.alias for ref in query.link}) == 1
        and any(children is field for field in children_of(collection.document))
    )


def children_in_range(children: Children, span: Span) -> Query:
    """An array's child query for the parents whose root keys are in `span` (see
    `read_by_range`): its link columns compared with the bounds."""
    query = children.query
    columns = tuple(ref.column for ref in query.link)
    return _narrowed(replace(query, link=()), KeyRange(query.link[0].alias, columns, *span))


def _narrowed(query: Query, condition: Filter) -> Query:
    """The query with `condition` added to its filter."""
    return replace(
        query,
        filter=condition if query.filter is None else BoolOp("and", (query.filter, condition)),
    )


def rows_after(query: Query, after: tuple[Any, ...]) -> Query:
    """A query ordered by a key (its `order`: ascending columns of its own table), for the
    rows after key `after`: the next page of a read in pages."""
    columns = tuple(
        cast(ColumnRef, query.selects[ordering.index]).column for ordering in query.order
    )
    return _narrowed(query, KeyRange(query.alias, columns, after))


def keys_after(
    collection: CollectionPlan,
    after: tuple[Any, ...] | None,
    through: tuple[Any, ...] | None = None,
) -> Query:
    """The root table's keys after `after` up to `through` (None: to the end), in the root
    query's order; without its joins or filter (a worker's batch applies them)."""
    query, columns = collection.query, collection.source_key_columns
    return Query(
        query.table,
        query.alias,
        (),
        tuple(ColumnRef(query.alias, column) for column in columns),
        KeyRange(query.alias, columns, after, through),
        order=tuple(Ordering(index) for index in range(len(columns))),
    )
