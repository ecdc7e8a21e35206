"""The resolver: collections, documents and fields of mapping files, checked against the
catalog and turned into plan shapes and queries.

Each field kind (the key that says how a field is made) has one function, in `FIELD_KINDS`:
values of the node's own row in `values`, relation paths in `relations`, embeds here (they
nest documents). Every function takes the `Scope` it resolves in and the `Field`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from mapper import plan as p
from mapper.catalog import Catalog, Table
from mapper.errors import Problem
from mapper.resolve import relations, values
from mapper.resolve.relations import children, id_conversions, join_to_one, steps_to
from mapper.resolve.scope import (
    Context,
    Field,
    IdRule,
    Path,
    QueryBuilder,
    Scope,
    Spec,
    Step,
    Unresolved,
    did_you_mean,
)
from mapper.spec import MappingFile

FieldKind = Callable[[Scope, Field], p.Shape | None]


# --- collections -------------------------------------------------------------------------


def resolve(mappings: Sequence[MappingFile], catalog: Catalog) -> tuple[p.Plan, list[Problem]]:
    """Resolve schema-valid mapping files against the catalog; problems, if any, say why."""
    rules = id_rules(mappings, catalog)
    collections: list[p.CollectionPlan] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}  # collection name → the file that defines it
    for mapping in mappings:
        context = Context(mapping, catalog, rules)
        for name, spec in (mapping.data.get("collections") or {}).items():
            if name in seen:
                context.problem(
                    ("collections", name), f"collection `{name}` is also defined in {seen[name]}"
                )
                continue
            seen[name] = mapping.path
            collection = resolve_collection(context, name, spec, mapping.data.get("database"))
            if collection is not None:
                collections.append(collection)
        problems.extend(context.problems)
    return p.Plan(tuple(collections)), sorted(set(problems))  # a self-embed repeats its own


def id_rules(mappings: Sequence[MappingFile], catalog: Catalog) -> dict[str, IdRule]:
    """Each collection's `_id` rule, by collection name (references name them)."""
    rules: dict[str, IdRule] = {}
    for mapping in mappings:
        for name, spec in (mapping.data.get("collections") or {}).items():
            rule = spec.get("_id", "oid")
            table = catalog.table(spec["table"])
            if isinstance(rule, dict):
                rules.setdefault(
                    name, IdRule(name, mapping.path, spec["table"], "column", _id_columns(rule))
                )
            elif rule in ("oid", "key"):
                rules.setdefault(
                    name,
                    IdRule(
                        name, mapping.path, spec["table"], rule, table.primary_key if table else ()
                    ),
                )
    return rules


def resolve_collection(
    context: Context, name: str, spec: Spec, database: str | None
) -> p.CollectionPlan | None:
    path: Path = ("collections", name)
    try:
        table = context.keyed(context.table(spec["table"], (*path, "table")), (*path, "table"))
    except Unresolved:
        return None
    builder = QueryBuilder(table.name, "t0", "j")
    scope = Scope(
        context,
        spec.get("out_of_range", "reject"),
        table,
        "t0",
        builder,
        (table.name,),
        spec.get("nulls", "omit"),
    )
    document = node_document(scope, spec, path, spec.get("_id", "oid"))
    filter_ = values.filter_of(scope, spec.get("filter"), (*path, "filter"))
    key_columns = table.primary_key or _id_columns(spec.get("_id"))
    _check_id_column(context, table, _id_columns(spec.get("_id")), (*path, "_id"))
    source_key = tuple(builder.select(p.ColumnRef("t0", c)) for c in key_columns)
    if document is None:
        return None
    indexes = tuple(
        p.Index(
            tuple((k, v) for k, v in index["keys"].items()),
            index.get("unique", False),
            index.get("sparse", False),
            index.get("name"),
        )
        for index in spec.get("indexes", ())
    )
    return p.CollectionPlan(
        name=name,
        file=context.mapping.path,
        table=table.name,
        query=builder.query(filter_, order=[p.Ordering(i) for i in source_key]),
        document=document,
        source_key=source_key,
        source_key_columns=tuple(key_columns),
        indexes=indexes,
        validator=bool(spec.get("validator", False)),
        write=spec.get("write", "upsert"),
        database=database,
    )


