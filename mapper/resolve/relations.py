"""Relation paths: hops between tables (joins inferred from foreign keys, cardinality
decided) and the fields they make: embeds, references, denormalized copies, aggregates.

`Relations` is the part of the `Resolver` (`mapper.resolve.resolver`) that follows them; it
reports problems and resolves nested documents through the resolver it is mixed into.
"""

from __future__ import annotations

from mapper import plan as p
from mapper.catalog import Table
from mapper.resolve.nodes import Node, Path, QueryBuilder, Step
from mapper.types import AGGREGATES, DEFAULT_CONVERSION, with_policy

# column kinds whose values compare equal across kinds in Python (1 == 1.0 == Decimal(1))
_JOIN_FAMILIES = {"int32": "number", "int64": "number", "decimal": "number",
                  "money": "number", "double": "number", "uuid": "text"}
RELATION_KINDS = ("embed", "reference", "denormalize", "count", "sum", "min", "max", "avg")


class Relations:
    """Relation-path fields of the `Resolver`."""


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

    def check_comparable(self, left: Table, right: Table, on, path: Path) -> None:
        """The columns that link an array's rows to their parent must hold values of one
        kind: the run matches them by value, and a number never equals its text (SQLite lets
        such keys be; joins in SQL convert them)."""
        for local, remote in on:
            kinds = [_JOIN_FAMILIES.get(column.kind, column.kind)
                     for column in (left.column(local), right.column(remote))]
            if kinds[0] != kinds[1] and "other" not in kinds:
                raise self.fail(path, f"cannot join `{left.name}.{local}` "
                                f"({left.column(local).sql_type}) to `{right.name}.{remote}` "
                                f"({right.column(remote).sql_type}): their values never match",
                                "give both columns the same type")

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
                  keep_null: bool, arrays: tuple[p.Children, ...] = ()) -> p.Value | p.Length:
        """An aggregate in SQL; a `count` of the rows one of the document's `arrays` embeds
        is that array's length."""
        where = (*path, function)
        if function == "count":
            table_name, column = spec[function], None
        else:
            table_name, column = self.split_column(spec[function], where)
        steps = self.steps(node, spec, table_name, where)
        if function == "count" and not spec.get("filter"):
            array = next((a for a in arrays if _same_rows(node, steps, a)), None)
            if array is not None:
                return p.Length(target, array.path, spec.get("type") or "int",
                                f"count({spec[function]})")
        hops, left = [], node.alias
        for index, step in enumerate(steps):
            alias = f"a{len(node.builder.selects)}_{index}"
            hops.append(p.Hop(step.table.name, alias, left, step.on, step.many))
            left = alias
        final = steps[-1].table
        kind = "int64"
        if column is not None:
            kind = final.column(self.column(final, column, where)).kind
            if kind not in AGGREGATES[function]:
                raise self.fail(where, f"cannot `{function}` `{final.name}.{column}` "
                                f"({final.column(column).sql_type})", "`sum` takes numbers or "
                                "intervals, `avg` numbers, `min` and `max` also text and dates")
        scope = Node(final, left, node.builder, node.ancestors, node.nulls)
        ref = p.AggregateRef(function, tuple(hops), column,
                             self.filter(scope, spec.get("filter"), (*path, "filter")),
                             self.distinct_key(final, spec, where),
                             "numeric" if kind == "money" else None)
        conversion = {"count": "int", "avg": "double"}.get(function, with_policy(
            DEFAULT_CONVERSION[kind], kind, spec.get("out_of_range", self.out_of_range)))
        return p.Value(target, node.builder.select(ref), spec.get("type") or conversion,
                       keep_null, f"{function}({spec[function]})")

    def distinct_key(self, table: Table, spec: dict, path: Path) -> tuple[str, ...]:
        if not spec.get("distinct"):
            return ()
        if not table.primary_key:
            raise self.fail(path, f"`distinct` needs a primary key of `{table.name}` to tell "
                            "its rows apart")
        return table.primary_key

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
                    steps: list[Step]) -> p.DepthGuard:
        """Past `max_depth`: no field; rows deeper follow `on_depth` (reject, or truncate:
        the default for a sub-document), never silently dropped from an array."""
        many = any(step.many for step in steps)
        policy = spec.get("on_depth") or ("reject" if many else "truncate")
        if not many:
            alias, _ = self.join_to_one(node, steps)
            present = node.builder.select(p.ColumnRef(alias, steps[-1].on[-1][1]))
            return p.DepthGuard(target, policy, present_index=present)
        bare = {key: value for key, value in spec.items() if key not in ("limit", "overflow")}
        deeper = self.children(node, target, {**bare, "fields": {}, "columns": [], "_id": False,
                                              "order_by": []}, path, steps, "embed")
        return p.DepthGuard(target, policy, deeper=deeper)

    def reference(self, node: Node, target, spec: dict, path: Path, keep_null: bool):
        steps = self.steps(node, spec, spec["reference"], (*path, "reference"))
        if not any(step.many for step in steps):
            alias, _ = self.join_to_one(node, steps)
            return self.reference_id(Node(steps[-1].table, alias, node.builder, (), "omit"),
                                     target, spec, path, keep_null)
        return self.children(node, target, spec, path, steps, "reference")

    def reference_id(self, node: Node, target, spec: dict, path: Path,
                     keep_null: bool) -> p.DocumentId:
        """The `_id` a reference holds: by the id rule of the collection it names, else
        `oid` of the referenced row's key; the same whichever other files are loaded."""
        table = node.table
        rule, columns = "oid", table.primary_key
        if "collection" in spec:
            named = self.id_rules.get(spec["collection"])
            if named is None:
                raise self.fail((*path, "collection"), f"no collection `{spec['collection']}` "
                                "in the mapping files given", "give its file too (its `_id` "
                                "rule makes the ids this reference holds)")
            if named.table != table.name:
                raise self.fail((*path, "collection"), f"collection `{named.collection}` is "
                                f"built from `{named.table}`, not `{table.name}`")
            rule, columns = named.rule, named.columns
        else:
            other = next((r for r in self.id_rules.values() if r.table == table.name
                          and (r.rule, r.columns) != (rule, columns)), None)
            if other is not None:
                raise self.fail((*path, "reference"), f"reference to `{table.name}` holds "
                                f"`oid` ids, but collection `{other.collection}` "
                                f"({other.file}) identifies `{table.name}` rows by `_id: "
                                f"{other.rule}`", f"name it: `collection: {other.collection}`")
        if not columns:
            raise self.fail(path, f"`{table.name}` has no primary key to reference")
        indexes = tuple(node.builder.select(p.ColumnRef(node.alias, c)) for c in columns)
        return p.DocumentId(target, rule, table.table_name, columns, indexes, keep_null,
                            self.conversions(table, columns))

    def children(self, node: Node, target, spec: dict, path: Path, steps: list[Step],
                 kind: str) -> p.Children:
        first = steps[0]
        self.check_comparable(node.table, first.table, first.on, path)
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
            element = self.reference_id(child, (), spec, path, False)
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


def _same_rows(node: Node, steps: list[Step], array: p.Children) -> bool:
    """Whether an array holds one element per row of a one-hop relation from `node`: it reads
    the same table on the same columns, with no filter or limit, and joins only to-one tables
    (left joins, which neither add nor drop rows)."""
    query = array.query
    if len(steps) != 1 or query.table != steps[0].table.name or query.filter is not None \
            or array.limit is not None or any(hop.many for hop in query.joins):
        return False
    selects = node.builder.selects
    parent = tuple(p.ColumnRef(node.alias, local) for local, _ in steps[0].on)
    return query.link == tuple(p.ColumnRef(query.alias, remote) for _, remote in steps[0].on) \
        and all(ref in selects for ref in parent) \
        and array.parent_key == tuple(selects.index(ref) for ref in parent)
