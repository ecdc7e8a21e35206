"""The documents a mapping should give, rebuilt from the mapping files' data and plain reads.

A deliberately naive second implementation of the mapping language (docs/mapping-language.md)
for `validate`'s deep equality: it reads the mapping's data itself (never the resolver's plan,
the compiler or the builder), follows each relation with one query per table and batch
(`Source.rows`), and filters, orders, limits, aggregates and shapes in Python. It shares only
the documented policies: conversions (`engine.convert`, `types.DEFAULT_CONVERSION`), the `oid`
rule (`ids`), templates (`computed.render`), and the catalog's keys.

    rebuild = Rebuild(mappings, catalog, Source(connection, catalog))
    for rows in rebuild.batches("tasks", 1000):
        for row, document in zip(rows, rebuild.documents("tasks", rows)): ...

A document is a dict, or `Rejected` when the run must reject its row (a value that does not
convert, an array over its limit with `overflow: reject`, rows deeper than `max_depth`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import bson
from bson.binary import UuidRepresentation

from mapper import ids
from mapper.catalog import Catalog, Table, join_candidates
from mapper.computed import render
from mapper.engine import convert
from mapper.errors import UsageError
from mapper.spec import MappingFile
from mapper.types import DEFAULT_CONVERSION, with_policy
from mapper.validation.source import Row, Source
from mapper.validation.values import Approximately

AGGREGATES = ("count", "sum", "min", "max", "avg")
MAX_BYTES = 16 * 1024 * 1024  # MongoDB's document size limit

Spec = dict[str, Any]  # a node of a mapping file's data (a collection, a field, a filter)
IdRule = str | Literal[False] | dict[str, str]  # `_id:` oid, key, {column: NAME}, or none
Way = dict[str, Row]  # the rows of the tables on a join path, by table name
Document = dict[str, Any]


@dataclass(frozen=True)
class Rejected:
    """Why the run rejects a row: its stage (convert, template, overflow, depth, size)."""

    stage: str
    reason: str


class _Refusal(Exception):
    """Raised where a value cannot be made; `_attempt` (or the caller) returns its `Rejected`."""

    def __init__(self, rejected: Rejected):
        super().__init__(rejected.reason)
        self.rejected = rejected


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT = _Omit()


@dataclass(frozen=True)
class Hop:
    table: Table
    on: tuple[tuple[str, str], ...]  # (left column, this table's column)
    many: bool


@dataclass(frozen=True)
class Context:
    """A row being shaped, and the rows of the tables on its way (`TABLE.COLUMN` names)."""

    row: Row
    via: Way


@dataclass(frozen=True)
class _Node:
    """Where fields are read: the table, the names of its way's tables, ancestors, nulls."""

    table: Table
    via: tuple[str, ...]
    ancestors: tuple[str, ...]
    nulls: str


