"""Build the first few documents of each collection, writing nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from mapper import plan as p
from mapper.catalog import Catalog
from mapper.compile import Compiler
from mapper.engine.build import Builder
from mapper.engine.extract import Extractor, snapshot


def preview(
    plan: p.Plan, engine: sa.Engine, catalog: Catalog, count: int, only: tuple[str, ...] = ()
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(collection, document) for the first `count` root rows of each collection."""
    with snapshot(engine) as connection:
        extractor = Extractor(connection, Compiler(catalog))
        for collection in plan.collections:
            if only and collection.name not in only:
                continue
            rows = next(extractor.batches(collection.query, count, collection.table), [])
            built = Builder(collection, extractor.children).build_batch(rows[:count])
            for _, document in built.documents:
                yield collection.name, document
