"""Mapping files + the source catalog → a `Plan`, or every semantic problem found.

Resolves table and column names (with "did you mean"), infers joins from foreign keys,
decides cardinality, catches cycles, collisions and conversions that cannot work.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mapper import plan as p
from mapper.catalog import Catalog, Table
from mapper.computed import TemplateProblem, variables
from mapper.errors import Problem
from mapper.types import ACCEPTS, DEFAULT_CONVERSION

RELATION_KINDS = ("embed", "reference", "denormalize", "count", "sum", "min", "max", "avg")
FIELD_KINDS = ("column", "value", "template", *RELATION_KINDS)
OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "is_null")
Path = tuple[str | int, ...]


class Unresolved(Exception):
    """Raised inside the resolver to abandon one field after recording its problem."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?" if close else ""


@dataclass
class QueryBuilder:
    """Accumulates the joins and selects of one query; identical ones are shared."""

    table: str
    alias: str
    prefix: str
    joins: list[p.Hop] = field(default_factory=list)
    selects: list[p.Select] = field(default_factory=list)
    _aliases: dict[tuple, str] = field(default_factory=dict)

    def new_alias(self) -> str:
        return f"{self.prefix}{len(self._aliases) + 1}"

    def join(self, left_alias: str, table: str, on: tuple, many: bool) -> str:
        key = (left_alias, table, on)
        if key not in self._aliases:
            alias = self.new_alias()
            self._aliases[key] = alias
            self.joins.append(p.Hop(table, alias, left_alias, on, many))
        return self._aliases[key]

    def select(self, ref: p.Select) -> int:
        if ref not in self.selects:
            self.selects.append(ref)
        return self.selects.index(ref)

    def query(self, filter_: p.Filter | None = None, link=(), order=()) -> p.Query:
        return p.Query(self.table, self.alias, tuple(self.joins), tuple(self.selects),
                       filter_, tuple(link), tuple(order))


@dataclass(frozen=True)
class Step:
    """One resolved hop of a relation path."""

    table: Table
    on: tuple[tuple[str, str], ...]
    many: bool


@dataclass
class Node:
    """Where a node's fields are being resolved: its table, alias and query."""

    table: Table
    alias: str
    builder: QueryBuilder
    ancestors: tuple[str, ...]
    nulls: str
    via: dict[str, str] = field(default_factory=dict)


