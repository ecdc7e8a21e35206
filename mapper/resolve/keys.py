"""The `key` of views: the columns that identify a view's rows (or those of a table without a
primary key), named on a root or an embed of it, become its primary key in the catalog that
the mappings are resolved, run and validated against."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from mapper.catalog import Catalog, Table
from mapper.errors import Problem
from mapper.resolve.scope import Context, Path, Spec, did_you_mean
from mapper.spec import MappingFile


def keyed(mappings: Sequence[MappingFile], catalog: Catalog) -> tuple[Catalog, list[Problem]]:
    """The catalog with the `key` each root or embed names given to its table; a key of
    unknown columns, one that is not a table's primary key, or two keys for one table are
    problems."""
    keys: dict[str, tuple[tuple[str, ...], str]] = {}  # table → its key, where it is named
    problems: list[Problem] = []
    for mapping in mappings:
        context = Context(mapping, catalog, {})
        for table_name, key, where in named_keys(mapping):
            table = catalog.table(table_name)
            if table is None:
                continue
            if _checked(context, table, key, where) and table.primary_key in ((), key):
                line, _ = mapping.position(where)
                named = keys.setdefault(table.name, (key, f"{mapping.path}:{line}"))
                if named[0] != key:
                    context.problem(
                        where,
                        f"`{table.name}`'s key is also given as "
                        f"[{', '.join(named[0])}] ({named[1]})",
                        "name one key for a view wherever it is used",
                    )
        problems += context.problems
    tables = {
        name: replace(catalog.tables[name], primary_key=key) for name, (key, _) in keys.items()
    }
    return replace(catalog, tables={**catalog.tables, **tables}), problems


def _checked(context: Context, table: Table, key: tuple[str, ...], path: Path) -> bool:
    """Whether `key` names columns of `table`, and its primary key if it has one."""
    unknown = [(index, name) for index, name in enumerate(key) if table.column(name) is None]
    for index, name in unknown:
        context.problem(
            (*path, index),
            f"unknown column `{name}` in {table.kind} `{table.name}`",
            did_you_mean(name, table.column_names),
        )
    if table.primary_key and table.primary_key != key and not unknown:
        context.problem(
            path,
            f"`{table.name}` has a primary key ({', '.join(table.primary_key)}): `key` "
            "names the columns of a view or of a table without one",
            "leave `key` out",
        )
    return not unknown


def named_keys(mapping: MappingFile) -> Iterator[tuple[str, tuple[str, ...], Path]]:
    """(table, key, the key's path) of every root and embed of a mapping file that names
    a `key`."""
    for name, spec in (mapping.data.get("collections") or {}).items():
        yield from _node(spec["table"], spec, ("collections", name))


def _node(table: str, spec: Spec, path: Path) -> Iterator[tuple[str, tuple[str, ...], Path]]:
    if "key" in spec:
        yield table, tuple(spec["key"]), (*path, "key")
    for name, field in (spec.get("fields") or {}).items():
        if isinstance(field, dict) and "embed" in field:
            yield from _node(field["embed"], field, (*path, "fields", name))