def _check_id_column(context: Context, table: Table, columns: tuple[str, ...], path: Path) -> None:
    """Warn of the rows a root's `_id: {column: NAME}` rejects: NULL ones (no `_id`) and,
    without a unique key on it, repeated ones (duplicate `_id`)."""
    column = table.column(columns[0]) if columns else None
    if column is None:
        return
    if column.nullable:
        context.problem(
            path,
            f"`{table.name}.{column.name}` is nullable: rows where it is "
            "NULL have no `_id` and are rejected",
            severity="warning",
        )
    if not table.is_unique(columns):
        context.problem(
            path,
            f"`{table.name}.{column.name}` is not unique: a row that "
            "repeats a value is rejected as a duplicate `_id`",
            severity="warning",
        )


def _id_columns(rule: Any) -> tuple[str, ...]:
    return (rule["column"],) if isinstance(rule, dict) and "column" in rule else ()


# --- documents ---------------------------------------------------------------------------


def node_document(
    scope: Scope, spec: Spec, path: Path, id_rule: Any, present_index: int | None = None
) -> p.SubDocument:
    """The document of a node: its `_id`, copied columns and fields (counts last)."""
    shapes: list[p.Shape] = []
    names: dict[tuple[str, ...], Path] = {}
    id_path = (*path, "_id") if "_id" in spec else (*path, "table" if "table" in spec else "embed")
    id_shape = document_id(scope, id_rule, id_path)
    if id_shape is not None:
        shapes.append(id_shape)
        names[("_id",)] = (*path, "_id")
    for column, column_path in _copied_columns(scope, spec, path):
        _claim(scope.context, names, (column,), column_path)
        shapes.append(values.column_value(scope, (column,), column, {}, column_path))
    fields = spec.get("fields") or {}
    for name in fields:
        _claim(scope.context, names, tuple(name.split(".")), (*path, "fields", name))
    counts = [
        name
        for name, field_spec in fields.items()
        if _may_count_an_array(field_spec, fields.values())
    ]
    resolved: dict[str, p.Shape | None] = {}
    for name in [*(n for n in fields if n not in counts), *counts]:  # counts last
        arrays = tuple(s for s in resolved.values() if isinstance(s, p.Children))
        try:
            resolved[name] = field(
                scope, tuple(name.split(".")), fields[name], (*path, "fields", name), arrays
            )
        except Unresolved:
            continue
    shapes += [shape for name in fields if (shape := resolved.get(name)) is not None]
    return p.SubDocument((), tuple(shapes), present_index)


def _claim(
    context: Context, names: dict[tuple[str, ...], Path], target: tuple[str, ...], path: Path
) -> None:
    for taken, taken_path in names.items():
        shorter = min(len(taken), len(target))
        if taken[:shorter] == target[:shorter]:
            where = ".".join(map(str, taken_path))
            context.problem(
                path,
                f"field `{'.'.join(target)}` collides with `{'.'.join(taken)}` (from `{where}`)",
                "rename one, or add the column to `exclude`",
            )
            return
    names[target] = path


def _copied_columns(scope: Scope, spec: Spec, path: Path) -> Iterator[tuple[str, Path]]:
    table = scope.table
    columns = spec.get("columns", "all")
    excluded = spec.get("exclude") or []
    for index, name in enumerate(excluded):
        if table.column(name) is None:
            scope.context.problem(
                (*path, "exclude", index),
                f"unknown column `{name}` in table `{table.name}`",
                did_you_mean(name, table.column_names),
            )
    if columns == "all":
        for name in table.column_names:
            if name not in excluded:
                yield name, (*path, "columns")
        return
    for index, name in enumerate(columns or []):
        try:
            yield (
                scope.column(table, name, (*path, "columns", index)).name,
                (*path, "columns", index),
            )
        except Unresolved:
            continue


def document_id(scope: Scope, rule: Any, path: Path) -> p.DocumentId | None:
    table = scope.table
    if rule is False:
        return None
    if isinstance(rule, dict):
        try:
            column = scope.column(table, rule.get("column", ""), (*path, "column")).name
        except Unresolved:
            return None
        index = scope.builder.select(p.ColumnRef(scope.alias, column))
        return p.DocumentId(
            ("_id",),
            "column",
            table.table_name,
            (column,),
            (index,),
            conversions=id_conversions(table, (column,)),
        )
    if not table.primary_key:
        scope.context.problem(
            path,
            f"table `{table.name}` has no primary key for `_id: {rule}`",
            "use `_id: {column: NAME}`, or `_id: false` in an embedded document",
        )
        return None
    indexes = tuple(scope.builder.select(p.ColumnRef(scope.alias, c)) for c in table.primary_key)
    return p.DocumentId(
        ("_id",),
        rule,
        table.table_name,
        table.primary_key,
        indexes,
        conversions=id_conversions(table, table.primary_key),
    )


