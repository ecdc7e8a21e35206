"""Relation paths: hops between tables (joins inferred from foreign keys, cardinality
decided) and the fields they make: references, denormalized copies, aggregates, and the
arrays of embeds and references (the documents an embed nests: `resolver`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import get_args

from mapper import plan as p
from mapper.catalog import Table
from mapper.resolve.scope import Field, On, Path, QueryBuilder, Scope, Spec, Step
from mapper.resolve.values import filter_of, value
from mapper.types import AGGREGATES, DEFAULT_CONVERSION, with_policy

# column kinds whose values compare equal across kinds in Python (1 == 1.0 == Decimal(1))
_JOIN_FAMILIES = {
    "int32": "number",
    "int64": "number",
    "decimal": "number",
    "money": "number",
    "double": "number",
    "uuid": "text",
}
AGGREGATE_KINDS: tuple[p.AggregateFunction, ...] = get_args(p.AggregateFunction)
# the keys of a field that follows a relation path
RELATION_KINDS = ("embed", "reference", "denormalize", *AGGREGATE_KINDS)


def steps_to(scope: Scope, spec: Spec, target_table: str, path: Path) -> list[Step]:
    """The hops from the scope's table through `via` to `target_table`."""
    hops = [*(spec.get("via") or []), {"table": target_table, "on": spec.get("on")}]
    steps: list[Step] = []
    left = scope.table
    for index, hop in enumerate(hops):
        last = index == len(hops) - 1
        hop_path = path[:-1] if last else (*path[:-1], "via", index)
        hop = hop if isinstance(hop, dict) else {"table": hop}
        right = scope.context.table(hop["table"], path if last else hop_path)
        on = join_columns(scope, left, right, hop.get("on"), hop_path)
        many = not right.is_unique(r for _, r in on)
        steps.append(Step(right, on, many))
        left = right
    return steps


def check_indexed(scope: Scope, field: Field, steps: list[Step]) -> None:
    """Warn (once a file) of each table that an embed or aggregate looks rows up in by
    columns that no key or index of it serves: each lookup reads the whole table. A plain
    view has no index to add."""
    for step in steps:
        table, columns = step.table, tuple(remote for _, remote in step.on)
        if table.kind == "view" or table.is_indexed(columns):
            continue
        listed = ", ".join(columns)
        message = (
            f"no index on `{table.name}` ({listed}), the columns joins look its rows up "
            "by: every lookup reads the whole table"
        )
        if all(problem.message != message for problem in scope.context.problems):
            scope.context.problem(
                (*field.path, field.kind),
                message,
                f"CREATE INDEX ix_{table.table_name}_{'_'.join(columns)} "
                f"ON {table.name} ({listed})",
                severity="warning",
            )


def check_comparable(scope: Scope, left: Table, right: Table, on: On, path: Path) -> None:
    """The columns that link an array's rows to their parent must hold values of one
    kind: the run matches them by value, and a number never equals its text (SQLite lets
    such keys be; joins in SQL convert them)."""
    for local, remote in on:
        columns = (scope.column(left, local, path), scope.column(right, remote, path))
        kinds = [_JOIN_FAMILIES.get(column.kind, column.kind) for column in columns]
        if kinds[0] != kinds[1] and "other" not in kinds:
            raise scope.fail(
                path,
                f"cannot join `{left.name}.{local}` "
                f"({columns[0].sql_type}) to `{right.name}.{remote}` "
                f"({columns[1].sql_type}): their values never match",
                "give both columns the same type",
            )


def join_columns(
    scope: Scope, left: Table, right: Table, on: dict[str, str] | None, path: Path
) -> On:
    if on:
        for local, remote in on.items():
            scope.column(left, local, (*path, "on", local))
            scope.column(right, remote, (*path, "on", local))
        return tuple(on.items())
    entry = scope.context.node_at(path)
    path = (*path, next(k for k in ("table", *RELATION_KINDS) if k in entry))
    candidates = [
        tuple(zip(fk.columns, fk.referred_columns, strict=True))
        for fk in left.foreign_keys
        if fk.referred_table == right.name
    ]
    candidates += [
        tuple(zip(fk.referred_columns, fk.columns, strict=True))
        for fk in right.foreign_keys
        if fk.referred_table == left.name
    ]
    candidates = list(dict.fromkeys(candidates))
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise scope.fail(
            path,
            f"no foreign key links `{left.name}` and `{right.name}`",
            "give the join columns with `on: {LOCAL: REMOTE}`",
        )
    listed = "; ".join(
        ", ".join(f"`{left.name}.{a}` = `{right.name}.{b}`" for a, b in c) for c in candidates
    )
    raise scope.fail(
        path,
        f"ambiguous join between `{left.name}` and `{right.name}`: {listed}",
        "choose one with `on: {LOCAL: REMOTE}`",
    )


