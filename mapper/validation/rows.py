"""Plan rows → what the target should hold: converted values, keys and key filters.

For the checks other than deep equality, independent of the run's document builder: these
follow the plan's shapes for one row at a time, with the same id rule and conversions.
"""

from __future__ import annotations

from typing import Any

from mapper import ids
from mapper import plan as p
from mapper.engine import convert
from mapper.validation.values import MISSING

SKIP = object()  # a source value the conversion rejects: the run rejected its row
Copied = p.Value | p.DocumentId  # a field whose value comes from its row's selected values


def indexes(shape: Copied) -> tuple[int, ...]:
    return shape.indexes if isinstance(shape, p.DocumentId) else (shape.index,)


def copied(query: p.Query, *indexes: int) -> bool:
    """Whether selected values come from another table than the query's own (or aggregate)."""
    return any(
        isinstance(select := query.selects[i], p.AggregateRef) or select.alias != query.alias
        for i in indexes
    )


def element_copy(query: p.Query, shape: Copied) -> bool:
    """Whether an array element's value or id copies another table's columns (no aggregate)."""
    selects = [query.selects[i] for i in indexes(shape)]
    return all(isinstance(s, p.ColumnRef) for s in selects) and copied(query, *indexes(shape))


def expected(shape: Copied, row: convert.RowValues, present: tuple[int, ...]) -> Any:
    """What a field holds for a row: a value, None (kept null), MISSING, or SKIP."""
    if any(row[i] is None for i in present):
        return MISSING
    try:
        if isinstance(shape, p.DocumentId):
            value = convert.document_id(shape, row)
        else:
            raw = row[shape.index]
            value = None if raw is None else convert.get(shape.conversion)(raw)
    except (convert.ConversionFailed, ValueError, TypeError, ArithmeticError):
        return SKIP
    return MISSING if value is None and not shape.keep_null else value


def key(collection: p.CollectionPlan, row: convert.RowValues) -> str:
    return ids.key_text([row[i] for i in collection.source_key])


def key_filter(collection: p.CollectionPlan, keys: list[tuple[Any, ...]]) -> p.Filter:
    """`key IN (...)` for the given root keys (OR of ANDs for composite keys)."""
    alias, columns = collection.query.alias, collection.source_key_columns
    if len(columns) == 1:
        return p.Condition(alias, columns[0], "in", tuple(k[0] for k in keys))
    return p.BoolOp(
        "or",
        tuple(
            p.BoolOp(
                "and",
                tuple(
                    p.Condition(alias, column, "eq", value)
                    for column, value in zip(columns, values, strict=True)
                ),
            )
            for values in keys
        ),
    )


def both(first: p.Filter | None, second: p.Filter) -> p.Filter:
    return second if first is None else p.BoolOp("and", (first, second))


def top_check(query: p.Query, path: tuple[str, ...], shape: p.Shape) -> str | None:
    """The check a row-level field takes: copies are denormalized, ids are references."""
    if isinstance(shape, p.Value) and copied(query, shape.index):
        return "denormalized"
    if isinstance(shape, p.DocumentId) and path != ("_id",):
        return "references"
    return None
