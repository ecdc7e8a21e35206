"""What the resolver works with: nodes of a document being resolved, the query each one
extends, resolved relation steps, and the problem-reporting helpers they share."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from mapper import plan as p
from mapper.catalog import Table

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
