"""What the resolver works with: the context of a mapping file (its problems, the catalog),
the scope a field is resolved in, the query each scope extends and resolved relation steps."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from mapper import plan as p
from mapper.catalog import MYSQL, Catalog, Column, Table
from mapper.errors import Problem
from mapper.spec import MappingFile

Path = tuple[str | int, ...]
Spec = dict[str, Any]  # a mapping entry as read: schema-valid, its values whatever the file holds
On = tuple[tuple[str, str], ...]  # join columns: (left column, right column) pairs


class Unresolved(Exception):
    """Raised inside the resolver to abandon one field after recording its problem."""


# MySQL lists only the tables a role may read: a missing grant looks like a missing table
_HIDDEN_TABLES = (
    "MySQL shows the source's role only the tables it may read: if the table exists, "
    "grant SELECT on it"
)


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?" if close else ""


@dataclass(frozen=True)
class IdRule:
    """How a collection's documents are identified, for the references to them."""

    collection: str
    file: str
    table: str
    rule: p.IdKind
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Context:
    """One mapping file being resolved: the catalog it names, the `_id` rules of every
    collection (references name them), and the problems found so far."""

    mapping: MappingFile
    catalog: Catalog
    id_rules: Mapping[str, IdRule]
    problems: list[Problem] = field(default_factory=list)

    def problem(
        self,
        path: Path,
        message: str,
        hint: str = "",
        severity: Literal["error", "warning"] = "error",
    ) -> None:
        line, column = self.mapping.position(path)
        self.problems.append(
            Problem(self.mapping.path, line, column, message, tuple(path), hint, severity)
        )

    def fail(self, path: Path, message: str, hint: str = "") -> Unresolved:
        self.problem(path, message, hint)
        return Unresolved()

    def node_at(self, path: Path) -> Spec:
        node = self.mapping.data
        for part in path:
            node = _child(node, part)
        return node if isinstance(node, dict) else {"table": node}

    def table(self, name: str, path: Path) -> Table:
        table = self.catalog.table(name)
        if name in self.catalog.partitions:
            parent = self.catalog.partitions[name]
            raise self.fail(
                path,
                f"`{name}` is a partition of `{parent}`: mappings read partitioned tables whole",
                f"name `{parent}`, with a `filter` for this partition's rows",
            )
        if table is None:
            hint = did_you_mean(name, [*self.catalog.tables, *self.catalog.unread])
            if not hint and self.catalog.dialect in MYSQL:
                hint = _HIDDEN_TABLES
            raise self.fail(path, f"unknown table `{name}`", hint)
        return table

    def keyed(self, table: Table, path: Path) -> Table:
        """`table`, which a root, an embed or a reference names: a view must have the `key`
        that identifies its rows (it has no primary key)."""
        if table.kind != "table" and not table.primary_key:
            raise self.fail(
                path,
                f"`{table.name}` is a {table.kind}: name the columns that identify its rows",
                "add `key: [COLUMN, ...]` beside it",
            )
        return table

    def column(self, table: Table, name: str, path: Path) -> Column:
        """The column `name` of `table`; unknown, a problem (and the field is abandoned)."""
        column = table.column(name)
        if column is None:
            raise self.fail(
                path,
                f"unknown column `{name}` in table `{table.name}`",
                did_you_mean(name, table.column_names),
            )
        return column


def _child(node: object, part: str | int) -> Any:
    """`node[part]` of a mapping or a list (as read), or None under a scalar."""
    if isinstance(node, dict):
        return node[part]
    if isinstance(node, list) and isinstance(part, int):
        return node[part]
    return None


@dataclass
class QueryBuilder:
    """Accumulates the joins and selects of one query; identical ones are shared."""

    table: str
    alias: str
    prefix: str
    joins: list[p.Hop] = field(default_factory=list)
    selects: list[p.Select] = field(default_factory=list)
    _aliases: dict[tuple[str, str, On], str] = field(default_factory=dict)

    def new_alias(self) -> str:
        return f"{self.prefix}{len(self._aliases) + 1}"

    def join(self, left_alias: str, table: str, on: On, many: bool) -> str:
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

    def query(
        self,
        filter_: p.Filter | None = None,
        link: Iterable[p.ColumnRef] = (),
        order: Iterable[p.Ordering] = (),
    ) -> p.Query:
        return p.Query(
            self.table,
            self.alias,
            tuple(self.joins),
            tuple(self.selects),
            filter_,
            tuple(link),
            tuple(order),
        )


@dataclass(frozen=True)
class Scope:
    """Where fields are resolved: the file's context, the collection's `out_of_range`
    policy, and the node's table, alias and query, the tables it is nested in (`ancestors`,
    for cycles), its `nulls` policy and the to-one tables joined for it (`via`, by name)."""

    context: Context
    out_of_range: str
    table: Table
    alias: str
    builder: QueryBuilder
    ancestors: tuple[str, ...]
    nulls: str
    via: Mapping[str, str] = field(default_factory=dict)

    def at(self, table: Table, alias: str, **changes: Any) -> Scope:
        """The scope of a node on `table AS alias` (same query, ancestors and `nulls` unless
        changed; no `via` unless given)."""
        return replace(self, table=table, alias=alias, **{"via": {}, **changes})

    def fail(self, path: Path, message: str, hint: str = "") -> Unresolved:
        return self.context.fail(path, message, hint)

    def column(self, table: Table, name: str, path: Path) -> Column:
        return self.context.column(table, name, path)


@dataclass(frozen=True)
class Field:
    """A field being resolved: its target path in the document, its kind (the key that says
    how it is made: `column`, `embed`, `count`, ...), its mapping entry and that entry's path;
    `arrays` are its document's arrays resolved so far (a `count` of the rows one of them
    embeds becomes its length)."""

    target: tuple[str, ...]
    kind: str
    spec: Spec
    path: Path
    keep_null: bool
    arrays: tuple[p.Children, ...] = ()


@dataclass(frozen=True)
class Step:
    """One resolved hop of a relation path."""

    table: Table
    on: On
    many: bool