class Resolver:
    def __init__(self, mapping, catalog: Catalog, id_rules: dict[str, tuple[str, tuple]]):
        self.mapping = mapping
        self.catalog = catalog
        self.id_rules = id_rules
        self.problems: list[Problem] = []

    # --- problems ------------------------------------------------------------------------

    def problem(self, path: Path, message: str, hint: str = "", severity: str = "error"):
        line, column = self.mapping.position(path)
        self.problems.append(Problem(self.mapping.path, line, column, message, tuple(path),
                                     hint, severity))

    def fail(self, path: Path, message: str, hint: str = "") -> Unresolved:
        self.problem(path, message, hint)
        return Unresolved()

    def node_at(self, path: Path) -> Any:
        node = self.mapping.data
        for part in path:
            node = node[part] if isinstance(node, dict | list) else None
        return node if isinstance(node, dict) else {"table": node}

    def table(self, name: str, path: Path) -> Table:
        table = self.catalog.table(name)
        if table is None:
            raise self.fail(path, f"unknown table `{name}`",
                            did_you_mean(name, self.catalog.tables))
        return table

    def column(self, table: Table, name: str, path: Path) -> str:
        if table.column(name) is None:
            raise self.fail(path, f"unknown column `{name}` in table `{table.name}`",
                            did_you_mean(name, table.column_names))
        return name

    # --- collections ---------------------------------------------------------------------

    def collection(self, name: str, spec: dict, database: str | None) -> p.CollectionPlan | None:
        path: Path = ("collections", name)
        try:
            table = self.table(spec["table"], (*path, "table"))
        except Unresolved:
            return None
        builder = QueryBuilder(table.name, "t0", "j")
        node = Node(table, "t0", builder, (table.name,), spec.get("nulls", "omit"))
        document = self.node_document(node, spec, path, spec.get("_id", "oid"))
        filter_ = self.filter(node, spec.get("filter"), (*path, "filter"))
        key_columns = table.primary_key or self.id_columns(table, spec.get("_id"))
        source_key = tuple(builder.select(p.ColumnRef("t0", c)) for c in key_columns)
        if document is None:
            return None
        indexes = tuple(p.Index(tuple((k, v) for k, v in index["keys"].items()),
                                index.get("unique", False), index.get("sparse", False),
                                index.get("name")) for index in spec.get("indexes", ()))
        return p.CollectionPlan(
            name=name, file=self.mapping.path, table=table.name,
            query=builder.query(filter_, order=[p.Ordering(i) for i in source_key]),
            document=document,
            source_key=source_key, source_key_columns=tuple(key_columns), indexes=indexes,
            validator=bool(spec.get("validator", False)), write=spec.get("write", "upsert"),
            database=database)

    @staticmethod
    def conversions(table: Table, columns: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(DEFAULT_CONVERSION[table.column(c).kind] if table.column(c) else "auto"
                     for c in columns)

    @staticmethod
    def id_columns(table: Table, rule: Any) -> tuple[str, ...]:
        return (rule["column"],) if isinstance(rule, dict) and "column" in rule else ()

    # --- nodes ---------------------------------------------------------------------------

    def node_document(self, node: Node, spec: dict, path: Path, id_rule: Any,
                      present_index: int | None = None) -> p.SubDocument | None:
        shapes: list[p.Shape] = []
        names: dict[tuple[str, ...], Path] = {}
        id_path = (*path, "_id") if "_id" in spec else (*path, "table" if "table" in spec
                                                          else "embed")
        id_shape = self.document_id(node, id_rule, id_path)
        if id_shape is not None:
            shapes.append(id_shape)
            names[("_id",)] = (*path, "_id")
        for column, column_path in self.copied_columns(node, spec, path):
            self.claim(names, (column,), column_path)
            shapes.append(self.column_value(node, (column,), column, {}, column_path))
        for name, field_spec in (spec.get("fields") or {}).items():
            field_path = (*path, "fields", name)
            target = tuple(name.split("."))
            self.claim(names, target, field_path)
            try:
                shape = self.field(node, target, field_spec, field_path)
            except Unresolved:
                continue
            if shape is not None:
                shapes.append(shape)
        return p.SubDocument((), tuple(shapes), present_index)

    def claim(self, names: dict, target: tuple[str, ...], path: Path) -> None:
        for taken, taken_path in names.items():
            shorter = min(len(taken), len(target))
            if taken[:shorter] == target[:shorter]:
                where = ".".join(map(str, taken_path))
                self.problem(path, f"field `{'.'.join(target)}` collides with "
                             f"`{'.'.join(taken)}` (from `{where}`)",
                             "rename one, or add the column to `exclude`")
                return
        names[target] = path

    def copied_columns(self, node: Node, spec: dict, path: Path):
        columns = spec.get("columns", "all")
        excluded = spec.get("exclude") or []
        for index, name in enumerate(excluded):
            if node.table.column(name) is None:
                self.problem((*path, "exclude", index), f"unknown column `{name}` in table "
                             f"`{node.table.name}`", did_you_mean(name, node.table.column_names))
        if columns == "all":
            for name in node.table.column_names:
                if name not in excluded:
                    yield name, (*path, "columns")
            return
        for index, name in enumerate(columns or []):
            try:
                yield self.column(node.table, name, (*path, "columns", index)), \
                    (*path, "columns", index)
            except Unresolved:
                continue

    def document_id(self, node: Node, rule: Any, path: Path) -> p.DocumentId | None:
        if rule is False:
            return None
        if isinstance(rule, dict):
            try:
                column = self.column(node.table, rule.get("column", ""), (*path, "column"))
            except Unresolved:
                return None
            index = node.builder.select(p.ColumnRef(node.alias, column))
            return p.DocumentId(("_id",), "column", node.table.table_name, (column,), (index,),
                                conversions=self.conversions(node.table, (column,)))
        if not node.table.primary_key:
            self.problem(path, f"table `{node.table.name}` has no primary key for "
                         f"`_id: {rule}`", "use `_id: {column: NAME}`, or `_id: false` "
                         "in an embedded document")
            return None
        indexes = tuple(node.builder.select(p.ColumnRef(node.alias, c))
                        for c in node.table.primary_key)
        return p.DocumentId(("_id",), rule, node.table.table_name, node.table.primary_key,
                            indexes, conversions=self.conversions(node.table,
                                                                  node.table.primary_key))

    # --- fields --------------------------------------------------------------------------

    def field(self, node: Node, target: tuple[str, ...], spec: Any,
              path: Path) -> p.Shape | None:
        if isinstance(spec, str):
            return self.column_value(node, target, spec, {}, path)
        kinds = [kind for kind in FIELD_KINDS if kind in spec]
        if len(kinds) != 1:
            raise self.fail(path, f"field `{'.'.join(target)}` needs exactly one of "
                            + ", ".join(f"`{k}`" for k in FIELD_KINDS))
        kind = kinds[0]
        keep_null = spec.get("nulls", node.nulls) == "keep"
        if kind == "column":
            return self.column_value(node, target, spec["column"], spec, (*path, "column"))
        if kind == "value":
            return p.Constant(target, spec["value"])
        if kind == "template":
            return self.template(node, target, spec, path, keep_null)
        if kind == "embed":
            return self.embed(node, target, spec, path, keep_null)
        if kind == "reference":
            return self.reference(node, target, spec, path, keep_null)
        if kind == "denormalize":
            return self.denormalize(node, target, spec, path, keep_null)
        return self.aggregate(node, target, kind, spec, path, keep_null)

    def column_value(self, node: Node, target, name: str, spec: dict, path: Path) -> p.Value:
        alias, table = node.alias, node.table
        if "." in name and name.rsplit(".", 1)[0] in node.via:
            table_name, name = name.rsplit(".", 1)
            alias, table = node.via[table_name], self.catalog.tables[table_name]
        self.column(table, name, path)
        return self.value(node, target, table, alias, name, spec, path)

    def value(self, node: Node, target, table: Table, alias: str, name: str, spec: dict,
              path: Path) -> p.Value:
        kind = table.column(name).kind
        conversion = spec.get("type") or DEFAULT_CONVERSION[kind]
        if conversion not in DEFAULT_CONVERSION.values() and kind not in ACCEPTS.get(
                conversion, ()):
            raise self.fail((*path[:-1], "type"), f"cannot convert `{table.name}.{name}` "
                            f"({table.column(name).sql_type}) to `{conversion}`",
                            "accepted: " + ", ".join(sorted(ACCEPTS.get(conversion, ()))))
        if spec.get("type") and kind not in ACCEPTS.get(conversion, {kind}):
            raise self.fail((*path[:-1], "type"), f"cannot convert `{table.name}.{name}` "
                            f"({table.column(name).sql_type}) to `{conversion}`")
        cast = "numeric" if kind == "money" else None
        index = node.builder.select(p.ColumnRef(alias, name, cast))
        return p.Value(target, index, conversion, spec.get("nulls", node.nulls) == "keep",
                       f"{table.name}.{name}")

    def template(self, node: Node, target, spec: dict, path: Path, keep_null: bool):
        try:
            names = variables(spec["template"])
        except TemplateProblem as error:
            raise self.fail((*path, "template"), str(error)) from None
        unknown = sorted(n for n in names if node.table.column(n) is None)
        if unknown:
            raise self.fail((*path, "template"), "undefined name " + ", ".join(
                f"`{n}`" for n in unknown) + f" in template (columns of `{node.table.name}`)",
                did_you_mean(unknown[0], node.table.column_names))
        bound = tuple((n, node.builder.select(p.ColumnRef(node.alias, n))) for n in sorted(names))
        return p.Template(target, spec["template"], bound, spec.get("type", "string"), keep_null)

    # --- relations -----------------------------------------------------------------------

    def steps(self, node: Node, spec: dict, target_table: str, path: Path) -> list[Step]:
        hops = [*(spec.get("via") or []), {"table": target_table, "on": spec.get("on")}]
        steps: list[Step] = []
        left = node.table
        for index, hop in enumerate(hops):
            last = index == len(hops) - 1
            hop_path = path[:-1] if last else (*path[:-1], "via", index)
            hop = hop if isinstance(hop, dict) else {"table": hop}
            right = self.table(hop["table"], path if last else hop_path)
            on = self.join_columns(left, right, hop.get("on"), hop_path)
            many = not right.is_unique(r for _, r in on)
            steps.append(Step(right, on, many))
            left = right
        return steps

    def join_columns(self, left: Table, right: Table, on: dict | None, path: Path):
        if on:
            for local, remote in on.items():
                self.column(left, local, (*path, "on", local))
                self.column(right, remote, (*path, "on", local))
            return tuple(on.items())
        path = (*path, next(k for k in ("table", *RELATION_KINDS) if k in self.node_at(path)))
        candidates = [tuple(zip(fk.columns, fk.referred_columns, strict=True))
                      for fk in left.foreign_keys if fk.referred_table == right.name]
        candidates += [tuple(zip(fk.referred_columns, fk.columns, strict=True))
                       for fk in right.foreign_keys if fk.referred_table == left.name]
        candidates = list(dict.fromkeys(candidates))
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise self.fail(path, f"no foreign key links `{left.name}` and `{right.name}`",
                            "give the join columns with `on: {LOCAL: REMOTE}`")
        listed = "; ".join(", ".join(f"`{left.name}.{a}` = `{right.name}.{b}`" for a, b in c)
                           for c in candidates)
        raise self.fail(path, f"ambiguous join between `{left.name}` and `{right.name}`: "
                        f"{listed}", "choose one with `on: {LOCAL: REMOTE}`")

    def join_to_one(self, node: Node, steps: list[Step]) -> tuple[str, dict[str, str]]:
        alias, via = node.alias, {}
        for step in steps:
            alias = node.builder.join(alias, step.table.name, step.on, False)
            via[step.table.name] = alias
        return alias, via

    def split_column(self, value: str, path: Path) -> tuple[str, str]:
        if "." not in value:
            raise self.fail(path, f"`{value}` must be `TABLE.COLUMN`")
        return tuple(value.rsplit(".", 1))

    def denormalize(self, node: Node, target, spec: dict, path: Path, keep_null: bool):
        table_name, column = self.split_column(spec["denormalize"], (*path, "denormalize"))
        steps = self.steps(node, spec, table_name, (*path, "denormalize"))
        if any(step.many for step in steps):
            raise self.fail((*path, "denormalize"), f"`denormalize` needs a many-to-one path, "
                            f"and `{node.table.name}` → `{table_name}` is one-to-many",
                            "use `embed` for arrays, or an aggregate")
        alias, _ = self.join_to_one(node, steps)
        self.column(steps[-1].table, column, (*path, "denormalize"))
        return self.value(node, target, steps[-1].table, alias, column, spec,
                          (*path, "denormalize"))

    def aggregate(self, node: Node, target, function: str, spec: dict, path: Path,
                  keep_null: bool) -> p.Value:
        where = (*path, function)
        if function == "count":
            table_name, column = spec[function], None
        else:
            table_name, column = self.split_column(spec[function], where)
        steps = self.steps(node, spec, table_name, where)
        hops, left = [], node.alias
        for index, step in enumerate(steps):
            alias = f"a{len(node.builder.selects)}_{index}"
            hops.append(p.Hop(step.table.name, alias, left, step.on, step.many))
            left = alias
        final = steps[-1].table
        kind = "int64"
        if column is not None:
            kind = final.column(self.column(final, column, where)).kind
        scope = Node(final, left, node.builder, node.ancestors, node.nulls)
        ref = p.AggregateRef(function, tuple(hops), column,
                             self.filter(scope, spec.get("filter"), (*path, "filter")))
        conversion = {"count": "int", "avg": "double"}.get(function, DEFAULT_CONVERSION[kind])
        return p.Value(target, node.builder.select(ref), spec.get("type") or conversion,
                       keep_null, f"{function}({spec[function]})")

    def embed(self, node: Node, target, spec: dict, path: Path,
              keep_null: bool) -> p.Shape | None:
        steps = self.steps(node, spec, spec["embed"], (*path, "embed"))
        final = steps[-1].table
        if final.name in node.ancestors and "max_depth" not in spec:
            cycle = " → ".join((*node.ancestors, final.name))
            raise self.fail((*path, "embed"), f"embed cycle: {cycle}",
                            "a self-reference needs `max_depth`")
        if node.ancestors.count(final.name) > spec.get("max_depth", 0):
            return self.depth_guard(node, target, spec, path, steps)
        if "max_depth" in spec:
            spec = {**spec, "fields": {**(spec.get("fields") or {}), ".".join(target): spec}}
        if not any(step.many for step in steps):
            alias, via = self.join_to_one(node, steps)
            present = node.builder.select(p.ColumnRef(alias, steps[-1].on[-1][1]))
            inner = Node(final, alias, node.builder, (*node.ancestors, final.name),
                         spec.get("nulls", node.nulls), via)
            document = self.node_document(inner, spec, path, spec.get("_id", "oid"), present)
            return p.SubDocument(target, document.fields, present, keep_null)
        return self.children(node, target, spec, path, steps, "embed")

    def depth_guard(self, node: Node, target, spec: dict, path: Path,
                    steps: list[Step]) -> p.Children:
        """Past `max_depth`: an array allowed no elements, so deeper rows follow `overflow`
        (rejected or counted as truncated), never silently dropped."""
        guard = self.children(node, target, {**spec, "fields": {}, "columns": [], "_id": False,
                                             "order_by": []}, path, steps, "embed")
        return replace(guard, limit=0, overflow=spec.get("overflow", "reject"))

    def reference(self, node: Node, target, spec: dict, path: Path, keep_null: bool):
        steps = self.steps(node, spec, spec["reference"], (*path, "reference"))
        if not any(step.many for step in steps):
            alias, _ = self.join_to_one(node, steps)
            return self.reference_id(Node(steps[-1].table, alias, node.builder, (), "omit"),
                                     target, path, keep_null)
        return self.children(node, target, spec, path, steps, "reference")

    def reference_id(self, node: Node, target, path: Path, keep_null: bool) -> p.DocumentId:
        rule, columns = self.id_rules.get(node.table.name, ("oid", node.table.primary_key))
        if not columns:
            raise self.fail(path, f"`{node.table.name}` has no primary key to reference")
        indexes = tuple(node.builder.select(p.ColumnRef(node.alias, c)) for c in columns)
        return p.DocumentId(target, rule, node.table.table_name, columns, indexes, keep_null,
                            self.conversions(node.table, columns))

    def children(self, node: Node, target, spec: dict, path: Path, steps: list[Step],
                 kind: str) -> p.Children:
        first = steps[0]
        child_builder = QueryBuilder(first.table.name, "c0", f"{node.builder.prefix}c")
        parent_key = tuple(node.builder.select(p.ColumnRef(node.alias, local))
                           for local, _ in first.on)
        link = tuple(p.ColumnRef("c0", remote) for _, remote in first.on)
        alias, via = "c0", {first.table.name: "c0"}
        for step in steps[1:]:
            alias = child_builder.join(alias, step.table.name, step.on, True)
            via[step.table.name] = alias
        final = steps[-1].table
        child = Node(final, alias, child_builder, (*node.ancestors, final.name),
                     spec.get("nulls", node.nulls), via)
        if kind == "embed":
            element = self.node_document(child, spec, path, spec.get("_id", "oid"))
        else:
            element = self.reference_id(child, (), path, False)
        order = [self.ordering(child, item, (*path, "order_by", i))
                 for i, item in enumerate(spec.get("order_by") or [])]
        for column in final.primary_key:
            tie_break = p.Ordering(child_builder.select(p.ColumnRef(alias, column)))
            if all(o.index != tie_break.index for o in order):
                order.append(tie_break)
        filter_ = self.filter(child, spec.get("filter"), (*path, "filter"))
        for ref in link:
            child_builder.select(ref)
        query = child_builder.query(filter_, link, order)
        return p.Children(target, query, parent_key, element, spec.get("limit"),
                          spec.get("overflow"))

    def ordering(self, node: Node, item: str, path: Path) -> p.Ordering:
        descending = item.startswith("-")
        name = item.lstrip("-")
        alias, table = node.alias, node.table
        if "." in name:
            table_name, name = name.rsplit(".", 1)
            if table_name in node.via:
                alias, table = node.via[table_name], self.catalog.tables[table_name]
            else:
                steps = self.steps(node, {}, table_name, path)
                if any(step.many for step in steps):
                    raise self.fail(path, f"cannot order by one-to-many `{table_name}`")
                alias, _ = self.join_to_one(node, steps)
                table = steps[-1].table
        self.column(table, name, path)
        return p.Ordering(node.builder.select(p.ColumnRef(alias, name)), descending)

    # --- filters -------------------------------------------------------------------------

    def filter(self, node: Node, spec: Any, path: Path) -> p.Filter | None:
        if not spec:
            return None
        items: list[p.Filter] = []
        for key, value in spec.items():
            if key in ("and", "or"):
                parts = [self.filter(node, part, (*path, key, i)) for i, part in enumerate(value)]
                items.append(p.BoolOp(key, tuple(x for x in parts if x is not None)))
                continue
            alias, table, name = node.alias, node.table, key
            if "." in key and key.rsplit(".", 1)[0] in node.via:
                table_name, name = key.rsplit(".", 1)
                alias, table = node.via[table_name], self.catalog.tables[table_name]
            try:
                self.column(table, name, (*path, key))
            except Unresolved:
                continue
            conditions = value if isinstance(value, dict) else {"eq": value}
            for op, operand in conditions.items():
                if op not in OPERATORS:
                    self.problem((*path, key, op), f"unknown filter operator `{op}`",
                                 did_you_mean(op, OPERATORS))
                    continue
                operand = tuple(operand) if isinstance(operand, list) else operand
                items.append(p.Condition(alias, name, op, operand))
        return items[0] if len(items) == 1 else p.BoolOp("and", tuple(items))


def id_rules(mappings: Sequence) -> dict[str, tuple[str, tuple[str, ...]]]:
    """How each root table's documents are identified, for references to them."""
    rules: dict[str, tuple[str, tuple[str, ...]]] = {}
    for mapping in mappings:
        for spec in (mapping.data.get("collections") or {}).values():
            rule = spec.get("_id", "oid")
            if isinstance(rule, dict):
                rules[spec["table"]] = ("column", (rule.get("column"),))
            elif isinstance(rule, str):
                rules.setdefault(spec["table"], (rule, ()))
    return rules


def resolve(mappings: Sequence, catalog: Catalog) -> tuple[p.Plan, list[Problem]]:
    """Resolve schema-valid mapping files against the catalog; problems, if any, say why."""
    rules = {table: (rule, columns or (catalog.table(table).primary_key
                                       if catalog.table(table) else ()))
             for table, (rule, columns) in id_rules(mappings).items()}
    collections, problems, seen = [], [], {}
    for mapping in mappings:
        resolver = Resolver(mapping, catalog, rules)
        for name, spec in (mapping.data.get("collections") or {}).items():
            if name in seen:
                resolver.problem(("collections", name), f"collection `{name}` is also "
                                 f"defined in {seen[name]}")
                continue
            seen[name] = mapping.path
            collection = resolver.collection(name, spec, mapping.data.get("database"))
            if collection is not None:
                collections.append(collection)
        problems.extend(resolver.problems)
    return p.Plan(tuple(collections)), sorted(problems)
