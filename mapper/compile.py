"""Plan queries → SQLAlchemy Core statements, with quoted identifiers and bound parameters."""

from __future__ import annotations

import decimal
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.elements import KeyedColumnElement
from sqlalchemy.sql.selectable import NamedFromClause

from mapper import plan as p
from mapper.catalog import MYSQL, Catalog, Column
from mapper.types import Unrepresentable, unrepresentable

KEYS = "keys"

Statement = sa.Select[*tuple[Any, ...]]  # a SELECT of columns of any types
TableAlias = NamedFromClause[ReadOnlyColumnCollection[str, sa.Column[Any]]]
Aliases = dict[str, TableAlias]  # a query's alias → its table under that alias
Source = sa.FromClause[ReadOnlyColumnCollection[str, KeyedColumnElement[Any]]]  # FROM: joins
_Value = TypeVar("_Value")


class TextUuid(sa.types.TypeDecorator[str]):
    """A uuid column, read as text. psycopg2 gives the text itself (the snapshot connection
    is set up so, `extract.snapshot`): no conversion per value; other drivers keep
    SQLAlchemy's (which also normalizes uuids stored as 32 hex digits)."""

    impl = sa.Uuid(as_uuid=False)
    cache_ok = True

    def result_processor(
        self, dialect: sa.engine.Dialect, coltype: object
    ) -> Callable[[Any], str | None] | None:
        if dialect.driver == "psycopg2":
            return None
        return super().result_processor(dialect, coltype)


class EnumText(sa.types.TypeDecorator[str]):
    """An enum column, read as its labels' text and compared as text (`Compiler.collated`)."""

    impl = sa.Text
    cache_ok = True


class Guarded(sa.types.TypeDecorator[_Value | Unrepresentable]):
    """A column type whose driver-side reading cannot fail a batch: a value that does not
    read as `kind` becomes an `Unrepresentable` marker, which conversions reject naming its
    column and key. SQLite keeps any value in any column (text in a DATE, `10000-01-01`,
    invalid JSON); psycopg2 reads through the snapshot's typecasters (`extract.snapshot`)."""

    # the wrapped type, given to __init__ (declared as broadly as TypeDecorator declares it)
    impl: sa.types.TypeEngine[Any] | type[sa.types.TypeEngine[Any]] = sa.types.NullType
    cache_ok = True

    def __init__(self, impl: sa.types.TypeEngine[_Value], kind: str):
        super().__init__()
        self.impl = impl
        self.kind = kind

    def result_processor(
        self, dialect: sa.engine.Dialect, coltype: object
    ) -> Callable[[Any], _Value | Unrepresentable | None] | None:
        process = self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)
        if process is None or dialect.driver == "psycopg2":
            return process
        kind = self.kind

        def guarded(value: Any) -> _Value | Unrepresentable | None:
            try:
                return process(value)
            except (ValueError, TypeError, ArithmeticError):
                return unrepresentable(kind, str(value))

        return guarded


class AsStored(sa.types.TypeDecorator[decimal.Decimal | int | float | str]):
    """A numeric column without a declared scale, read as the driver gives it (PostgreSQL:
    a Decimal; SQLite: the integer, float or text it stores), so that no scale is invented
    (SQLAlchemy would give SQLite's 3 as 3.0000000000)."""

    impl = sa.Numeric
    cache_ok = True

    def result_processor(self, dialect: sa.engine.Dialect, coltype: object) -> None:
        return None


_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "bool": Guarded(sa.Boolean(), "bool"),
    "int32": sa.Integer(),
    "int64": sa.BigInteger(),
    "double": sa.Float(),
    "uuid": Guarded(TextUuid(), "uuid"),
    "text": sa.Text(),
    "enum": EnumText(),
    "datetime": Guarded(sa.DateTime(), "timestamp"),
    "date": Guarded(sa.Date(), "date"),
    "time": Guarded(sa.Time(), "time"),
    "interval": Guarded(sa.Interval(), "interval"),
    "json": Guarded(sa.JSON(), "json"),
    "binary": sa.LargeBinary(),
}


