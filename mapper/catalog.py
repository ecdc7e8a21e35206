"""Reflect the source database into a frozen `Catalog` of tables, columns and keys."""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql.ranges import AbstractMultiRange, AbstractRange
from sqlalchemy.engine import ObjectKind
from sqlalchemy.engine.interfaces import ReflectedColumn

from mapper.errors import SourceError

MYSQL = frozenset({"mysql", "mariadb"})  # the dialect names of a MySQL or MariaDB source


@dataclass(frozen=True)
class Column:
    """A source column; `kind` is the family its values belong to (see `column_kind`), and
    for an array, `element` its elements' kind."""

    name: str
    kind: str
    sql_type: str
    nullable: bool
    scale: int | None = None
    element: str | None = None


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key; `on_partitions`: declared on every partition of a partitioned table,
    not on the table itself."""

    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]
    on_partitions: bool = False


TableKind = Literal["table", "view", "materialized view"]


@dataclass(frozen=True)
class Table:
    """A source table or view; `name` is how mappings name it (`schema.table` outside the
    default). A view's `primary_key` is the `key` its mappings name (`resolve.keys`);
    `indexes` are the columns of every index, unique or not (those on expressions left out).
    """

    name: str
    schema: str | None
    table_name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...]
    unique: tuple[tuple[str, ...], ...] = ()
    kind: TableKind = "table"
    indexes: tuple[tuple[str, ...], ...] = ()

    def column(self, name: str) -> Column | None:
        return next((column for column in self.columns if column.name == name), None)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def is_unique(self, columns: Iterable[str]) -> bool:
        wanted = set(columns)
        keys = ([self.primary_key] if self.primary_key else []) + list(self.unique)
        return any(key and set(key) <= wanted for key in keys)

    def is_indexed(self, columns: Iterable[str]) -> bool:
        """Whether a key or an index serves a lookup on `columns`: its first column is one
        of them."""
        wanted = set(columns)
        keys = [self.primary_key, *self.unique, *self.indexes]
        return any(key and key[0] in wanted for key in keys)


def join_candidates(left: Table, right: Table) -> set[tuple[tuple[str, str], ...]]:
    """The ways foreign keys join two tables (either way), each as (left column, right
    column) pairs: a join is inferred only when there is exactly one."""
    found = {
        tuple(zip(fk.columns, fk.referred_columns, strict=True))
        for fk in left.foreign_keys
        if fk.referred_table == right.name
    }
    found |= {
        tuple(zip(fk.referred_columns, fk.columns, strict=True))
        for fk in right.foreign_keys
        if fk.referred_table == left.name
    }
    return found


@dataclass(frozen=True)
class Catalog:
    """The tables and views mappings may name; `partitions`: each partition of a
    partitioned table (PostgreSQL), with that table (mappings name it, not its partitions)."""

    dialect: str
    tables: Mapping[str, Table] = field(default_factory=dict)
    partitions: Mapping[str, str] = field(default_factory=dict)
    unread: frozenset[str] = frozenset()  # relations left out by `reflect`'s `wanted`

    def table(self, name: str) -> Table | None:
        return self.tables.get(name)


_KINDS: tuple[tuple[type, str], ...] = (
    (sa.Boolean, "bool"),
    (sa.SmallInteger, "int32"),
    (sa.BigInteger, "int64"),
    (sa.Integer, "int32"),
    (postgresql.MONEY, "money"),
    (sa.Float, "double"),
    (sa.Numeric, "decimal"),
    (sa.Uuid, "uuid"),
    (sa.Enum, "enum"),
    (AbstractRange, "range"),
    (AbstractMultiRange, "range"),
    (sa.DateTime, "datetime"),
    (sa.Date, "date"),
    (sa.Time, "time"),
    (sa.Interval, "interval"),
    (postgresql.INTERVAL, "interval"),
    (sa.JSON, "json"),
    (postgresql.JSON, "json"),
    (postgresql.JSONB, "json"),
    (sa.ARRAY, "array"),
    (sa.LargeBinary, "binary"),
    (sa.VARBINARY, "binary"),
    (sa.BINARY, "binary"),
    (sa.String, "text"),
)


def mysql_loaded() -> bool:
    """Whether SQLAlchemy's MySQL dialect is loaded: where it is not, no MySQL type exists in
    this process, and `mapper.mysql_types` (which imports the dialect) need not be imported."""
    return "sqlalchemy.dialects.mysql" in sys.modules


def column_kind(sql_type: sa.types.TypeEngine[Any]) -> str:
    """The value family of a SQL type (a domain's: its base type's): decides the default BSON
    conversion (`types.DEFAULT_CONVERSION`)."""
    sql_type = _base_type(sql_type)
    if mysql_loaded():
        from mapper import mysql_types

        if kind := mysql_types.kind(sql_type):
            return kind
    for type_class, kind in _KINDS:
        if isinstance(sql_type, type_class):
            return kind
    return "other"


def _base_type(sql_type: sa.types.TypeEngine[Any]) -> sa.types.TypeEngine[Any]:
    while isinstance(sql_type, postgresql.DOMAIN):
        sql_type = sql_type.data_type
    return sql_type


def _type_name(sql_type: sa.types.TypeEngine[Any]) -> str:
    """How messages name a column's type: enums and domains by their own name."""
    if isinstance(sql_type, sa.ARRAY):
        return _type_name(sql_type.item_type) + "[]"
    if isinstance(sql_type, sa.Enum | postgresql.DOMAIN) and sql_type.name:
        return sql_type.name
    return str(sql_type)


