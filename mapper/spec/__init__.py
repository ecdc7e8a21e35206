"""Mapping files: read them safely, lint them against the schema, refuse credentials."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mapper.errors import Problem, SpecError
from mapper.spec.read import MappingFile, read_mapping
from mapper.spec.schema import check_schema, check_secrets, mapping_schema

__all__ = [
    "MappingFile",
    "check_schema",
    "check_secrets",
    "load_offline",
    "mapping_schema",
    "read_mapping",
]


def _expand(paths: Iterable[str | Path], problems: list[Problem]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        if not found:
            problems.append(Problem(str(path), 1, 1, "no mapping files (*.yaml, *.yml) here"))
        files.extend(found)
    return files


def load_offline(
    paths: str | Path | Iterable[str | Path],
) -> tuple[list[MappingFile], list[Problem]]:
    """Read and lint files and directories (their *.yaml / *.yml files) without a database.

    Never raises for a bad file: returns every file that could be read, and the problems of all
    files (reading, schema, credentials), sorted by position.
    """
    problems: list[Problem] = []
    mappings: list[MappingFile] = []
    for path in _expand([paths] if isinstance(paths, str | Path) else paths, problems):
        try:
            mapping = read_mapping(path)
        except SpecError as error:
            problems.extend(error.problems)
            continue
        mappings.append(mapping)
        problems.extend(check_schema(mapping))
        problems.extend(check_secrets(mapping))
    return mappings, sorted(problems)
