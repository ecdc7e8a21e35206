"""The resolver: collections, documents, fields and filters of mapping files, checked
against the catalog and turned into plan shapes and queries (relation paths: `relations`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mapper import plan as p
from mapper.catalog import Catalog, Table
from mapper.computed import TemplateProblem, unguarded, variables
from mapper.errors import Problem
from mapper.resolve.nodes import Node, Path, QueryBuilder, Unresolved, did_you_mean
from mapper.resolve.relations import RELATION_KINDS, Relations
from mapper.types import (
    ACCEPTS,
    DEFAULT_CONVERSION,
    UNREADABLE_ELEMENTS,
    constant_kind,
    parse_text,
    with_policy,
)

FIELD_KINDS = ("column", "value", "template", *RELATION_KINDS)
OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "is_null")


class Resolver(Relations):
    def __init__(self, mapping, catalog: Catalog, id_rules: dict[str, IdRule]):
        self.mapping = mapping
        self.catalog = catalog
        self.id_rules = id_rules
        self.problems: list[Problem] = []
        self.out_of_range = "reject"  # the collection's policy (`out_of_range`)

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
        self.out_of_range = spec.get("out_of_range", "reject")
        document = self.node_document(node, spec, path, spec.get("_id", "oid"))
        filter_ = self.filter(node, spec.get("filter"), (*path, "filter"))
        key_columns = table.primary_key or self.id_columns(table, spec.get("_id"))
        self.check_id_column(table, self.id_columns(table, spec.get("_id")), (*path, "_id"))
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

    def check_id_column(self, table: Table, columns: tuple[str, ...], path: Path) -> None:
        """Warn of the rows a root's `_id: {column: NAME}` rejects: NULL ones (no `_id`) and,
        without a unique key on it, repeated ones (duplicate `_id`)."""
        column = table.column(columns[0]) if columns else None
        if column is None:
            return
        if column.nullable:
            self.problem(path, f"`{table.name}.{column.name}` is nullable: rows where it is "
                         "NULL have no `_id` and are rejected", severity="warning")
        if not table.is_unique(columns):
            self.problem(path, f"`{table.name}.{column.name}` is not unique: a row that "
                         "repeats a value is rejected as a duplicate `_id`", severity="warning")

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
        fields = spec.get("fields") or {}
        for name in fields:
            self.claim(names, tuple(name.split(".")), (*path, "fields", name))
        counts = [name for name, field_spec in fields.items()
                  if _may_count_an_array(field_spec, fields.values())]
        resolved: dict[str, p.Shape | None] = {}
        for name in [*(n for n in fields if n not in counts), *counts]:  # counts last
            arrays = tuple(s for s in resolved.values() if isinstance(s, p.Children))
            try:
                resolved[name] = self.field(node, tuple(name.split(".")), fields[name],
                                            (*path, "fields", name), arrays)
            except Unresolved:
                continue
        shapes += [shape for name in fields if (shape := resolved.get(name)) is not None]
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

    def field(self, node: Node, target: tuple[str, ...], spec: Any, path: Path,
              arrays: tuple[p.Children, ...] = ()) -> p.Shape | None:
        """A field's shape; `arrays` are the document's arrays resolved so far (a `count` of
        the rows one of them embeds becomes its length)."""
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
            return self.constant(target, spec, path)
        if kind == "template":
            return self.template(node, target, spec, path, keep_null)
        if kind == "embed":
            return self.embed(node, target, spec, path, keep_null)
        if kind == "reference":
            return self.reference(node, target, spec, path, keep_null)
        if kind == "denormalize":
            return self.denormalize(node, target, spec, path, keep_null)
        return self.aggregate(node, target, kind, spec, path, keep_null, arrays)

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
        if kind == "array" and table.column(name).element in UNREADABLE_ELEMENTS:
            raise self.fail(path, f"no conversion for `{table.name}.{name}` "
                            f"({table.column(name).sql_type})",
                            UNREADABLE_ELEMENTS[table.column(name).element])
        conversion = with_policy(conversion, kind, spec.get("out_of_range", self.out_of_range))
        cast = "numeric" if kind == "money" else None
        index = node.builder.select(p.ColumnRef(alias, name, cast))
        return p.Value(target, index, conversion, spec.get("nulls", node.nulls) == "keep",
                       f"{table.name}.{name}")

    def constant(self, target, spec: dict, path: Path) -> p.Constant:
        """A constant, checked against its `type:` as a column of its kind would be."""
        value, conversion = spec["value"], spec.get("type")
        if conversion is None or value is None:
            return p.Constant(target, value)
        parsed = value
        if isinstance(value, str):
            try:
                parsed = parse_text(conversion, value)
            except ValueError:
                raise self.fail((*path, "value"), f"the constant {value!r} does not parse as "
                                f"`{conversion}`") from None
        if constant_kind(parsed) not in ACCEPTS.get(conversion, set(DEFAULT_CONVERSION)):
            raise self.fail((*path, "type"), f"cannot convert the constant {value!r} to "
                            f"`{conversion}`")
        return p.Constant(target, value, conversion)

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
        nullable = sorted(n for n in unguarded(spec["template"]) & names
                          if node.table.column(n).nullable)
        if nullable:
            listed = ", ".join(f"`{n}`" for n in nullable)
            self.problem((*path, "template"), f"template `{'.'.join(target)}` is NULL when "
                         f"{listed} is NULL (then `nulls` applies)",
                         f"to render something else, use `{{{{ {nullable[0]} | default('') }}}}`"
                         f" or `{{% if {nullable[0]} %}}`", "warning")
        bound = tuple((n, node.builder.select(p.ColumnRef(node.alias, n))) for n in sorted(names))
        return p.Template(target, spec["template"], bound, spec.get("type", "string"), keep_null)

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


@dataclass(frozen=True)
class IdRule:
    """How a collection's documents are identified, for the references to them."""

    collection: str
    file: str
    table: str
    rule: str
    columns: tuple[str, ...]


def id_rules(mappings: Sequence, catalog: Catalog) -> dict[str, IdRule]:
    """Each collection's `_id` rule, by collection name (references name them)."""
    rules: dict[str, IdRule] = {}
    for mapping in mappings:
        for name, spec in (mapping.data.get("collections") or {}).items():
            rule = spec.get("_id", "oid")
            table = catalog.table(spec["table"])
            if isinstance(rule, dict):
                rules.setdefault(name, IdRule(name, mapping.path, spec["table"], "column",
                                              (rule.get("column"),)))
            elif isinstance(rule, str):
                rules.setdefault(name, IdRule(name, mapping.path, spec["table"], rule,
                                              table.primary_key if table else ()))
    return rules


def resolve(mappings: Sequence, catalog: Catalog) -> tuple[p.Plan, list[Problem]]:
    """Resolve schema-valid mapping files against the catalog; problems, if any, say why."""
    rules = id_rules(mappings, catalog)
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


def _may_count_an_array(spec: Any, siblings) -> bool:
    """A `count` without a filter beside an `embed` or `reference` of the same table: it is
    resolved after the document's arrays, as it may count the rows one of them holds."""
    return isinstance(spec, dict) and "count" in spec and not spec.get("filter") and any(
        isinstance(other, dict) and spec["count"] in (other.get("embed"), other.get("reference"))
        for other in siblings)
