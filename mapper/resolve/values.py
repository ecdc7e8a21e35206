"""Fields made from a node's own row: columns (checked against their conversion), constants,
templates; and filters over a node's columns."""

from __future__ import annotations

from typing import Any

from mapper import plan as p
from mapper.catalog import Table
from mapper.computed import TemplateProblem, unguarded, variables
from mapper.resolve.scope import Field, Path, Scope, Spec, Unresolved, did_you_mean
from mapper.types import (
    ACCEPTS,
    DEFAULT_CONVERSION,
    UNREADABLE_ELEMENTS,
    constant_kind,
    parse_text,
    with_policy,
)

OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "is_null")


def column(scope: Scope, field: Field) -> p.Value:
    """`column: NAME` (or `TABLE.NAME` of a to-one table joined for the node)."""
    return column_value(
        scope, field.target, field.spec["column"], field.spec, (*field.path, "column")
    )


def column_value(
    scope: Scope, target: tuple[str, ...], name: str, spec: Spec, path: Path
) -> p.Value:
    alias, table = scope.alias, scope.table
    if "." in name and name.rsplit(".", 1)[0] in scope.via:
        table_name, name = name.rsplit(".", 1)
        alias, table = scope.via[table_name], scope.context.catalog.tables[table_name]
    return value(scope, target, table, alias, name, spec, path)


def value(
    scope: Scope,
    target: tuple[str, ...],
    table: Table,
    alias: str,
    name: str,
    spec: Spec,
    path: Path,
) -> p.Value:
    """The value of `alias.name` (a column of `table`, an unknown one a problem at `path`),
    by its conversion."""
    column = scope.column(table, name, path)
    kind = column.kind
    conversion = spec.get("type") or DEFAULT_CONVERSION[kind]
    if conversion not in DEFAULT_CONVERSION.values() and kind not in ACCEPTS.get(conversion, ()):
        raise scope.fail(
            (*path[:-1], "type"),
            f"cannot convert `{table.name}.{name}` ({column.sql_type}) to `{conversion}`",
            "accepted: " + ", ".join(sorted(ACCEPTS.get(conversion, ()))),
        )
    if spec.get("type") and kind not in ACCEPTS.get(conversion, {kind}):
        raise scope.fail(
            (*path[:-1], "type"),
            f"cannot convert `{table.name}.{name}` ({column.sql_type}) to `{conversion}`",
        )
    element = column.element
    if kind == "array" and element is not None and element in UNREADABLE_ELEMENTS:
        raise scope.fail(
            path,
            f"no conversion for `{table.name}.{name}` ({column.sql_type})",
            UNREADABLE_ELEMENTS[element],
        )
    conversion = with_policy(conversion, kind, spec.get("out_of_range", scope.out_of_range))
    cast = "numeric" if kind == "money" else None
    index = scope.builder.select(p.ColumnRef(alias, name, cast))
    return p.Value(
        target, index, conversion, spec.get("nulls", scope.nulls) == "keep", f"{table.name}.{name}"
    )


def constant(scope: Scope, field: Field) -> p.Constant:
    """A constant, checked against its `type:` as a column of its kind would be."""
    value, conversion = field.spec["value"], field.spec.get("type")
    if conversion is None or value is None:
        return p.Constant(field.target, value)
    parsed = value
    if isinstance(value, str):
        try:
            parsed = parse_text(conversion, value)
        except ValueError:
            raise scope.fail(
                (*field.path, "value"), f"the constant {value!r} does not parse as `{conversion}`"
            ) from None
    if constant_kind(parsed) not in ACCEPTS.get(conversion, set(DEFAULT_CONVERSION)):
        raise scope.fail(
            (*field.path, "type"), f"cannot convert the constant {value!r} to `{conversion}`"
        )
    return p.Constant(field.target, value, conversion)


def template(scope: Scope, field: Field) -> p.Template:
    """A template over the node's columns; a warning for the NULLs it does not guard."""
    spec, path, table = field.spec, field.path, scope.table
    try:
        names = variables(spec["template"])
    except TemplateProblem as error:
        raise scope.fail((*path, "template"), str(error)) from None
    unknown = sorted(n for n in names if table.column(n) is None)
    if unknown:
        raise scope.fail(
            (*path, "template"),
            "undefined name "
            + ", ".join(f"`{n}`" for n in unknown)
            + f" in template (columns of `{table.name}`)",
            did_you_mean(unknown[0], table.column_names),
        )
    nullable = sorted(
        n
        for n in unguarded(spec["template"]) & names
        if (column := table.column(n)) is not None and column.nullable
    )
    if nullable:
        listed = ", ".join(f"`{n}`" for n in nullable)
        scope.context.problem(
            (*path, "template"),
            f"template `{'.'.join(field.target)}` is "
            f"NULL when {listed} is NULL (then `nulls` applies)",
            f"to render something else, use `{{{{ {nullable[0]} | "
            f"default('') }}}}` or `{{% if {nullable[0]} %}}`",
            "warning",
        )
    bound = tuple((n, scope.builder.select(p.ColumnRef(scope.alias, n))) for n in sorted(names))
    return p.Template(
        field.target, spec["template"], bound, spec.get("type", "string"), field.keep_null
    )


def filter_of(scope: Scope, spec: Any, path: Path) -> p.Filter | None:
    """A `filter:` over the node's columns (and those of its `via` tables)."""
    if not spec:
        return None
    items: list[p.Filter] = []
    for key, value in spec.items():
        if key in ("and", "or"):
            parts = [filter_of(scope, part, (*path, key, i)) for i, part in enumerate(value)]
            items.append(p.BoolOp(key, tuple(x for x in parts if x is not None)))
            continue
        alias, table, name = scope.alias, scope.table, key
        if "." in key and key.rsplit(".", 1)[0] in scope.via:
            table_name, name = key.rsplit(".", 1)
            alias, table = scope.via[table_name], scope.context.catalog.tables[table_name]
        try:
            scope.column(table, name, (*path, key))
        except Unresolved:
            continue
        conditions = value if isinstance(value, dict) else {"eq": value}
        for op, operand in conditions.items():
            if op not in OPERATORS:
                scope.context.problem(
                    (*path, key, op), f"unknown filter operator `{op}`", did_you_mean(op, OPERATORS)
                )
                continue
            operand = tuple(operand) if isinstance(operand, list) else operand
            items.append(p.Condition(alias, name, op, operand))
    return items[0] if len(items) == 1 else p.BoolOp("and", tuple(items))