def _column_type(column: Column, dialect: str) -> sa.types.TypeEngine[Any]:
    if dialect in MYSQL:
        from mapper import mysql_types

        if column.sql_type.startswith("BIT"):  # bytes, read as a number
            return mysql_types.bits(column.kind)
        if column.kind == "time":
            return Guarded(mysql_types.TimeOfDay(), "time")
    if column.kind == "decimal" and column.scale is None:
        return AsStored(asdecimal=True)
    if column.kind == "decimal":
        return Guarded(sa.Numeric(scale=column.scale, asdecimal=True), "decimal")
    return _TYPES.get(column.kind, sa.types.NullType())


class Compiler:
    """Builds statements for one catalog; table objects are made once from its names."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.metadata = sa.MetaData()
        self._tables: dict[str, sa.Table] = {}
        self._statements: dict[p.Query, Statement] = {}

    def table(self, name: str) -> sa.Table:
        if name not in self._tables:
            info = self.catalog.tables[name]
            columns = [
                sa.Column(c.name, _column_type(c, self.catalog.dialect)) for c in info.columns
            ]
            self._tables[name] = sa.Table(
                info.table_name, self.metadata, *columns, schema=info.schema
            )
        return self._tables[name]

    def select(self, query: p.Query) -> Statement:
        """The statement for a query; child queries take the parent keys as `:keys`. The
        aggregates over the same join paths are one grouped derived table over the query's
        rows, outer-joined by key."""
        aliases, source = self._source(query)
        values: dict[int, sa.ColumnElement[Any]] = {}
        for group in _over_the_same_paths(query.selects):
            source = self._join_aggregates(group, query, aliases, source, values)
        columns = [
            (values[i] if isinstance(item, p.AggregateRef) else self._column(item, aliases)).label(
                f"s{i}"
            )
            for i, item in enumerate(query.selects)
        ]
        statement = sa.select(*columns).select_from(source).where(*self._where(query, aliases))
        if query.order:
            statement = statement.order_by(
                *(
                    clause
                    for ordering in query.order
                    for clause in self._order(query, ordering, columns)
                )
            )
        return statement

    def _join_aggregates(
        self,
        group: list[tuple[int, p.AggregateRef]],
        query: p.Query,
        aliases: Aliases,
        source: Source,
        values: dict[int, sa.ColumnElement[Any]],
    ) -> Source:
        """The source outer-joined to the grouped table of aggregates over the same join
        paths; their values into `values` by select index (a count of no rows is 0; any other
        aggregate of no rows is NULL, as in SQL)."""
        first = group[0][1].hops[0]
        grouped = self._grouped(group, query, f"g{group[0][0]}")
        left = aliases[first.left_alias]
        matched = sa.and_(
            *(left.c[column] == grouped.c[f"k{i}"] for i, (column, _) in enumerate(first.on))
        )
        for number, (index, item) in enumerate(group):
            value: sa.ColumnElement[Any] = grouped.c[f"v{number}"]
            if item.function == "count":
                value = sa.func.coalesce(value, sa.literal_column("0"))
            values[index] = value
        return source.outerjoin(grouped, matched)

    def _source(self, query: p.Query) -> tuple[Aliases, Source]:
        """A query's tables under their aliases (new alias objects each call), and its joins."""
        aliases: Aliases = {query.alias: self.table(query.table).alias(query.alias)}
        source: Source = aliases[query.alias]
        for hop in query.joins:
            aliases[hop.alias] = self.table(hop.table).alias(hop.alias)
            condition = self._on(aliases[hop.left_alias], aliases[hop.alias], hop.on)
            source = source.join(aliases[hop.alias], condition, isouter=not hop.many)
        return aliases, source

    def _where(self, query: p.Query, aliases: Aliases) -> list[sa.ColumnElement[bool]]:
        """A query's filter and its link to the parent keys, as conditions."""
        conditions = [] if query.filter is None else [self.condition(query.filter, aliases)]
        return conditions + ([self._link(query, aliases)] if query.link else [])

    def statement(self, query: p.Query) -> tuple[Statement, dict[str, Any]]:
        """The statement of a query with its parameters, built once whatever the bounds of
        its key range: those come as parameters (each batch has bounds of its own, and
        building a statement costs more than reading a few rows)."""
        shape, parameters = _bounds_apart(query)
        if shape not in self._statements:
            self._statements[shape] = self.select(shape)
        return self._statements[shape], parameters

    def _link(self, query: p.Query, aliases: Aliases) -> sa.ColumnElement[bool]:
        """`link IN (:keys)`; in PostgreSQL one array parameter, `link = ANY(:keys)`."""
        link = [aliases[ref.alias].c[ref.column] for ref in query.link]
        if len(link) > 1:
            return sa.tuple_(*link).in_(sa.bindparam(KEYS, expanding=True))
        if self.catalog.dialect == "postgresql":
            column: sa.ColumnElement[Any] = link[0]
            if isinstance(column.type, EnumText):  # no enum = text operator
                column = sa.cast(column, sa.Text)
            keys = sa.cast(sa.bindparam(KEYS), postgresql.ARRAY(column.type))
            return column == sa.any_(keys)
        return link[0].in_(sa.bindparam(KEYS, expanding=True))

    def _order(
        self, query: p.Query, ordering: p.Ordering, columns: list[sa.Label[Any]]
    ) -> list[sa.ColumnElement[Any]]:
        """Text by code point (`collated`), NULLs last in either direction: `NULLS LAST`, or
        where the dialect lacks it (MySQL), `x IS NULL` sorted first."""
        label = columns[ordering.index]
        expression: sa.ColumnElement[Any] = label
        if isinstance(query.selects[ordering.index], p.ColumnRef):
            collated = self.collated(label.element)
            expression = label if collated is label.element else collated
        ordered = expression.desc() if ordering.descending else expression.asc()
        if self.catalog.dialect not in MYSQL:
            return [ordered.nulls_last()]
        # `x IS NULL` of a column that cannot be NULL would still cost the index's order
        nullable = self._may_be_null(query, query.selects[ordering.index])
        return [expression.is_(None), ordered] if nullable else [ordered]

    def _may_be_null(self, query: p.Query, item: p.Select) -> bool:
        """Whether a query's select may give NULL: an aggregate, a nullable column, or any
        column of a table joined by a left outer join (a many-to-one hop)."""
        if not isinstance(item, p.ColumnRef):
            return True
        if any(hop.alias == item.alias and not hop.many for hop in query.joins):
            return True
        column = self.catalog.tables[_tables_of(query)[item.alias]].column(item.column)
        return column is None or column.nullable

    def _key_range(self, node: p.KeyRange, aliases: Aliases) -> sa.ColumnElement[bool]:
        """The bounds compared in the order the root query sorts by (text by code point)."""
        columns = [aliases[node.alias].c[name] for name in node.columns]
        collated = [self.collated(column) for column in columns]
        key = collated[0] if len(collated) == 1 else sa.tuple_(*collated)

        def bound(side: str, values: tuple[Any, ...]) -> sa.ColumnElement[Any]:
            binds = [
                sa.bindparam(name, value, type_=column.type)
                for name, column, value in zip(
                    _bound_names(node, side), columns, values, strict=True
                )
            ]
            return binds[0] if len(binds) == 1 else sa.tuple_(*binds)

        parts = ([key > bound("after", node.after)] if node.after is not None else []) + (
            [key <= bound("through", node.through)] if node.through is not None else []
        )
        return sa.and_(*parts) if parts else sa.true()

    def collated(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """A column as it compares by code point, whatever the database's collation: text
        `COLLATE "C"` in PostgreSQL, an enum cast to text first (enums compare by their
        declaration order, and take no collation); in MySQL, text and enums as their bytes
        (UTF-8 bytes order as code points do, and no trailing space is ignored); other
        columns as they are."""
        text = isinstance(column.type, sa.Text | EnumText)
        if self.catalog.dialect in MYSQL and text:
            return sa.cast(column, sa.BINARY())
        if self.catalog.dialect != "postgresql":
            return column
        if isinstance(column.type, EnumText):
            return sa.cast(column, sa.Text).collate("C")
        return column.collate("C") if isinstance(column.type, sa.Text) else column

    def compares_as_stored(self, query: p.Query, columns: tuple[p.ColumnRef, ...]) -> bool:
        """Whether columns of a query's tables compare by code point as they are (not cast
        or collated by `collated`): an index on them serves a range in that order."""
        tables = _tables_of(query)
        stored = [self.table(tables[ref.alias]).c[ref.column] for ref in columns]
        return all(self.collated(column) is column for column in stored)

    def largest_group(self, children: p.Children) -> Statement:
        """The parent key with the most child rows of an array, and that number."""
        rows = self.select(replace(children.query, link=(), order=())).subquery()
        link = [rows.c[f"s{children.query.selects.index(ref)}"] for ref in children.query.link]
        size = sa.func.count().label("size")
        return sa.select(*link, size).group_by(*link).order_by(size.desc()).limit(1)

    def count_rows(self, query: p.Query) -> sa.Select[int]:
        """How many rows a query gives (for all parents, when it is a child query)."""
        rows = self.select(replace(query, link=(), order=())).subquery()
        return sa.select(sa.func.count()).select_from(rows)

    def count(self, table: str) -> sa.Select[int]:
        """Rows of a table: the `read` side of the run's accounting."""
        return sa.select(sa.func.count()).select_from(self.table(table))

    @staticmethod
    def _on(
        left: TableAlias, right: TableAlias, on: tuple[tuple[str, str], ...]
    ) -> sa.ColumnElement[bool]:
        return sa.and_(*(left.c[a] == right.c[b] for a, b in on))

    @staticmethod
    def _column(item: p.ColumnRef, aliases: Aliases) -> sa.ColumnElement[Any]:
        column = aliases[item.alias].c[item.column]
        return sa.cast(column, sa.Numeric(asdecimal=True)) if item.cast else column

    def _grouped(
        self, group: list[tuple[int, p.AggregateRef]], query: p.Query, name: str
    ) -> sa.Subquery:
        """Aggregates as a set operation: `k0.., v0..` with one row per key of the first
        hop's table among those the query's rows reach (all of them when the query reads a
        whole table), grouped by that key: one statement for a batch, not one per row."""
        item = group[0][1]  # the others differ in their function and column only
        paths, keys, last = self._paths(item, query)
        if item.distinct_key:  # over the last table's rows that some join path reaches
            pairs = paths.with_only_columns(
                *(key.label(f"k{i}") for i, key in enumerate(keys)),
                *(last.c[c].label(f"d{i}") for i, c in enumerate(item.distinct_key)),
            ).distinct()
            rows = pairs.subquery(f"{name}_paths")
            keys = [rows.c[f"k{i}"] for i in range(len(keys))]
            source: Source = rows
            if any(aggregate.column is not None for _, aggregate in group):  # not count alone
                last = self.table(item.hops[-1].table).alias(f"{item.hops[-1].alias}_d")
                matched = sa.and_(
                    *(rows.c[f"d{i}"] == last.c[c] for i, c in enumerate(item.distinct_key))
                )
                source = rows.join(last, matched)
            paths = sa.select(*keys).select_from(source)
        values = [
            self._aggregate(aggregate, last).label(f"v{i}")
            for i, (_, aggregate) in enumerate(group)
        ]
        labelled = (key.label(f"k{i}") for i, key in enumerate(keys))
        return paths.with_only_columns(*labelled, *values).group_by(*keys).subquery(name)

    @staticmethod
    def _aggregate(item: p.AggregateRef, last: TableAlias) -> sa.ColumnElement[Any]:
        """An aggregate's function of its column of the last table (`count(*)`: of rows)."""
        if item.column is None:
            return sa.func.count()
        column: sa.ColumnElement[Any] = last.c[item.column]
        if item.cast:
            column = sa.cast(column, sa.Numeric(asdecimal=True))
        value: sa.ColumnElement[Any] = getattr(sa.func, item.function)(column)
        return value

    def _paths(
        self, item: p.AggregateRef, query: p.Query
    ) -> tuple[Statement, list[sa.ColumnElement[Any]], TableAlias]:
        """An aggregate's join paths from the rows of its first table that `query`'s rows
        reach, filtered: their SELECT (of the key), the key's columns, and the last table."""
        first = item.hops[0]
        aliases: Aliases = {first.alias: self.table(first.table).alias(first.alias)}
        source: Source = aliases[first.alias]
        for hop in item.hops[1:]:
            aliases[hop.alias] = self.table(hop.table).alias(hop.alias)
            source = source.join(
                aliases[hop.alias], self._on(aliases[hop.left_alias], aliases[hop.alias], hop.on)
            )
        keys: list[sa.ColumnElement[Any]] = [aliases[first.alias].c[c] for _, c in first.on]
        conditions = [] if item.filter is None else [self.condition(item.filter, aliases)]
        outer, outer_source = self._source(query)
        if outer_where := self._where(query, outer):
            reached = sa.select(*(outer[first.left_alias].c[c] for c, _ in first.on))
            key = keys[0] if len(keys) == 1 else sa.tuple_(*keys)
            conditions.append(key.in_(reached.select_from(outer_source).where(*outer_where)))
        paths = sa.select(*keys).select_from(source).where(*conditions)
        return paths, keys, aliases[item.hops[-1].alias]

    def condition(self, node: p.Filter, aliases: Aliases) -> sa.ColumnElement[bool]:
        """A plan's filter as SQL over the query's `aliases` (alias → table): the one home
        of the operators' meaning, for the run and `validate` alike. A NULL column matches
        `eq: null`, `is_null: true`, and `ne` or `not_in` of values (where SQL's `<>` alone
        would drop it); a key range compares by code point (`collated`)."""
        if isinstance(node, p.KeyRange):
            return self._key_range(node, aliases)
        if isinstance(node, p.BoolOp):
            parts = [self.condition(item, aliases) for item in node.items]
            return sa.and_(*parts) if node.op == "and" else sa.or_(*parts)
        column = aliases[node.alias].c[node.column]
        operand: object = node.value  # not Any: a comparison with Any would lose its SQL type
        match node.op:
            case "eq":
                return column.is_(None) if node.value is None else column == node.value
            case "ne":
                return (
                    column.is_not(None)
                    if node.value is None
                    else sa.or_(column != node.value, column.is_(None))
                )
            case "lt":
                return column < operand
            case "lte":
                return column <= operand
            case "gt":
                return column > operand
            case "gte":
                return column >= operand
            case "in":
                return column.in_(list(node.value))
            case "not_in":
                return sa.or_(column.not_in(list(node.value)), column.is_(None))
            case "is_null":
                return column.is_(None) if node.value else column.is_not(None)
            case _:
                raise ValueError(f"unknown filter operator {node.op!r}")


def _tables_of(query: p.Query) -> dict[str, str]:
    """A query's aliases → their tables."""
    return {query.alias: query.table, **{hop.alias: hop.table for hop in query.joins}}


def _over_the_same_paths(selects: tuple[p.Select, ...]) -> list[list[tuple[int, p.AggregateRef]]]:
    """A query's aggregates (with their select index), those over the same join paths (the
    same hops, filter and `distinct`, whatever their aliases) together."""
    groups: dict[p.AggregateRef, list[tuple[int, p.AggregateRef]]] = {}
    for index, item in enumerate(selects):
        if isinstance(item, p.AggregateRef):
            groups.setdefault(_paths_of(item), []).append((index, item))
    return list(groups.values())


def _paths_of(item: p.AggregateRef) -> p.AggregateRef:
    """What an aggregate's join paths are: its hops and filter with aliases by position."""
    names = {hop.alias: f"h{i}" for i, hop in enumerate(item.hops)}
    hops = tuple(
        replace(hop, alias=names[hop.alias], left_alias=names.get(hop.left_alias, hop.left_alias))
        for hop in item.hops
    )
    renamed = None if item.filter is None else _renamed(item.filter, names)
    return replace(item, function="count", column=None, cast=None, hops=hops, filter=renamed)


def _renamed(node: p.Filter, names: dict[str, str]) -> p.Filter:
    if isinstance(node, p.BoolOp):
        return replace(node, items=tuple(_renamed(item, names) for item in node.items))
    return replace(node, alias=names.get(node.alias, node.alias))


def _bound_names(node: p.KeyRange, side: str) -> list[str]:
    """The parameter names of one bound of a key range (one per key column)."""
    return [f"{node.alias}_{side}{index}" for index in range(len(node.columns))]


def _bounds_apart(query: p.Query) -> tuple[p.Query, dict[str, Any]]:
    """The query with the bounds of its key range blanked (an open bound stays open), and
    the bounds' values by parameter name."""
    parameters: dict[str, Any] = {}

    def blank(node: p.Filter) -> p.Filter:
        if isinstance(node, p.BoolOp):
            return replace(node, items=tuple(map(blank, node.items)))
        if not isinstance(node, p.KeyRange):
            return node
        for side in ("after", "through"):
            values = getattr(node, side) or ()
            parameters.update(zip(_bound_names(node, side), values, strict=False))
        return replace(
            node,
            after=node.after and (None,) * len(node.after),
            through=node.through and (None,) * len(node.through),
        )

    return replace(query, filter=None if query.filter is None else blank(query.filter)), parameters


def render(statement: Statement, dialect: sa.engine.Dialect) -> str:
    """SQL text as the source's dialect renders it (parameters stay placeholders)."""
    return str(statement.compile(dialect=dialect))