class Rebuild:
    def __init__(
        self,
        mappings: Sequence[MappingFile],
        catalog: Catalog,
        source: Source,
        decimal_as: str = "decimal128",
    ):
        self.catalog, self.source, self.decimal_as = catalog, source, decimal_as
        self.specs: dict[str, Spec] = {}
        self.out_of_range = "reject"  # the policy of the collection being rebuilt
        for mapping in mappings:
            for name, spec in (mapping.data.get("collections") or {}).items():
                self.specs.setdefault(name, spec)

    # --- root rows -----------------------------------------------------------------------

    def root(self, name: str) -> Table:
        return self._table(self.specs[name]["table"])

    def key_columns(self, name: str) -> tuple[str, ...]:
        table, rule = self.root(name), self.specs[name].get("_id", "oid")
        return table.primary_key or ((rule["column"],) if isinstance(rule, dict) else ())

    def batches(self, name: str, size: int) -> Iterator[list[Row]]:
        """The root table's rows that pass the collection's filter, in batches."""
        spec, table = self.specs[name], self.root(name)
        for rows in self.source.scan(table.name, self.key_columns(name), size):
            yield [row for row in rows if self._passes(spec.get("filter"), table, Context(row, {}))]

    def document_id(self, name: str, row: Row) -> Any:
        """The `_id` of a root row's document (None for a NULL key; Rejected if it cannot
        be converted)."""
        try:
            return self._identity(self.root(name), self.specs[name].get("_id", "oid"), row)
        except _Refusal as refusal:
            return refusal.rejected

    def documents(self, name: str, rows: list[Row]) -> list[Document | Rejected]:
        spec, table = self.specs[name], self.root(name)
        self.out_of_range = spec.get("out_of_range", "reject")
        node = _Node(table, (), (table.name,), spec.get("nulls", "omit"))
        built = self._node(node, spec, [Context(row, {}) for row in rows], spec.get("_id", "oid"))
        return [_sized(document) for document in built]

    # --- nodes ---------------------------------------------------------------------------

    def _node(
        self, node: _Node, spec: Spec, contexts: list[Context], rule: IdRule
    ) -> list[Document | Rejected]:
        """The documents of a node (a collection or an embed) for many rows at once."""
        documents: list[Document] = [{} for _ in contexts]
        failed: list[Rejected | None] = [None] * len(contexts)

        def put(path: tuple[str, ...], values: list[Any]) -> None:
            for index, value in enumerate(values):
                if isinstance(value, Rejected):
                    failed[index] = failed[index] or value
                elif value is not OMIT:
                    target = documents[index]
                    for part in path[:-1]:
                        target = target.setdefault(part, {})
                    target[path[-1]] = value

        def identity(context: Context) -> Any:
            return _attempt(lambda: _absent(self._identity(node.table, rule, context.row)))

        if rule is not False:
            put(("_id",), [identity(c) for c in contexts])
        for column in self._copied(node.table, spec):
            put((column,), self._column(node, column, {}, contexts))
        for name, field in (spec.get("fields") or {}).items():
            put(tuple(name.split(".")), self._field(node, name, field, contexts))
        return [failed[i] or documents[i] for i in range(len(contexts))]

    def _copied(self, table: Table, spec: Spec) -> list[str]:
        columns = spec.get("columns", "all")
        if columns == "all":
            return [c for c in table.column_names if c not in (spec.get("exclude") or [])]
        return list(columns or [])

    def _field(
        self, node: _Node, name: str, spec: str | Spec, contexts: list[Context]
    ) -> list[Any]:
        if isinstance(spec, str):
            return self._column(node, spec, {}, contexts)
        keep = spec.get("nulls", node.nulls) == "keep"
        if "column" in spec:
            return self._column(node, spec["column"], spec, contexts)
        if "value" in spec:
            conversion = self._conversion(spec["type"]) if spec.get("type") else None
            value = _attempt(lambda: convert.constant(conversion, spec["value"]))
            return [value] * len(contexts)
        if "template" in spec:
            return [self._template(spec, keep, c.row) for c in contexts]
        if "embed" in spec:
            return self._embed(node, name, spec, contexts)
        if "reference" in spec:
            return self._reference(node, spec, contexts, keep)
        if "denormalize" in spec:
            table_name, column = spec["denormalize"].rsplit(".", 1)
            found = self._to_one(node.table, self._hops(node.table, spec, table_name), contexts)
            final = self._table(table_name)
            return [
                (None if keep else OMIT)
                if row is None
                else self._value(final, column, spec, row[column], keep)
                for row in (path[-1] if path else None for path in found)
            ]
        function = next(kind for kind in AGGREGATES if kind in spec)
        return self._aggregate(node, function, spec, contexts, keep)

    # --- values --------------------------------------------------------------------------

    def _conversion(self, name: str) -> str:
        return self.decimal_as if name == "decimal128" else name

    def _column(self, node: _Node, name: str, spec: Spec, contexts: list[Context]) -> list[Any]:
        table, keep = node.table, spec.get("nulls", node.nulls) == "keep"
        owner = name.rsplit(".", 1)[0] if "." in name else None
        if owner in node.via:
            table, name = self._table(owner), name.rsplit(".", 1)[1]
            return [self._value(table, name, spec, c.via[owner][name], keep) for c in contexts]
        return [self._value(table, name, spec, c.row[name], keep) for c in contexts]

    def _value(self, table: Table, column: str, spec: Spec, raw: Any, keep: bool) -> Any:
        if raw is None:
            return None if keep else OMIT
        kind = _kind(table, column)
        conversion = with_policy(
            self._conversion(spec.get("type") or DEFAULT_CONVERSION[kind]),
            kind,
            spec.get("out_of_range", self.out_of_range),
        )
        try:
            return convert.get(conversion)(raw)
        except (convert.ConversionFailed, ValueError, TypeError, ArithmeticError):
            return Rejected("convert", f"cannot convert `{table.name}.{column}` to {conversion}")

    def _template(self, spec: Spec, keep: bool, row: Row) -> Any:
        try:
            text = render(spec["template"], row)
        except Exception as error:  # noqa: BLE001 - any template error rejects the row
            return Rejected("template", f"template failed: {type(error).__name__}")
        if text is None:
            return None if keep else OMIT
        conversion = self._conversion(spec.get("type", "string"))
        return _attempt(lambda: convert.from_text(conversion, text))

    def _identity(self, table: Table, rule: IdRule, row: Row) -> Any:
        """An `_id` by a rule: oid, key (composite: a sub-document), {column: NAME}."""
        columns = (rule["column"],) if isinstance(rule, dict) else table.primary_key
        values = [row[c] for c in columns]
        if any(value is None for value in values):
            return None
        if rule == "oid":
            return ids.oid(table.table_name, values)
        try:
            converted = [
                convert.get(DEFAULT_CONVERSION[_kind(table, c)])(value)
                for c, value in zip(columns, values, strict=True)
            ]
        except (convert.ConversionFailed, ValueError, TypeError, ArithmeticError):
            raise _Refusal(
                Rejected("convert", f"cannot convert the key of `{table.name}`")
            ) from None
        if len(converted) > 1:
            return dict(zip(columns, converted, strict=True))
        return converted[0]

    # --- relations -----------------------------------------------------------------------

    def _table(self, name: str) -> Table:
        table = self.catalog.table(name)
        if table is None:
            raise UsageError(f"unknown table `{name}`")
        return table

    def _hops(self, left: Table, spec: Spec, target: str) -> list[Hop]:
        """The joins from `left` to `target` through `via`: given by `on`, or the one foreign
        key that links two tables; many-to-one where the joined columns are unique."""
        hops: list[Hop] = []
        for hop in [*(spec.get("via") or []), {"table": target, "on": spec.get("on")}]:
            hop = hop if isinstance(hop, dict) else {"table": hop}
            right = self._table(hop["table"])
            if hop.get("on"):
                on = tuple(hop["on"].items())
            else:
                found = join_candidates(left, right)
                if len(found) != 1:
                    raise UsageError(
                        f"no single foreign key joins `{left.name}` and `{right.name}`"
                    )
                on = found.pop()
            hops.append(Hop(right, on, not right.is_unique(column for _, column in on)))
            left = right
        return hops

    def _paths(
        self, hops: list[Hop], contexts: list[Context], final: tuple[str, ...] | None = None
    ) -> list[list[tuple[Row, Way]]]:
        """Each context's join paths along the hops (inner joins): (final row, the rows of
        the way by table name), in the order the rows were found. With `final`, the rows
        hold only the columns the joins need and those (an aggregate's)."""
        frontier: list[tuple[int, Row, Way]] = [
            (index, context.row, {}) for index, context in enumerate(contexts)
        ]
        for number, hop in enumerate(hops):
            locals_ = [local for local, _ in hop.on]
            remotes = tuple(remote for _, remote in hop.on)
            only = None
            if final is not None:
                only = (
                    (*final, *hop.table.primary_key)
                    if number == len(hops) - 1
                    else tuple(local for local, _ in hops[number + 1].on)
                )
            found = self.source.rows(
                hop.table.name,
                remotes,
                (tuple(row[c] for c in locals_) for _, row, _ in frontier),
                only,
            )
            frontier = [
                (index, match, {**way, hop.table.name: match})
                for index, row, way in frontier
                for match in found.get(tuple(row[c] for c in locals_), ())
            ]
        paths: list[list[tuple[Row, Way]]] = [[] for _ in contexts]
        for index, row, way in frontier:
            paths[index].append((row, way))
        return paths

    def _to_one(
        self, table: Table, hops: list[Hop], contexts: list[Context]
    ) -> list[list[Row] | None]:
        """Each context's rows along a many-to-one way (None where a row is missing)."""
        found: list[list[Row] | None] = []
        for paths in self._paths(hops, contexts):
            if not paths:
                found.append(None)
                continue
            row, way = paths[0]
            found.append([way[hop.table.name] for hop in hops[:-1]] + [row])
        return found

    def _embed(self, node: _Node, name: str, spec: Spec, contexts: list[Context]) -> list[Any]:
        hops = self._hops(node.table, spec, spec["embed"])
        final, many = hops[-1].table, any(hop.many for hop in hops)
        if node.ancestors.count(final.name) > spec.get("max_depth", 0):
            return self._depth_guard(node, name, spec, hops, contexts)
        if "max_depth" in spec:
            spec = {**spec, "fields": {**(spec.get("fields") or {}), name: spec}}
        nulls = spec.get("nulls", node.nulls)
        inner = _Node(
            final, tuple(hop.table.name for hop in hops), (*node.ancestors, final.name), nulls
        )
        rule = spec.get("_id", "oid")
        if many:
            return self._array(
                node,
                name,
                spec,
                hops,
                contexts,
                lambda elements: self._node(inner, spec, elements, rule),
            )
        found = self._to_one(node.table, hops, contexts)
        present = [
            Context(path[-1], {hop.table.name: row for hop, row in zip(hops, path, strict=True)})
            for path in found
            if path is not None
        ]
        built = iter(self._node(inner, spec, present, rule))
        absent = None if nulls == "keep" else OMIT
        return [absent if path is None else next(built) for path in found]

    def _depth_guard(
        self, node: _Node, name: str, spec: Spec, hops: list[Hop], contexts: list[Context]
    ) -> list[Any]:
        """Past `max_depth`: no field; a row whose data goes deeper is rejected (`on_depth:
        reject`, the default for an array) or left out (`truncate`, for a sub-document)."""
        many = any(hop.many for hop in hops)
        if (spec.get("on_depth") or ("reject" if many else "truncate")) == "truncate":
            return [OMIT] * len(contexts)
        if many:
            deeper = [bool(elements) for elements in self._elements(node, spec, hops, contexts)]
        else:
            deeper = [path is not None for path in self._to_one(node.table, hops, contexts)]
        rejected = Rejected("depth", f"rows nested deeper than `max_depth` under `{name}`")
        return [rejected if found else OMIT for found in deeper]

    def _elements(
        self, node: _Node, spec: Spec, hops: list[Hop], contexts: list[Context]
    ) -> list[list[Context]]:
        """Each context's related rows along a one-to-many way: filtered and ordered."""
        final = hops[-1].table
        inner = _Node(final, tuple(hop.table.name for hop in hops), (), node.nulls)
        groups = [
            [
                Context(row, way)
                for row, way in paths
                if self._passes(spec.get("filter"), final, Context(row, way), inner.via)
            ]
            for paths in self._paths(hops, contexts)
        ]
        return self._ordered(final, spec.get("order_by") or [], groups)

    def _array(
        self,
        node: _Node,
        name: str,
        spec: Spec,
        hops: list[Hop],
        contexts: list[Context],
        build: Callable[[list[Context]], Sequence[Any]],
    ) -> list[Any]:
        """An array per context: its elements built for all contexts at once, then limited."""
        groups = self._elements(node, spec, hops, contexts)
        built = iter(build([element for group in groups for element in group]))
        arrays: list[Any] = []
        for group in groups:
            elements = [next(built) for _ in group]
            rejected = next((e for e in elements if isinstance(e, Rejected)), None)
            limit = spec.get("limit")
            if rejected is None and limit is not None and len(elements) > limit:
                if spec.get("overflow") == "truncate":
                    del elements[limit:]
                else:
                    rejected = Rejected(
                        "overflow",
                        f"array `{name}` has {len(elements)} elements, more than its limit {limit}",
                    )
            arrays.append(rejected or elements)
        return arrays

    def _ordered(
        self, table: Table, order_by: list[str], groups: list[list[Context]]
    ) -> list[list[Context]]:
        """Sorted by `order_by` then the table's key: text by code point, NULLs last in
        either direction, `-name` descending (stable sorts, last key first)."""
        items = [(item.startswith("-"), item.lstrip("-")) for item in order_by]
        items += [(False, column) for column in table.primary_key]
        everything = [element for group in groups for element in group]
        keys = [self._order_values(table, name, everything) for _, name in items]
        position = {id(element): index for index, element in enumerate(everything)}
        ordered = []
        for group in groups:
            for (descending, _), values in reversed(list(zip(items, keys, strict=True))):

                def value(element: Context, values: list[Any] = values) -> Any:
                    return values[position[id(element)]]

                group = sorted(
                    (e for e in group if value(e) is not None), key=value, reverse=descending
                ) + [e for e in group if value(e) is None]
            ordered.append(group)
        return ordered

    def _order_values(self, table: Table, name: str, elements: list[Context]) -> list[Any]:
        if "." not in name:
            return [element.row[name] for element in elements]
        owner, column = name.rsplit(".", 1)
        if elements and owner in elements[0].via:
            return [element.via[owner][column] for element in elements]
        found = self._to_one(table, self._hops(table, {}, owner), elements)
        return [None if path is None else path[-1][column] for path in found]

    def _reference(self, node: _Node, spec: Spec, contexts: list[Context], keep: bool) -> list[Any]:
        hops = self._hops(node.table, spec, spec["reference"])
        final = hops[-1].table
        rule = self._reference_rule(spec)

        def identity(context: Context) -> Any:
            return _attempt(lambda: _absent(self._identity(final, rule, context.row)))

        if any(hop.many for hop in hops):
            return self._array(
                node,
                spec["reference"],
                spec,
                hops,
                contexts,
                lambda elements: [identity(e) for e in elements],
            )
        absent = None if keep else OMIT
        return [
            absent if path is None else identity(Context(path[-1], {}))
            for path in self._to_one(node.table, hops, contexts)
        ]

    def _reference_rule(self, spec: Spec) -> IdRule:
        """The `_id` rule of the referenced collection named by `collection:`, else oid."""
        name = spec.get("collection")
        if name is None:
            return "oid"
        if name not in self.specs:
            raise UsageError(
                f"reference to collection `{name}`, which no loaded mapping file defines"
            )
        rule: IdRule = self.specs[name].get("_id", "oid")
        return rule

    def _aggregate(
        self, node: _Node, function: str, spec: Spec, contexts: list[Context], keep: bool
    ) -> list[Any]:
        """count, sum, min, max, avg over every join path (each final row once with
        `distinct`); `count` of nothing is 0, the others NULL."""
        table_name, column = (
            (spec["count"], None) if function == "count" else spec[function].rsplit(".", 1)
        )
        hops = self._hops(node.table, spec, table_name)
        final = hops[-1].table
        scope = _Node(final, (), (), node.nulls)
        kind = "int64" if column is None else _kind(final, column)
        conversion = self._conversion(
            spec.get("type")
            or {"count": "int", "avg": "double"}.get(
                function,
                with_policy(
                    DEFAULT_CONVERSION[kind], kind, spec.get("out_of_range", self.out_of_range)
                ),
            )
        )
        needed = (*_filter_columns(spec.get("filter")), *([column] if column else []))

        def converted(value: Any) -> Any:
            return _attempt(lambda: convert.get(conversion)(value))

        results: list[Any] = []
        for paths in self._paths(hops, contexts, needed):
            rows = [
                row
                for row, _ in paths
                if self._passes(spec.get("filter"), final, Context(row, {}), scope.via)
            ]
            if spec.get("distinct") and final.primary_key:
                rows = list(
                    {tuple(row[c] for c in final.primary_key): row for row in rows}.values()
                )
            value = (
                len(rows)
                if column is None
                else _aggregated(function, [row[column] for row in rows if row[column] is not None])
            )
            if value is None:
                results.append(None if keep else OMIT)
                continue
            result = converted(value)
            if isinstance(result, float) and (function == "avg" or kind == "double"):
                result = Approximately(result)  # summed in another order by SQL
            results.append(result)
        return results

    # --- filters -------------------------------------------------------------------------
    # The operators' meaning in Python, deliberately not `Compiler.condition` (which the run
    # and validate's SQL checks share): this second reading is the oracle against it.

    def _passes(
        self, spec: Spec | None, table: Table, context: Context, via: tuple[str, ...] = ()
    ) -> bool:
        """A declarative filter in Python, with SQL's meaning: NULL matches only `is_null`,
        `ne` and `not_in`; constants are read as the column's type (`'2024-01-01'`)."""
        for key, value in (spec or {}).items():
            if key in ("and", "or"):
                results = (self._passes(part, table, context, via) for part in value)
                if not (all(results) if key == "and" else any(results)):
                    return False
                continue
            owner, column, row = table, key, context.row
            if "." in key and key.rsplit(".", 1)[0] in via:
                name, column = key.rsplit(".", 1)
                owner, row = self._table(name), context.via[name]
            kind = _kind(owner, column)
            conditions = value if isinstance(value, dict) else {"eq": value}
            if not all(
                _holds(op, row[column], operand, kind) for op, operand in conditions.items()
            ):
                return False
        return True

    # --- references (for the reference check) --------------------------------------------

    def references(self, name: str) -> list[tuple[tuple[str, ...], str | None]]:
        """(abstract path, `*` for each array element; referenced collection) of every
        reference a collection's documents hold."""
        spec, table = self.specs[name], self.root(name)
        return list(self._references(spec, table, (), (table.name,)))

    def _references(
        self, spec: Spec, table: Table, prefix: tuple[str, ...], ancestors: tuple[str, ...]
    ) -> Iterator[tuple[tuple[str, ...], str | None]]:
        for name, field in (spec.get("fields") or {}).items():
            if not isinstance(field, dict) or not ({"embed", "reference"} & set(field)):
                continue
            path = (*prefix, *name.split("."))
            kind = "embed" if "embed" in field else "reference"
            hops = self._hops(table, field, field[kind])
            final, many = hops[-1].table, any(hop.many for hop in hops)
            path = (*path, "*") if many else path
            if kind == "reference":
                yield path, self._referenced(field, final)
            elif ancestors.count(final.name) <= field.get("max_depth", 0):
                inner = (
                    {**field, "fields": {**(field.get("fields") or {}), name: field}}
                    if "max_depth" in field
                    else field
                )
                yield from self._references(inner, final, path, (*ancestors, final.name))

    def _referenced(self, spec: Spec, table: Table) -> str | None:
        """The collection holding a reference's documents: `collection:`, else one built
        from the table with `oid` ids (None when no loaded file builds one)."""
        named: str | None = spec.get("collection")
        if named:
            return named
        return next(
            (
                name
                for name, other in self.specs.items()
                if other.get("table") == table.name and other.get("_id", "oid") == "oid"
            ),
            None,
        )


