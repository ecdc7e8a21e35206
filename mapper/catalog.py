"""Reflect the source database into a frozen `Catalog` of tables, columns and keys."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.dialects.postgresql.ranges import AbstractMultiRange, AbstractRange
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
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A source table; `name` is how mappings name it (`schema.table` outside the default)."""

    name: str
    schema: str | None
    table_name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...]
    unique: tuple[tuple[str, ...], ...] = ()

    def column(self, name: str) -> Column | None:
        return next((column for column in self.columns if column.name == name), None)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def is_unique(self, columns: Iterable[str]) -> bool:
        wanted = set(columns)
        keys = ([self.primary_key] if self.primary_key else []) + list(self.unique)
        return any(key and set(key) <= wanted for key in keys)


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
    dialect: str
    tables: Mapping[str, Table] = field(default_factory=dict)

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
    (mysql.BIT, "int64"),
    (mysql.YEAR, "int32"),
)


def column_kind(sql_type: sa.types.TypeEngine[Any]) -> str:
    """The value family of a SQL type (a domain's: its base type's): decides the default BSON
    conversion (`types.DEFAULT_CONVERSION`)."""
    sql_type = _base_type(sql_type)
    if _mysql_flag(sql_type):
        return "bool"
    if isinstance(sql_type, mysql.INTEGER) and sql_type.unsigned:
        return "int64"  # past 2**31: the whole column, not only its large values
    for type_class, kind in _KINDS:
        if isinstance(sql_type, type_class):
            return kind
    return "other"


def _mysql_flag(sql_type: sa.types.TypeEngine[Any]) -> bool:
    """MySQL's boolean: TINYINT(1) (what BOOLEAN declares) or BIT(1)."""
    if isinstance(sql_type, mysql.TINYINT):
        return sql_type.display_width == 1
    return isinstance(sql_type, mysql.BIT) and sql_type.length == 1


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


def reflect(engine: sa.Engine, schemas: Iterable[str | None] = (None,)) -> Catalog:
    """Read tables, columns, primary, foreign and unique keys of the given schemas."""
    try:
        with warnings.catch_warnings():  # types it does not know are of kind `other`
            warnings.filterwarnings("ignore", "Did not recognize type", sa.exc.SAWarning)
            inspector = sa.inspect(engine)
            tables: dict[str, Table] = {}
            for schema in dict.fromkeys(schemas):
                json = _mariadb_json(engine, schema)
                for table_name in inspector.get_table_names(schema=schema):
                    table = _reflect_table(
                        inspector,
                        schema,
                        table_name,
                        _declared_types(engine, schema, table_name),
                        json.get(table_name, set()),
                    )
                    tables[table.name] = table
    except sa.exc.SQLAlchemyError as error:
        raise SourceError(
            f"cannot read the source schema: {error.__class__.__name__}: "
            f"{getattr(error, 'orig', error)}"
        ) from None
    return Catalog(dialect=engine.dialect.name, tables=tables)


def view_names(engine: sa.Engine, schemas: Iterable[str | None] = (None,)) -> tuple[str, ...]:
    """The views of the given schemas, named as tables are (`schema.view` outside the
    default): sources that `reflect` leaves out."""
    try:
        inspector = sa.inspect(engine)
        return tuple(
            _qualified(schema, name)
            for schema in dict.fromkeys(schemas)
            for name in inspector.get_view_names(schema=schema)
        )
    except sa.exc.SQLAlchemyError as error:
        raise SourceError(f"cannot list the source's views: {error.__class__.__name__}") from None


def _qualified(schema: str | None, table_name: str) -> str:
    return f"{schema}.{table_name}" if schema else table_name


def _declared_types(engine: sa.Engine, schema: str | None, table_name: str) -> dict[str, str]:
    """SQLite: each column's type as declared (`PRAGMA table_info`); other sources: none."""
    if engine.dialect.name != "sqlite":
        return {}
    quote = engine.dialect.identifier_preparer.quote
    prefix = f"{quote(schema)}." if schema else ""
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(f"PRAGMA {prefix}table_info({quote(table_name)})")
        return {row[1]: row[2] for row in rows}


# MariaDB's JSON is LONGTEXT with this check, which SQLAlchemy does not reflect
_MARIADB_JSON = sa.text("""
SELECT TABLE_NAME, CONSTRAINT_NAME FROM information_schema.CHECK_CONSTRAINTS
WHERE CONSTRAINT_SCHEMA = COALESCE(:schema, DATABASE())
  AND CHECK_CLAUSE = CONCAT('json_valid(`', CONSTRAINT_NAME, '`)')""")


def _mariadb_json(engine: sa.Engine, schema: str | None) -> dict[str, set[str]]:
    """MariaDB: the JSON columns of a schema's tables, by table; other sources: none."""
    if not getattr(engine.dialect, "is_mariadb", False):
        return {}
    found: dict[str, set[str]] = {}
    with engine.connect() as connection:
        for table_name, column in connection.execute(_MARIADB_JSON, {"schema": schema}):
            found.setdefault(table_name, set()).add(column)
    return found


def _named(columns: list[str | None]) -> tuple[str, ...] | None:
    """An index's columns, or None for an index on an expression (whose column is None)."""
    names = tuple(name for name in columns if name is not None)
    return names if len(names) == len(columns) else None


def _reflect_table(
    inspector: sa.Inspector,
    schema: str | None,
    table_name: str,
    declared: dict[str, str],
    json: set[str],
) -> Table:
    columns = tuple(
        _column(info, declared.get(info["name"]), info["name"] in json)
        for info in inspector.get_columns(table_name, schema=schema)
    )
    primary_key = tuple(
        inspector.get_pk_constraint(table_name, schema=schema).get("constrained_columns") or ()
    )
    foreign_keys = tuple(
        ForeignKey(
            columns=tuple(fk["constrained_columns"]),
            referred_table=_qualified(fk.get("referred_schema"), fk["referred_table"]),
            referred_columns=tuple(fk["referred_columns"]),
        )
        for fk in inspector.get_foreign_keys(table_name, schema=schema)
    )
    unique = tuple(
        tuple(constraint["column_names"])
        for constraint in inspector.get_unique_constraints(table_name, schema=schema)
    )
    unique += tuple(
        named
        for index in inspector.get_indexes(table_name, schema=schema)
        if index.get("unique") and (named := _named(index["column_names"])) is not None
    )
    return Table(
        name=_qualified(schema, table_name),
        schema=schema,
        table_name=table_name,
        columns=columns,
        primary_key=primary_key,
        foreign_keys=foreign_keys,
        unique=unique,
    )
