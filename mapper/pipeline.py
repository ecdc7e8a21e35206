"""What `mapper.api` needs of the source besides the stages: connecting, the schemas that
mappings name, and the read permissions a plan needs."""

from __future__ import annotations

import dataclasses
import difflib
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from mapper import plan as p
from mapper.catalog import Catalog
from mapper.compile import Compiler
from mapper.config import SOURCE_VARIABLE, redact, sqlalchemy_url
from mapper.errors import PermissionDenied, SourceError, UsageError
from mapper.plan import Plan
from mapper.spec import MappingFile

log = logging.getLogger(__name__)


def connect(url: str) -> sa.Engine:
    """An engine for the source; fails fast, naming the URL without its password. A
    `postgresql://` URL uses psycopg2, the driver mapper ships with."""
    try:
        engine = create_engine(url, pool_pre_ping=True)
        with engine.connect():
            pass
    except (sa.exc.SQLAlchemyError, ValueError) as error:
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0] if str(error) else ""
        message = f"cannot connect to the source {redact(url)}: {type(error).__name__}: "
        if _MISSING_DATABASE.search(reason):  # a wrong name: configuration, not a fault
            raise UsageError(message + redact(reason), setting=SOURCE_VARIABLE) from None
        raise SourceError(message + redact(reason)) from None
    return engine


def create_engine(url: str, **options: Any) -> sa.Engine:
    """An engine for a source URL (not connected yet): a scheme that names no dialect, or a
    dialect whose driver is not installed, is a usage error that says what to install."""
    try:
        return sa.create_engine(sqlalchemy_url(url), **options)
    except sa.exc.NoSuchModuleError:
        raise _unknown_scheme(url) from None
    except ImportError as error:  # the dialect is known, its driver is not installed
        driver = error.name or "its driver"
        package = _DRIVER_PACKAGES.get(driver, driver)
        install = f"'mapper-migrate[{_EXTRAS[driver]}]'" if driver in _EXTRAS else package
        raise UsageError(
            f"the source {redact(url)} needs the Python package `{package}`, which is not "
            f"installed: pip install {install}",
            setting=SOURCE_VARIABLE,
        ) from None


# the package that brings a driver module, where their names differ
_DRIVER_PACKAGES = {
    "MySQLdb": "mysqlclient",
    "pymysql": "PyMySQL",
    "psycopg": "psycopg[binary]",
    "cx_Oracle": "oracledb",
}
_EXTRAS = {"MySQLdb": "mysql"}  # drivers that an extra of mapper brings
_MISSING_DATABASE = re.compile(
    r'database "[^"]*" does not exist|Unknown database|unable to open database file', re.IGNORECASE
)  # a wrong database name or SQLite path


def _unknown_scheme(url: str) -> UsageError:
    """A URL whose scheme names no SQLAlchemy dialect, with the nearest ones."""
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
    known = ["postgresql", "sqlite", "mysql", "mariadb", "mssql", "oracle"]
    close = difflib.get_close_matches(scheme, known, n=2, cutoff=0.6)
    hint = f" (did you mean {' or '.join(f'`{name}://`' for name in close)})" if close else ""
    return UsageError(
        f"the source URL {redact(url)} has an unknown scheme `{scheme}://`{hint}: a SQLAlchemy "
        "URL such as postgresql://USER@HOST/DATABASE or sqlite:///FILE",
        setting=SOURCE_VARIABLE,
    )


def schemas_of(mappings: Sequence[MappingFile]) -> set[str | None]:
    """The database schemas that mappings name (`schema.table`), plus the default one."""
    schemas: set[str | None] = {None}
    for mapping in mappings:
        schemas.update(_schemas(mapping.data))
    return schemas


def named_in(mappings: Sequence[MappingFile]) -> Callable[[str], bool]:
    """Whether a table's name occurs anywhere in the mappings (as a key or a value, in any
    case): a superset of the tables they read, which are all that need reflecting."""
    text = "\n".join(_strings([mapping.data for mapping in mappings])).casefold()
    return lambda name: name.casefold() in text


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, str):
        yield node


_TABLE_KEYS = ("table", "embed", "reference", "count")
_COLUMN_KEYS = ("denormalize", "sum", "min", "max", "avg")


def _schemas(node: object) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and key in _TABLE_KEYS + _COLUMN_KEYS:
                dots = 1 if key in _TABLE_KEYS else 2
                if value.count(".") == dots:
                    found.add(value.split(".")[0])
            if key == "via" and isinstance(value, list):
                found |= {v.split(".")[0] for v in value if isinstance(v, str) and "." in v}
            found |= _schemas(value)
    elif isinstance(node, list):
        for item in node:
            found |= _schemas(item)
    return found


def check_access(engine: sa.Engine, catalog: Catalog, plan: Plan) -> None:
    """Refuse, before anything is read or written, a plan reading tables that the source's
    role may not read: `PermissionDenied` names them and the grant that is missing."""
    compiler = Compiler(catalog)
    tables = [compiler.table(name) for name in sorted(tables_read(plan))]
    with engine.connect() as connection:
        # a statement per 32 tables (SQLite's UNION takes 500); each table of a refused group
        groups = [tables[at : at + 32] for at in range(0, len(tables), 32)]
        refused = [group for group in groups if not _readable(connection, group)]
        if not refused:
            return
        denied = [
            table for group in refused for table in group if not _readable(connection, [table])
        ]
        role = _role(connection)
    preparer = engine.dialect.identifier_preparer
    grant = (
        f"GRANT SELECT ON {', '.join(preparer.format_table(t) for t in denied)} "
        f"TO {preparer.quote(role)}"
    )
    names = tuple(t.fullname for t in denied)
    listed = ", ".join(f"`{name}`" for name in names)
    raise PermissionDenied(
        f"the source role `{role}` may not read the table"
        f"{'s' if len(names) > 1 else ''} {listed} (missing grant: {grant})",
        tables=names,
        grant=grant,
    )


def _readable(connection: sa.Connection, tables: list[sa.Table]) -> bool:
    """Whether the role may read all of `tables`: one query of each, returning no row."""
    probes = [sa.select(sa.literal(1)).select_from(table).where(sa.false()) for table in tables]
    try:
        connection.execute(sa.union_all(*probes) if len(probes) > 1 else probes[0])
    except sa.exc.DBAPIError as error:
        if not _denied(error):
            raise
        connection.rollback()  # the failed statement ended the transaction
        return False
    return True


def tables_read(plan: Plan) -> set[str]:
    """Every source table that the plan's queries read, joins included."""
    return {node.table for node in _nodes(plan) if isinstance(node, p.Query | p.Hop)}


def _nodes(value: object) -> Iterator[object]:
    if dataclasses.is_dataclass(value):
        yield value
        for item in dataclasses.fields(value):
            yield from _nodes(getattr(value, item.name))
    elif isinstance(value, tuple):
        for item in value:
            yield from _nodes(item)


def _denied(error: sa.exc.DBAPIError) -> bool:
    """A missing privilege: PostgreSQL's SQLSTATE 42501, or a driver that says so."""
    return getattr(error.orig, "pgcode", None) == "42501" or "denied" in str(error.orig).lower()


def _role(connection: sa.Connection) -> str:
    if connection.dialect.name == "postgresql":
        role: str = connection.exec_driver_sql("SELECT current_user").scalar_one()
        return role
    return connection.engine.url.username or "?"