def _kind(table: Table, column: str) -> str:
    """The kind of a column the mapping names (lint has checked that it exists)."""
    found = table.column(column)
    if found is None:
        raise UsageError(f"unknown column `{table.name}.{column}`")
    return found.kind


def _filter_columns(spec: Spec | None) -> list[str]:
    """The columns a filter (of an aggregate: the final table's) reads."""
    found: list[str] = []
    for key, value in (spec or {}).items():
        if key in ("and", "or"):
            found += [column for part in value for column in _filter_columns(part)]
        else:
            found.append(key)
    return found


def _attempt(make: Callable[[], Any]) -> Any:
    """A value, or Rejected when converting it fails."""
    try:
        return make()
    except _Refusal as refusal:
        return refusal.rejected
    except (convert.ConversionFailed, ValueError, TypeError, ArithmeticError) as error:
        reason = str(error) if isinstance(error, convert.ConversionFailed) else type(error).__name__
        return Rejected("convert", reason)


def _absent(value: Any) -> Any:
    return OMIT if value is None else value


def _sized(document: Document | Rejected) -> Document | Rejected:
    """Documents over MongoDB's size limit are rejected by the run."""
    if isinstance(document, Rejected):
        return document
    try:
        size = len(bson.encode(document, codec_options=_CODEC))
    except (bson.errors.InvalidDocument, OverflowError):
        return Rejected("encode", "the document cannot be encoded as BSON")
    if size > MAX_BYTES:
        return Rejected("size", f"document is {size:,} bytes, over the 16 MiB limit")
    return document


