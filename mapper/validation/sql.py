"""Validation's own SQL for child rows, written from the plan's names (not `Compiler.select`).

A child query's rows are `table AS alias` joined along its hops (inner joins for one-to-many
hops, left outer joins for many-to-one) and narrowed by its filter; validation selects the
columns it needs from them, for the parents of one batch (`keys`: their link values). The
typed table objects come from `Compiler.table`, so UUIDs, decimals and dates read the same as
in the run, and the filter from `Compiler.condition`, so its operators mean what they mean in
the run.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from mapper import plan as p
from mapper.compile import Aliases, Compiler, Source, Statement

CHUNK = 500  # parent keys per statement


class ChildRows:
    """The rows of a child query for some parents: `select(indexes, keys)`,
    `count_by(indexes, keys)`."""

    def __init__(self, compiler: Compiler, query: p.Query):
        self.compiler, self.query = compiler, query
        self.aliases: Aliases = {query.alias: compiler.table(query.table).alias(query.alias)}
        self.source: Source = self.aliases[query.alias]
        for hop in query.joins:
            right = self.aliases[hop.alias] = compiler.table(hop.table).alias(hop.alias)
            left = self.aliases[hop.left_alias]
            on = sa.and_(*(left.c[a] == right.c[b] for a, b in hop.on))
            self.source = self.source.join(right, on, isouter=not hop.many)

    def column(self, index: int) -> sa.ColumnElement[Any]:
        item = self.query.selects[index]
        if not isinstance(item, p.ColumnRef):
            raise ValueError("aggregates are read through the root query only")
        column = self.aliases[item.alias].c[item.column]
        return sa.cast(column, sa.Numeric(asdecimal=True)) if item.cast else column

    def select(self, indexes: list[int], keys: list[tuple[Any, ...]]) -> list[Statement]:
        """Statements (one per chunk of parent keys) for the values at `indexes`."""
        statement = sa.select(*(self.column(i) for i in indexes)).select_from(self.source)
        return self._chunks(self._where(statement), keys)

    def count_by(self, indexes: list[int], keys: list[tuple[Any, ...]]) -> list[Statement]:
        """GROUP BY statements: (values at `indexes`, number of rows)."""
        columns = [self.column(i) for i in indexes]
        statement = sa.select(*columns, sa.func.count()).select_from(self.source)
        return [chunk.group_by(*columns) for chunk in self._chunks(self._where(statement), keys)]

    def _where(self, statement: Statement) -> Statement:
        if self.query.filter is None:
            return statement
        return statement.where(self.compiler.condition(self.query.filter, self.aliases))

    def _chunks(self, statement: Statement, keys: list[tuple[Any, ...]]) -> list[Statement]:
        link = [self.aliases[ref.alias].c[ref.column] for ref in self.query.link]
        keys = [key for key in keys if None not in key]
        chunks = [keys[start : start + CHUNK] for start in range(0, len(keys), CHUNK)]
        if len(link) == 1:
            return [statement.where(link[0].in_([key[0] for key in chunk])) for chunk in chunks]
        return [statement.where(sa.tuple_(*link).in_(chunk)) for chunk in chunks]
