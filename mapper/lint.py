"""`mapper lint`: every problem of mapping files at once, offline and against the source."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mapper import pipeline
from mapper.errors import MapperError, Problem
from mapper.resolve import resolve
from mapper.spec import load_offline


def lint(paths: Sequence[str | Path], source_url: str | None) -> list[Problem]:
    """Schema and credential problems; with a source, also names, joins and types."""
    mappings, problems = load_offline(paths)
    if source_url is None or any(problem.severity == "error" for problem in problems):
        return sorted(problems)
    clean = [m for m in mappings if not any(pr.file == m.path for pr in problems)]
    try:
        engine = pipeline.connect(source_url)
        catalog = pipeline.reflect(engine, clean)
    except MapperError as error:
        raise error
    _, semantic = resolve(clean, catalog)
    engine.dispose()
    return sorted(problems + semantic)