_EXACT = decimal.Context(prec=1000)
_CODEC: bson.CodecOptions[dict[str, Any]] = bson.CodecOptions(
    uuid_representation=UuidRepresentation.STANDARD
)


def _aggregated(function: str, values: list[Any]) -> Any:
    """sum, min, max or avg of the non-NULL values (None for none)."""
    if not values:
        return None
    if function == "min":
        return min(values)
    if function == "max":
        return max(values)
    if all(isinstance(v, int) for v in values):
        total: Any = sum(values)
    elif any(isinstance(v, float) for v in values):
        total = math.fsum(float(v) for v in values)
    else:
        with decimal.localcontext(_EXACT):
            total = sum((decimal.Decimal(v) for v in values), decimal.Decimal(0))
    if function == "sum":
        return total
    if isinstance(total, float):
        return total / len(values)
    return float(decimal.Decimal(total) / len(values))


def _holds(op: str, value: Any, operand: Any, kind: str) -> bool:
    """One filter condition on one value (SQL's NULL rules; see `Rebuild._passes`)."""
    if op == "is_null":
        return (value is None) == bool(operand)
    if op in ("eq", "ne") and operand is None:
        return (value is None) == (op == "eq")
    if op in ("in", "not_in"):
        inside = value is not None and any(
            _compare(value, item, kind) == 0 for item in operand if item is not None
        )
        return inside if op == "in" else value is None or not inside
    if value is None:
        return op == "ne"
    order = _compare(value, operand, kind)
    if order is None:
        return op == "ne"
    return {
        "eq": order == 0,
        "ne": order != 0,
        "lt": order < 0,
        "lte": order <= 0,
        "gt": order > 0,
        "gte": order >= 0,
    }[op]


