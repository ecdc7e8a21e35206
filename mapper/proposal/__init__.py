"""`mapper init`: from a live schema to proposed, commented mapping files (`stats` reads the
numbers, `propose` decides, `write` and `html` render). `mapper.api.init` runs it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import sqlalchemy as sa

from mapper.catalog import Catalog
from mapper.errors import UsageError
from mapper.progress import SILENT, Progress
from mapper.proposal.html import REPORT_FILE, html
from mapper.proposal.infer import infer_keys
from mapper.proposal.propose import Proposal, propose
from mapper.proposal.stats import statistics
from mapper.proposal.write import Written, write, yaml_files
from mapper.resolve.scope import did_you_mean

__all__ = [
    "REPORT_FILE",
    "Proposal",
    "Written",
    "html",
    "only",
    "proposal",
    "write",
    "yaml_files",
]


def only(catalog: Catalog, tables: Sequence[str]) -> Catalog:
    """The catalog restricted to `tables` (all of them when empty); an unknown name is a
    usage error. Foreign keys to the tables left out stay plain columns."""
    if not tables:
        return catalog
    unknown = [name for name in tables if name not in catalog.tables]
    if unknown:
        raise UsageError(
            f"--tables names unknown tables: {', '.join(f'`{n}`' for n in unknown)}; "
            + (did_you_mean(unknown[0], tuple(catalog.tables)) or "see the source's tables"),
            setting="--tables",
        )
    return replace(catalog, tables={name: catalog.tables[name] for name in dict.fromkeys(tables)})


def proposal(
    engine: sa.Engine, catalog: Catalog, budget_seconds: float = 60.0, progress: Progress = SILENT
) -> Proposal:
    """The proposal for the tables of a reflected `catalog` (its views and the partitions
    of its tables are not proposed): the keys names give inferred, the numbers read within
    about `budget_seconds` (a `progress` task), then decided."""
    tables = {name: table for name, table in catalog.tables.items() if table.kind == "table"}
    skipped = [
        (name, f"a {table.kind}: map the tables it reads, or map it with `key:`")
        for name, table in catalog.tables.items()
        if name not in tables
    ]
    skipped += [
        (partition, f"a partition of `{parent}`, read through it")
        for partition, parent in catalog.partitions.items()
        if parent in tables
    ]
    inferred = infer_keys(replace(catalog, tables=tables))
    stats = statistics(engine, inferred.catalog, budget_seconds, progress)
    return propose(inferred.catalog, stats, skipped, inferred.origins)
