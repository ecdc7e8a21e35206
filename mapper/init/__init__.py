"""`mapper init`: from a live schema to proposed, commented mapping files (`stats` reads the
numbers, `propose` decides, `write` and `html` render). `mapper.api.init` runs it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from mapper.catalog import Catalog
from mapper.errors import UsageError
from mapper.init.html import REPORT_FILE, html
from mapper.init.propose import Proposal, propose
from mapper.init.stats import Statistics, statistics
from mapper.init.write import Written, write, yaml_files
from mapper.resolve.scope import did_you_mean

__all__ = [
    "REPORT_FILE",
    "Proposal",
    "Statistics",
    "Written",
    "html",
    "only",
    "propose",
    "statistics",
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