def join_to_one(scope: Scope, steps: list[Step]) -> tuple[str, dict[str, str]]:
    alias, via = scope.alias, {}
    for step in steps:
        alias = scope.builder.join(alias, step.table.name, step.on, False)
        via[step.table.name] = alias
    return alias, via


def split_column(scope: Scope, value: str, path: Path) -> tuple[str, str]:
    if "." not in value:
        raise scope.fail(path, f"`{value}` must be `TABLE.COLUMN`")
    table, column = value.rsplit(".", 1)
    return table, column


def denormalize(scope: Scope, field: Field) -> p.Value:
    """`denormalize: TABLE.COLUMN`: a column copied over a many-to-one path."""
    where = (*field.path, "denormalize")
    table_name, column = split_column(scope, field.spec["denormalize"], where)
    steps = steps_to(scope, field.spec, table_name, where)
    if any(step.many for step in steps):
        raise scope.fail(
            where,
            f"`denormalize` needs a many-to-one path, and "
            f"`{scope.table.name}` → `{table_name}` is one-to-many",
            "use `embed` for arrays, or an aggregate",
        )
    alias, _ = join_to_one(scope, steps)
    return value(scope, field.target, steps[-1].table, alias, column, field.spec, where)


def aggregate(scope: Scope, field: Field) -> p.Value | p.Length:
    """An aggregate in SQL (`count`, `sum`, ...: the field's kind); a `count` of the rows
    one of the document's arrays embeds is that array's length."""
    function, spec, path = field.kind, field.spec, field.path
    assert function in AGGREGATE_KINDS, "FIELD_KINDS sends only aggregate kinds here"
    where = (*path, function)
    if function == "count":
        table_name, column = spec[function], None
    else:
        table_name, column = split_column(scope, spec[function], where)
    steps = steps_to(scope, spec, table_name, where)
    if function == "count" and not spec.get("filter"):
        array = next((a for a in field.arrays if _same_rows(scope, steps, a)), None)
        if array is not None:
            return p.Length(
                field.target, array.path, spec.get("type") or "int", f"count({spec[function]})"
            )
    check_indexed(scope, field, steps)
    hops: list[p.Hop] = []
    left = scope.alias
    for index, step in enumerate(steps):
        alias = f"a{len(scope.builder.selects)}_{index}"
        hops.append(p.Hop(step.table.name, alias, left, step.on, step.many))
        left = alias
    final = steps[-1].table
    kind = "int64"
    if column is not None:
        aggregated = scope.column(final, column, where)
        kind = aggregated.kind
        if kind not in AGGREGATES[function]:
            raise scope.fail(
                where,
                f"cannot `{function}` `{final.name}.{column}` ({aggregated.sql_type})",
                "`sum` takes numbers or "
                "intervals, `avg` numbers, `min` and `max` also text and dates",
            )
    ref = p.AggregateRef(
        function,
        tuple(hops),
        column,
        filter_of(scope.at(final, left), spec.get("filter"), (*path, "filter")),
        distinct_key(scope, final, spec, where),
        "numeric" if kind == "money" else None,
    )
    conversion = {"count": "int", "avg": "double"}.get(
        function,
        with_policy(DEFAULT_CONVERSION[kind], kind, spec.get("out_of_range", scope.out_of_range)),
    )
    return p.Value(
        field.target,
        scope.builder.select(ref),
        spec.get("type") or conversion,
        field.keep_null,
        f"{function}({spec[function]})",
    )


def distinct_key(scope: Scope, table: Table, spec: Spec, path: Path) -> tuple[str, ...]:
    if not spec.get("distinct"):
        return ()
    if not table.primary_key:
        raise scope.fail(
            path, f"`distinct` needs a primary key of `{table.name}` to tell its rows apart"
        )
    return table.primary_key


def reference(scope: Scope, field: Field) -> p.DocumentId | p.Children:
    """`reference: TABLE`: the `_id` of a to-one row, or an array of the `_id`s of many."""
    spec, path = field.spec, field.path
    steps = steps_to(scope, spec, spec["reference"], (*path, "reference"))
    scope.context.keyed(steps[-1].table, (*path, "reference"))
    if not any(step.many for step in steps):
        alias, _ = join_to_one(scope, steps)
        return reference_id(
            scope.at(steps[-1].table, alias, ancestors=(), nulls="omit"),
            field.target,
            spec,
            path,
            field.keep_null,
        )
    return children(scope, field, steps, lambda child: reference_id(child, (), spec, path, False))