def _column(info: ReflectedColumn, declared: str | None = None, json: bool = False) -> Column:
    """A reflected column; `declared`: its type as SQLite's schema writes it, whose affinity
    SQLAlchemy reflects (NUMERIC for `UUID` or any other name it does not know): a value of
    such a column is read as stored (kind `other`), a number as a number, text as text;
    `json`: a MariaDB JSON column (text that a check keeps valid JSON)."""
    sql_type = info["type"]
    element = _base_type(sql_type)
    kind = "json" if json else column_kind(sql_type)
    if (
        declared is not None
        and kind == "decimal"
        and not declared.upper().startswith(("NUMERIC", "DECIMAL"))
    ):
        kind = "other"
    return Column(
        name=info["name"],
        kind=kind,
        sql_type=declared or ("JSON" if json else _type_name(sql_type)),
        nullable=bool(info.get("nullable", True)),
        scale=getattr(element, "scale", None),
        element=column_kind(element.item_type) if isinstance(element, sa.ARRAY) else None,
    )


@contextlib.contextmanager
def unknown_types_quiet() -> Iterator[None]:
    """Reflection without SQLAlchemy's warning about a type it does not know: the catalog
    gives such a column the kind `other`, which lint and the plan handle."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Did not recognize type", sa.exc.SAWarning)
        yield


def reflect(
    engine: sa.Engine,
    schemas: Iterable[str | None] = (None,),
    wanted: Callable[[str], bool] | None = None,
) -> Catalog:
    """Read the tables, views and materialized views of the given schemas (those whose name
    `wanted` accepts, or all): columns, primary, foreign and unique keys, indexes, several
    tables a query where the dialect can. A partitioned table also gets the foreign keys and
    indexes that all its partitions have; the partitions are not tables of their own."""
    try:
        with unknown_types_quiet(), engine.connect() as connection:
            inspector = sa.inspect(connection)
            tables: dict[str, Table] = {}
            leaves: dict[str, list[Table]] = {}  # partitioned table → its leaf partitions
            partitions: dict[str, str] = {}
            unread: set[str] = set()
            for schema in dict.fromkeys(schemas):
                listed, found = _relations(connection, inspector, schema)
                relations = []
                for kind, name in listed:
                    if wanted is None or _wanted(wanted, schema, name, found):
                        relations.append((kind, name))
                    else:
                        unread.add(_qualified(schema, name))
                for table in _reflect_tables(connection, inspector, schema, relations):
                    if table.name not in found:
                        tables[table.name] = table
                        continue
                    root, leaf = found[table.name]
                    partitions[table.name] = root
                    if leaf:
                        leaves.setdefault(root, []).append(table)
            for root, parts in leaves.items():
                if root in tables:
                    tables[root] = _with_partition_keys(tables[root], parts)
    except sa.exc.SQLAlchemyError as error:
        raise SourceError(
            f"cannot read the source schema: {error.__class__.__name__}: "
            f"{getattr(error, 'orig', error)}"
        ) from None
    return Catalog(engine.dialect.name, tables, partitions, frozenset(unread))


def _wanted(
    wanted: Callable[[str], bool],
    schema: str | None,
    name: str,
    partitions: Mapping[str, tuple[str, bool]],
) -> bool:
    """Whether a relation is read: it is wanted, or it is a partition of a wanted table."""
    root = partitions.get(_qualified(schema, name), ("", False))[0].rpartition(".")[2]
    return wanted(name) or bool(root and wanted(root))


def _relations(
    connection: sa.Connection, inspector: sa.Inspector, schema: str | None
) -> tuple[list[tuple[TableKind, str]], dict[str, tuple[str, bool]]]:
    """The tables, views and materialized views (where the dialect has them) of a schema,
    and its partitions (`_PG_RELATIONS`: PostgreSQL's in one statement)."""
    if connection.dialect.name == "postgresql":
        relations: list[tuple[TableKind, str]] = []
        partitions: dict[str, tuple[str, bool]] = {}
        for name, kind, root_schema, root in connection.execute(_PG_RELATIONS, {"schema": schema}):
            relations.append((_PG_KINDS.get(kind, "table"), name))
            if root is not None:
                root_name = _qualified(root_schema if schema else None, root)
                partitions[_qualified(schema, name)] = (root_name, kind == "r")
        return relations, partitions
    try:
        materialized = inspector.get_materialized_view_names(schema=schema)
    except NotImplementedError:
        materialized = []
    relations = [
        *(("table", name) for name in inspector.get_table_names(schema=schema)),
        *(("view", name) for name in inspector.get_view_names(schema=schema)),
        *(("materialized view", name) for name in materialized),
    ]
    return relations, {}


# the relations `c` (in namespace `n`) that SQLAlchemy's inspector lists for `:schema`: no
# temporary relation; without a schema, those the search path shows, outside pg_catalog
_PG_SCOPE = """c.relkind IN ('r', 'p', 'v', 'm') AND c.relpersistence <> 't'
  AND CASE WHEN CAST(:schema AS text) IS NULL
      THEN pg_catalog.pg_table_is_visible(c.oid) AND n.nspname <> 'pg_catalog'
      ELSE n.nspname = :schema END"""

_PG_KINDS: dict[str, TableKind] = {"v": "view", "m": "materialized view"}
# what SQLAlchemy's get_table_names, get_view_names and get_materialized_view_names list
# (`_PG_SCOPE`), tables first; each partition with the partitioned table at the root of its
# tree, and whether it is a leaf (holds rows: is not partitioned itself)
_PG_RELATIONS = sa.text(f"""
SELECT c.relname, c.relkind, rn.nspname, r.relname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_class r ON c.relispartition AND r.oid = pg_catalog.pg_partition_root(c.oid)
LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
WHERE {_PG_SCOPE}
ORDER BY c.relkind IN ('v', 'm'), c.relkind = 'm', c.oid""")


def _with_partition_keys(table: Table, partitions: list[Table]) -> Table:
    """A partitioned table with the foreign keys and indexes that every one of its
    `partitions` has and it lacks (their unique keys are not its: each holds only within
    its partition)."""
    declared = {(fk.columns, fk.referred_table, fk.referred_columns) for fk in table.foreign_keys}
    common = set.intersection(*(set(part.foreign_keys) for part in partitions))
    foreign_keys = sorted(
        (
            replace(fk, on_partitions=True)
            for fk in common
            if (fk.columns, fk.referred_table, fk.referred_columns) not in declared
        ),
        key=lambda fk: (fk.columns, fk.referred_table),
    )
    indexes = set.intersection(*(set(part.indexes) | set(part.unique) for part in partitions))
    return replace(
        table,
        foreign_keys=table.foreign_keys + tuple(foreign_keys),
        indexes=table.indexes + tuple(sorted(indexes - set(table.indexes))),
    )


def _qualified(schema: str | None, table_name: str) -> str:
    return f"{schema}.{table_name}" if schema else table_name


def _declared_types(
    connection: sa.Connection, schema: str | None, table_name: str
) -> dict[str, str]:
    """SQLite: each column's type as declared (`PRAGMA table_info`); other sources: none."""
    if connection.dialect.name != "sqlite":
        return {}
    quote = connection.dialect.identifier_preparer.quote
    prefix = f"{quote(schema)}." if schema else ""
    rows = connection.exec_driver_sql(f"PRAGMA {prefix}table_info({quote(table_name)})")
    return {row[1]: row[2] for row in rows}


# MariaDB's JSON is LONGTEXT with this check, which SQLAlchemy does not reflect
_MARIADB_JSON = sa.text("""
SELECT TABLE_NAME, CONSTRAINT_NAME FROM information_schema.CHECK_CONSTRAINTS
WHERE CONSTRAINT_SCHEMA = COALESCE(:schema, DATABASE())
  AND CHECK_CLAUSE = CONCAT('json_valid(`', CONSTRAINT_NAME, '`)')""")


def _mariadb_json(connection: sa.Connection, schema: str | None) -> dict[str, set[str]]:
    """MariaDB: the JSON columns of a schema's tables, by table; other sources: none."""
    if not getattr(connection.dialect, "is_mariadb", False):
        return {}
    found: dict[str, set[str]] = {}
    for table_name, column in connection.execute(_MARIADB_JSON, {"schema": schema}):
        found.setdefault(table_name, set()).add(column)
    return found


def _partial(index: Mapping[str, Any]) -> bool:
    """An index of the rows a WHERE clause keeps (PostgreSQL's, SQLite's): it proves no key
    unique in the table, and serves no join that does not repeat its clause."""
    return any(option.endswith("_where") for option in index.get("dialect_options", {}))


def _named(columns: list[str | None]) -> tuple[str, ...] | None:
    """An index's columns, or None for an index on an expression (whose column is None)."""
    names = tuple(name for name in columns if name is not None)
    return names if len(names) == len(columns) else None


def _reflect_tables(
    connection: sa.Connection,
    inspector: sa.Inspector,
    schema: str | None,
    relations: list[tuple[TableKind, str]],
) -> Iterator[Table]:
    """The relations of one schema, each kind of information read for all of them at once
    (SQLAlchemy's `get_multi_*`: one query each on PostgreSQL)."""
    if not relations:
        return
    names = [name for _, name in relations]
    columns = inspector.get_multi_columns(schema, filter_names=names, kind=ObjectKind.ANY)
    if connection.dialect.name == "postgresql":
        primary_keys, foreign_keys, unique, indexes = _pg_keys(connection, schema, names)
    else:
        primary_keys, foreign_keys, unique, indexes = _inspected_keys(inspector, schema, names)
    json = _mariadb_json(connection, schema)
    for kind, table_name in relations:
        key = (schema, table_name)
        declared = _declared_types(connection, schema, table_name)
        yield _table(
            schema,
            table_name,
            kind,
            tuple(
                _column(info, declared.get(info["name"]), info["name"] in json.get(table_name, ()))
                for info in columns.get(key, [])
            ),
            tuple(primary_keys[key]["constrained_columns"] if key in primary_keys else ()),
            foreign_keys.get(key, []),
            unique.get(key, []),
            indexes.get(key, []),
        )


Keys = tuple[
    dict[tuple[str | None, str], Any],  # primary keys: {"constrained_columns": [...]}
    dict[tuple[str | None, str], list[Any]],  # foreign keys, as SQLAlchemy's inspector has them
    dict[tuple[str | None, str], list[Any]],  # unique constraints: {"column_names": [...]}
    dict[tuple[str | None, str], list[Any]],  # indexes: {"column_names": [...], "unique": ...}
]  # by (schema, table name)


def _inspected_keys(inspector: sa.Inspector, schema: str | None, names: list[str]) -> Keys:
    """The primary, foreign and unique keys and indexes of the named relations, as
    SQLAlchemy's inspector reads them (one query each where the dialect can)."""
    every = ObjectKind.ANY
    return (
        inspector.get_multi_pk_constraint(schema, filter_names=names, kind=every),
        inspector.get_multi_foreign_keys(schema, filter_names=names, kind=every),
        inspector.get_multi_unique_constraints(schema, filter_names=names, kind=every),
        inspector.get_multi_indexes(schema, filter_names=names, kind=every),
    )


def _pg_keys(connection: sa.Connection, schema: str | None, names: list[str]) -> Keys:
    """`_inspected_keys` of PostgreSQL in one statement (`_PG_KEYS`), where the inspector
    builds and compiles four, and sends seven: some 40 ms of each start."""
    primary: dict[tuple[str | None, str], Any] = {}
    foreign: dict[tuple[str | None, str], list[Any]] = {}
    unique: dict[tuple[str | None, str], list[Any]] = {}
    indexes: dict[tuple[str | None, str], list[Any]] = {}
    for row in connection.execute(_PG_KEYS, {"schema": schema, "names": names}):
        key = (schema, row.relname)
        if row.kind == "p":
            primary[key] = {"constrained_columns": row.columns}
        elif row.kind == "f":
            foreign.setdefault(key, []).append(
                {
                    "constrained_columns": row.columns,
                    "referred_schema": row.referred_schema,
                    "referred_table": row.referred_table,
                    "referred_columns": row.referred_columns,
                }
            )
        elif row.kind == "u":
            unique.setdefault(key, []).append({"column_names": row.columns})
        else:
            where = {"postgresql_where": row.predicate} if row.predicate is not None else {}
            indexes.setdefault(key, []).append(
                {"column_names": row.columns, "unique": row.is_unique, "dialect_options": where}
            )
    return primary, foreign, unique, indexes


# the keys and indexes of the named relations of a schema (or, without one, of those the
# search path shows), as SQLAlchemy's PostgreSQL inspector reads them: constraints' columns
# in key order; a foreign key's referred schema where the search path does not show its
# table, or where it is the schema asked for (else NULL); an index's key columns (not its
# INCLUDE ones), NULL for an expression, and the predicate of a partial one; no primary
# key's index; each kind by name
_PG_KEYS = sa.text(f"""
SELECT c.relname, k.kind, k.columns, k.is_unique, k.referred_schema, k.referred_table,
       k.referred_columns, k.predicate
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (
    SELECT con.contype::text AS kind, con.conname::text AS name,
           ARRAY(SELECT a.attname::text
                 FROM unnest(con.conkey) WITH ORDINALITY AS e(attnum, ord)
                 JOIN pg_catalog.pg_attribute a
                   ON a.attrelid = con.conrelid AND a.attnum = e.attnum
                 ORDER BY e.ord) AS columns,
           NULL::boolean AS is_unique,
           CASE WHEN NOT pg_catalog.pg_table_is_visible(rc.oid)
                  OR rn.nspname = CAST(:schema AS text)
                THEN rn.nspname::text END AS referred_schema,
           rc.relname::text AS referred_table,
           CASE WHEN con.contype = 'f' THEN
           ARRAY(SELECT a.attname::text
                 FROM unnest(con.confkey) WITH ORDINALITY AS e(attnum, ord)
                 JOIN pg_catalog.pg_attribute a
                   ON a.attrelid = con.confrelid AND a.attnum = e.attnum
                 ORDER BY e.ord) END AS referred_columns,
           NULL AS predicate
    FROM pg_catalog.pg_constraint con
    LEFT JOIN pg_catalog.pg_class rc ON rc.oid = con.confrelid
    LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
    WHERE con.conrelid = c.oid AND con.contype IN ('p', 'f', 'u')
    UNION ALL
    SELECT 'i', ic.relname::text,
           ARRAY(SELECT a.attname::text
                 FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS e(attnum, ord)
                 LEFT JOIN pg_catalog.pg_attribute a
                   ON a.attrelid = i.indrelid AND a.attnum = e.attnum AND e.attnum <> 0
                 WHERE e.ord <= i.indnkeyatts
                 ORDER BY e.ord),
           i.indisunique, NULL, NULL, NULL, pg_catalog.pg_get_expr(i.indpred, i.indrelid)
    FROM pg_catalog.pg_index i
    JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
    WHERE i.indrelid = c.oid AND NOT i.indisprimary
) AS k
WHERE c.relname = ANY(:names) AND {_PG_SCOPE}
ORDER BY c.relname, k.kind, k.name""")


def _table(
    schema: str | None,
    table_name: str,
    kind: TableKind,
    columns: tuple[Column, ...],
    primary_key: tuple[str, ...],
    foreign_keys: list[Any],
    unique_constraints: list[Any],
    index_list: list[Any],
) -> Table:
    """A reflected relation, from what the inspector said of it."""
    unique = tuple(tuple(constraint["column_names"]) for constraint in unique_constraints)
    indexes = [
        (bool(index.get("unique")), named)
        for index in index_list
        if (named := _named(index["column_names"])) is not None and not _partial(index)
    ]
    unique += tuple(named for is_unique, named in indexes if is_unique)
    return Table(
        name=_qualified(schema, table_name),
        schema=schema,
        table_name=table_name,
        columns=columns,
        primary_key=primary_key,
        foreign_keys=tuple(
            ForeignKey(
                columns=tuple(fk["constrained_columns"]),
                referred_table=_qualified(fk.get("referred_schema"), fk["referred_table"]),
                referred_columns=tuple(fk["referred_columns"]),
            )
            for fk in foreign_keys
        ),
        unique=unique,
        kind=kind,
        indexes=tuple(named for _, named in indexes),
    )
