"""Human-readable output: the plan as SQL and a shape tree, and the run summary table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy.engine import Dialect

from mapper import plan as p
from mapper.compile import Compiler, render
from mapper.engine.run import RunSummary


def plan_text(plan: p.Plan, compiler: Compiler, dialect: Dialect) -> str:
    """Per collection: the SQL statements as the dialect renders them, then the shape."""
    lines: list[str] = []
    for collection in plan.collections:
        lines.append(
            f"collection {collection.name}  (from `{collection.table}`, "
            f"{collection.file}, write: {collection.write})"
        )
        lines.append("  root query:")
        lines += _indent(render(compiler.select(collection.query), dialect), 4)
        for children in _all_children(collection.document):
            lines.append(
                f"  child query for `{'.'.join(children.path)}` (one per batch of parents):"
            )
            lines += _indent(render(compiler.select(children.query), dialect), 4)
        lines.append("  document:")
        lines += _shape_lines(collection.document, 4)
        for index in collection.indexes:
            keys = ", ".join(f"{k}: {v}" for k, v in index.keys)
            lines.append(f"  index {{{keys}}}" + (" unique" if index.unique else ""))
        lines.append("")
    return "\n".join(lines)


def _all_children(shape: p.SubDocument) -> Iterator[p.Children]:
    return (place.field for place in p.walk(shape) if isinstance(place.field, p.Children))


def _indent(text: str, width: int) -> list[str]:
    return [" " * width + line for line in text.splitlines()]


def _shape_lines(shape: p.SubDocument, width: int) -> list[str]:
    lines = []
    for field in shape.fields:
        first, *rest = _field_lines(field, width)
        lines += [f"{' ' * width}{'.'.join(field.path)}: {first}", *rest]
    return lines


def _array_lines(field: p.Children, width: int) -> list[str]:
    limit = f", limit {field.limit} ({field.overflow})" if field.limit is not None else ""
    element = field.element
    if isinstance(element, p.DocumentId):
        return [f"[{element.rule}({element.table})]{limit}"]
    return [
        f"[ from `{field.query.table}`{limit}",
        *_shape_lines(element, width + 2),
        f"{' ' * width}]",
    ]


# a field's text after its name: its first line, and the lines of what it nests
_field_lines = p.by_kind(
    {
        p.Value: lambda field, width: [f"{field.source} as {field.conversion}"],
        p.Length: lambda field, width: [
            f"{field.source} as {field.conversion}, the length of `{'.'.join(field.array)}`"
        ],
        p.DocumentId: lambda field, width: [
            f"{field.rule}({field.table}: {', '.join(field.columns)})"
        ],
        p.Constant: lambda field, width: [f"{field.value!r}"],
        p.Template: lambda field, width: [f"template {field.template!r}"],
        p.DepthGuard: lambda field, width: [
            f"not unfolded (max_depth; deeper rows: {field.policy})"
        ],
        p.SubDocument: lambda field, width: [
            "{",
            *_shape_lines(field, width + 2),
            f"{' ' * width}}}",
        ],
        p.Children: _array_lines,
    }
)


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
