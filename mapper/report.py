"""Human-readable output: the plan as SQL and a shape tree, and the run summary table."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Dialect

from mapper import plan as p
from mapper.compile import Compiler, render
from mapper.engine.run import RunSummary
from mapper.outline import Node, outline, references


def plan_text(plan: p.Plan, compiler: Compiler, dialect: Dialect) -> str:
    """Per collection: the SQL statements as the dialect renders them, then the shape."""
    lines: list[str] = []
    ids = references(plan)
    for collection in plan.collections:
        lines.append(
            f"collection {collection.name}  (from `{collection.table}`, "
            f"{collection.file}, write: {collection.write})"
        )
        lines.append("  root query:")
        lines += _indent(render(compiler.select(collection.query), dialect), 4)
        for path, _, sql in _child_queries(collection, compiler, dialect):
            lines.append(f"  child query for `{path}` (one per batch of parents):")
            lines += _indent(sql, 4)
        lines.append("  document:")
        lines += _shape_lines(outline(collection, ids), 4)
        for index in collection.indexes:
            keys = ", ".join(f"{k}: {v}" for k, v in index.keys)
            lines.append(f"  index {{{keys}}}" + (" unique" if index.unique else ""))
        lines.append("")
    return "\n".join(lines)


def plan_data(plan: p.Plan, compiler: Compiler, dialect: Dialect) -> dict[str, Any]:
    """The plan as JSON-ready data: per collection its SQL as the dialect renders it, its
    document tree (`mapper.outline`) and its indexes."""
    ids = references(plan)
    return {
        "collections": [
            {
                "name": collection.name,
                "table": collection.table,
                "file": collection.file,
                "write": collection.write,
                "database": collection.database,
                "root_query": render(compiler.select(collection.query), dialect),
                "child_queries": [
                    {"path": path, "table": table, "sql": sql}
                    for path, table, sql in _child_queries(collection, compiler, dialect)
                ],
                "document": outline(collection, ids).as_dict(),
                "indexes": [
                    {"keys": dict(index.keys), "unique": index.unique, "sparse": index.sparse}
                    for index in collection.indexes
                ],
            }
            for collection in plan.collections
        ]
    }


def _child_queries(
    collection: p.CollectionPlan, compiler: Compiler, dialect: Dialect
) -> list[tuple[str, str, str]]:
    """(array path, table, SQL) of each child query, one per batch of parents."""
    return [
        (
            ".".join(place.field.path),
            place.field.query.table,
            render(compiler.select(place.field.query), dialect),
        )
        for place in p.walk(collection.document)
        if isinstance(place.field, p.Children)
    ]


def _indent(text: str, width: int) -> list[str]:
    return [" " * width + line for line in text.splitlines()]


def _shape_lines(node: Node, width: int) -> list[str]:
    lines = []
    for field in node.fields:
        first, *rest = _field_lines(field, width)
        lines += [f"{' ' * width}{field.name}: {first}", *rest]
    return lines


def _field_lines(node: Node, width: int) -> list[str]:
    """A field's text after its name: its first line, and the lines of what it nests."""
    if node.kind == "document":
        return ["{", *_shape_lines(node, width + 2), f"{' ' * width}}}"]
    if node.kind == "array":
        return [f"[ {node.detail}", *_shape_lines(node, width + 2), f"{' ' * width}]"]
    return [node.detail]


COUNTS = (
    "read",
    "written",
    "inserted",
    "updated",
    "unchanged",
    "filtered",
    "rejected",
    "truncated",
)


def summary_data(summary: RunSummary) -> dict[str, Any]:
    """The end-of-run summary as JSON-ready data: per collection and in total, with whether
    every row is accounted for and why the run stopped early, if it did."""
    collections = [
        {
            "name": c.name,
            **{count: getattr(c, count) for count in COUNTS},
            "seconds": round(c.seconds, 3),
            "documents_per_second": round(c.rate, 1),
            "done": c.done,
        }
        for c in summary.collections
    ]
    total = {count: sum(c[count] for c in collections) for count in COUNTS}
    return {
        "collections": collections,
        "total": total,
        "balanced": summary.balanced,
        "stopped": summary.stopped,
    }


def summary_text(summary: RunSummary) -> str:
    """The end-of-run table: read / written (inserted, updated, unchanged) / filtered / ..."""
    header = (
        f"{'collection':<20} {'read':>9} {'written':>9} {'inserted':>9} {'updated':>9} "
        f"{'unchanged':>9} {'filtered':>9} {'rejected':>9} {'time':>8} {'docs/s':>9}"
    )
    lines = [header, "-" * len(header)]
    for c in summary.collections:
        lines.append(
            f"{c.name:<20} {c.read:>9,} {c.written:>9,} {c.inserted:>9,} "
            f"{c.updated:>9,} {c.unchanged:>9,} {c.filtered:>9,} {c.rejected:>9,} "
            f"{c.seconds:>7.2f}s {c.rate:>9,.0f}"
        )
        if c.truncated:
            lines.append(f"  {c.truncated} arrays of `{c.name}` truncated at their limit")
    if len(summary.collections) > 1:
        total = summary_data(summary)["total"]
        seconds = sum(c.seconds for c in summary.collections)
        rate = total["written"] / seconds if seconds else 0.0
        lines.append("-" * len(header))
        lines.append(
            f"{'total':<20} {total['read']:>9,} {total['written']:>9,} {total['inserted']:>9,} "
            f"{total['updated']:>9,} {total['unchanged']:>9,} {total['filtered']:>9,} "
            f"{total['rejected']:>9,} {seconds:>7.2f}s {rate:>9,.0f}"
        )
    if summary.stopped:
        lines.append(summary.stopped)
    elif summary.balanced:
        lines.append("every row accounted for: read = written + filtered + rejected")
    else:
        lines.append("ACCOUNTING MISMATCH: read != written + filtered + rejected")
    return "\n".join(lines)
