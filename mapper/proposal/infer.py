"""Foreign keys a source does not declare on a table: those a column's name implies
(`product_id` beside a table `products` keyed by one `id`); and how each key that only a
partitioned table's partitions declare was found (the catalog gives them to the table)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from mapper.catalog import Catalog, ForeignKey, Table

FROM_PARTITIONS = "declared on its partitions only"
FROM_NAMES = "inferred from the column's name: no constraint"
# column kinds that compare equal to each other (as joins match values)
_FAMILIES = {"int32": "number", "int64": "number", "decimal": "number", "uuid": "text"}


@dataclass(frozen=True)
class Inferred:
    """The catalog with the inferred keys added to their tables, and how each was found,
    by (table, key columns)."""

    catalog: Catalog
    origins: Mapping[tuple[str, tuple[str, ...]], str] = field(default_factory=dict)


def infer_keys(catalog: Catalog) -> Inferred:
    origins: dict[tuple[str, tuple[str, ...]], str] = {}
    tables = dict(catalog.tables)
    for name, table in catalog.tables.items():
        origins.update(
            ((name, fk.columns), FROM_PARTITIONS) for fk in table.foreign_keys if fk.on_partitions
        )
        added = _from_names(catalog, table)
        if added:
            tables[name] = replace(table, foreign_keys=table.foreign_keys + tuple(added))
            origins.update(((name, fk.columns), FROM_NAMES) for fk in added)
    return Inferred(replace(catalog, tables=tables), origins)


def _from_names(catalog: Catalog, table: Table) -> list[ForeignKey]:
    """`X_id` columns in no foreign key, beside a table `Xs` (or `X`) whose one key column
    holds the same kind of values."""
    linked = {c for fk in table.foreign_keys for c in fk.columns}
    found = []
    for column in table.columns:
        base = column.name.removesuffix("_id")
        if base == column.name or column.name in linked or column.name in table.primary_key:
            continue
        for candidate in (base + "s", base + "es", base.removesuffix("y") + "ies", base):
            target = catalog.tables.get(candidate)
            if target is None or target.name == table.name or len(target.primary_key) != 1:
                continue
            key = target.column(target.primary_key[0])
            if key is not None and _family(key.kind) == _family(column.kind):
                found.append(ForeignKey((column.name,), target.name, target.primary_key))
                break
    return found


def _family(kind: str) -> str:
    return _FAMILIES.get(kind, kind)