# --- fields ------------------------------------------------------------------------------


def field(
    scope: Scope,
    target: tuple[str, ...],
    spec: Any,
    path: Path,
    arrays: tuple[p.Children, ...] = (),
) -> p.Shape | None:
    """A field's shape, by the function of its kind; a bare string names a column."""
    if isinstance(spec, str):
        return values.column_value(scope, target, spec, {}, path)
    kinds = [kind for kind in FIELD_KINDS if kind in spec]
    if len(kinds) != 1:
        raise scope.fail(
            path,
            f"field `{'.'.join(target)}` needs exactly one of "
            + ", ".join(f"`{k}`" for k in FIELD_KINDS),
        )
    keep_null = spec.get("nulls", scope.nulls) == "keep"
    return FIELD_KINDS[kinds[0]](scope, Field(target, kinds[0], spec, path, keep_null, arrays))


def embed(scope: Scope, field: Field) -> p.Shape:
    """`embed: TABLE`: a sub-document over a to-one path, an array over a to-many one; a
    self-embed unfolds up to its `max_depth`."""
    spec, path, target = field.spec, field.path, field.target
    steps = steps_to(scope, spec, spec["embed"], (*path, "embed"))
    final = scope.context.keyed(steps[-1].table, (*path, "embed"))
    relations.check_indexed(scope, field, steps)
    if final.name in scope.ancestors and "max_depth" not in spec:
        cycle = " → ".join((*scope.ancestors, final.name))
        raise scope.fail(
            (*path, "embed"), f"embed cycle: {cycle}", "a self-reference needs `max_depth`"
        )
    if scope.ancestors.count(final.name) > spec.get("max_depth", 0):
        return _depth_guard(scope, field, steps)
    if "max_depth" in spec:
        spec = {**spec, "fields": {**(spec.get("fields") or {}), ".".join(target): spec}}
    if not any(step.many for step in steps):
        alias, via = join_to_one(scope, steps)
        present = scope.builder.select(p.ColumnRef(alias, steps[-1].on[-1][1]))
        inner = scope.at(
            final,
            alias,
            ancestors=(*scope.ancestors, final.name),
            nulls=spec.get("nulls", scope.nulls),
            via=via,
        )
        document = node_document(inner, spec, path, spec.get("_id", "oid"), present)
        return p.SubDocument(target, document.fields, present, field.keep_null)
    return children(scope, replace(field, spec=spec), steps, _elements(spec, path))


def _depth_guard(scope: Scope, field: Field, steps: list[Step]) -> p.DepthGuard:
    """Past `max_depth`: no field; rows deeper follow `on_depth` (reject, or truncate:
    the default for a sub-document), never silently dropped from an array."""
    many = any(step.many for step in steps)
    policy: p.Excess = field.spec.get("on_depth") or ("reject" if many else "truncate")
    if not many:
        alias, _ = join_to_one(scope, steps)
        present = scope.builder.select(p.ColumnRef(alias, steps[-1].on[-1][1]))
        return p.DepthGuard(field.target, policy, present_index=present)
    bare = {key: value for key, value in field.spec.items() if key not in ("limit", "overflow")}
    spec = {**bare, "fields": {}, "columns": [], "_id": False, "order_by": []}
    deeper = children(scope, replace(field, spec=spec), steps, _elements(spec, field.path))
    return p.DepthGuard(field.target, policy, deeper=deeper)


def _elements(spec: Spec, path: Path) -> Callable[[Scope], p.SubDocument]:
    """How an embedded array's elements are made, in the scope of its child rows."""
    return lambda child: node_document(child, spec, path, spec.get("_id", "oid"))


FIELD_KINDS: dict[str, FieldKind] = {
    "column": values.column,
    "value": values.constant,
    "template": values.template,
    "embed": embed,
    "reference": relations.reference,
    "denormalize": relations.denormalize,
    **dict.fromkeys(relations.AGGREGATE_KINDS, relations.aggregate),
}


def _may_count_an_array(spec: Any, siblings: Iterable[Any]) -> bool:
    """A `count` without a filter beside an `embed` or `reference` of the same table: it is
    resolved after the document's arrays, as it may count the rows one of them holds."""
    return (
        isinstance(spec, dict)
        and "count" in spec
        and not spec.get("filter")
        and any(
            isinstance(other, dict)
            and spec["count"] in (other.get("embed"), other.get("reference"))
            for other in siblings
        )
    )
