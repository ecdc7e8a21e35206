"""`mapper init`: from a live schema to proposed, commented mapping files (`stats` reads the
numbers, `propose` decides, `write` and `html` render). `mapper.api.init` runs it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

import sqlalchemy as sa

from mapper.catalog import Catalog
from mapper.errors import UsageError
from mapper.progress import SILENT, Progress
from mapper.proposal.html import REPORT_FILE, html
from mapper.proposal.infer import infer_keys
from mapper.proposal.propose import Proposal, propose
from mapper.proposal.stats import partitions_of, statistics
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
    engine: sa.Engine,
    catalog: Catalog,
    views: Iterable[str] = (),
    budget_seconds: float = 60.0,
    progress: Progress = SILENT,
) -> Proposal:
    """The proposal for the tables of a reflected `catalog`: the keys only partitions or
    names give inferred, the numbers read within about `budget_seconds` (a `progress` task),
    then decided."""
    partitions = partitions_of(engine)
    inferred = infer_keys(catalog, partitions)
    stats = statistics(engine, inferred.catalog, budget_seconds, partitions, progress)
    return propose(inferred.catalog, stats, views, inferred.origins)