def reference_id(
    scope: Scope, target: tuple[str, ...], spec: Spec, path: Path, keep_null: bool
) -> p.DocumentId:
    """The `_id` a reference holds: by the id rule of the collection it names, else
    `oid` of the referenced row's key; the same whichever other files are loaded."""
    table, id_rules = scope.table, scope.context.id_rules
    rule: p.IdKind = "oid"
    columns = table.primary_key
    if "collection" in spec:
        named = id_rules.get(spec["collection"])
        if named is None:
            raise scope.fail(
                (*path, "collection"),
                f"no collection `{spec['collection']}` in the mapping files given",
                "give its file too (its `_id` rule makes the ids this reference holds)",
            )
        if named.table != table.name:
            raise scope.fail(
                (*path, "collection"),
                f"collection `{named.collection}` is "
                f"built from `{named.table}`, not `{table.name}`",
            )
        rule, columns = named.rule, named.columns
    else:
        other = next(
            (
                r
                for r in id_rules.values()
                if r.table == table.name and (r.rule, r.columns) != (rule, columns)
            ),
            None,
        )
        if other is not None:
            raise scope.fail(
                (*path, "reference"),
                f"reference to `{table.name}` holds "
                f"`oid` ids, but collection `{other.collection}` "
                f"({other.file}) identifies `{table.name}` rows by `_id: "
                f"{other.rule}`",
                f"name it: `collection: {other.collection}`",
            )
    if not columns:
        raise scope.fail(path, f"`{table.name}` has no primary key to reference")
    indexes = tuple(scope.builder.select(p.ColumnRef(scope.alias, c)) for c in columns)
    return p.DocumentId(
        target, rule, table.table_name, columns, indexes, keep_null, id_conversions(table, columns)
    )


def id_conversions(table: Table, columns: tuple[str, ...]) -> tuple[str, ...]:
    """The default conversions of key columns (an `_id` made of them converts them so)."""
    return tuple(
        DEFAULT_CONVERSION[column.kind] if (column := table.column(c)) else "auto" for c in columns
    )


def children(
    scope: Scope,
    field: Field,
    steps: list[Step],
    element: Callable[[Scope], p.SubDocument | p.DocumentId],
) -> p.Children:
    """An array over a one-to-many path: its child query, and its elements as `element`
    makes them in the scope of the child rows."""
    spec, path = field.spec, field.path
    first = steps[0]
    check_comparable(scope, scope.table, first.table, first.on, path)
    child_builder = QueryBuilder(first.table.name, "c0", f"{scope.builder.prefix}c")
    parent_key = tuple(
        scope.builder.select(p.ColumnRef(scope.alias, local)) for local, _ in first.on
    )
    link = tuple(p.ColumnRef("c0", remote) for _, remote in first.on)
    alias, via = "c0", {first.table.name: "c0"}
    for step in steps[1:]:
        alias = child_builder.join(alias, step.table.name, step.on, True)
        via[step.table.name] = alias
    final = steps[-1].table
    child = scope.at(
        final,
        alias,
        builder=child_builder,
        ancestors=(*scope.ancestors, final.name),
        nulls=spec.get("nulls", scope.nulls),
        via=via,
    )
    shape = element(child)
    order = [
        ordering(child, item, (*path, "order_by", i))
        for i, item in enumerate(spec.get("order_by") or [])
    ]
    for column in final.primary_key:
        tie_break = p.Ordering(child_builder.select(p.ColumnRef(alias, column)))
        if all(o.index != tie_break.index for o in order):
            order.append(tie_break)
    filter_ = filter_of(child, spec.get("filter"), (*path, "filter"))
    for ref in link:
        child_builder.select(ref)
    query = child_builder.query(filter_, link, order)
    return p.Children(
        field.target, query, parent_key, shape, spec.get("limit"), spec.get("overflow")
    )


def ordering(scope: Scope, item: str, path: Path) -> p.Ordering:
    descending = item.startswith("-")
    name = item.lstrip("-")
    alias, table = scope.alias, scope.table
    if "." in name:
        table_name, name = name.rsplit(".", 1)
        if table_name in scope.via:
            alias, table = scope.via[table_name], scope.context.catalog.tables[table_name]
        else:
            steps = steps_to(scope, {}, table_name, path)
            if any(step.many for step in steps):
                raise scope.fail(path, f"cannot order by one-to-many `{table_name}`")
            alias, _ = join_to_one(scope, steps)
            table = steps[-1].table
    scope.column(table, name, path)
    return p.Ordering(scope.builder.select(p.ColumnRef(alias, name)), descending)


def _same_rows(scope: Scope, steps: list[Step], array: p.Children) -> bool:
    """Whether an array holds one element per row of a one-hop relation from the scope: it
    reads the same table on the same columns, with no filter or limit, and joins only to-one
    tables (left joins, which neither add nor drop rows)."""
    query = array.query
    if (
        len(steps) != 1
        or query.table != steps[0].table.name
        or query.filter is not None
        or array.limit is not None
        or any(hop.many for hop in query.joins)
    ):
        return False
    selects = scope.builder.selects
    parent = tuple(p.ColumnRef(scope.alias, local) for local, _ in steps[0].on)
    return (
        query.link == tuple(p.ColumnRef(query.alias, remote) for _, remote in steps[0].on)
        and all(ref in selects for ref in parent)
        and array.parent_key == tuple(selects.index(ref) for ref in parent)
    )