def _compare(value: Any, operand: Any, kind: str) -> int | None:
    """-1, 0 or 1 comparing a column's value with a constant read as that column's type;
    None when they cannot be compared."""
    try:
        if kind == "uuid":
            value, operand = str(value).lower(), str(uuid.UUID(str(operand)))
        elif isinstance(operand, str) and not isinstance(value, str):
            operand = _typed(value, operand)
        order: int = (value > operand) - (value < operand)
        return order
    except (TypeError, ValueError, ArithmeticError):
        return None


def _typed(value: Any, text: str) -> Any:
    """A filter's text constant as the type of the value it is compared with."""
    if isinstance(value, dt.datetime):
        parsed = dt.datetime.fromisoformat(text)
        if value.tzinfo is not None and parsed.tzinfo is None:
            return parsed.replace(tzinfo=dt.UTC)  # the snapshot reads in UTC
        if value.tzinfo is None and parsed.tzinfo is not None:
            return parsed.astimezone(dt.UTC).replace(tzinfo=None)
        return parsed
    if isinstance(value, dt.date):
        return dt.date.fromisoformat(text)
    if isinstance(value, dt.time):
        return dt.time.fromisoformat(text)
    if isinstance(value, bool):
        return {"true": True, "false": False}[text.lower()]
    if isinstance(value, int | float | decimal.Decimal):
        return decimal.Decimal(text)
    return text
