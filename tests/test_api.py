"""The library API: the one home of read → connect → reflect → plan, and what it promises."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import mapper
from mapper import api
from mapper.errors import MapperError, SpecError, UsageError

ROOT = Path(__file__).resolve().parent.parent
# a call that reflects a source or resolves mappings into a plan (not `Path.resolve()`)
SEQUENCE = re.compile(
    r"(?<![\w.])(?<!def )(resolve|reflect)\(|\.reflect\(|"
    r"pipeline\.(read|reflect|plan)\("
)


def _python_files() -> list[Path]:
    return [
        path
        for folder in ("mapper", "tests", "benchmarks")
        for path in sorted((ROOT / folder).rglob("*.py"))
    ]


def test_only_the_api_reads_reflects_and_plans() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _python_files()
        if path != ROOT / "mapper" / "api.py" and path != Path(__file__)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SEQUENCE.search(line)
    ]
    assert found == []


def test_the_check_finds_a_sequence() -> None:
    for line in (
        "catalog = catalog_module.reflect(engine, schemas)",
        "plan, problems = resolve(mappings, catalog)",
        "mappings = pipeline.read(paths)",
    ):
        assert SEQUENCE.search(line), line
    assert not SEQUENCE.search("ROOT = Path(__file__).resolve().parent")


def test_import_mapper_exposes_the_api() -> None:
    for name in (
        "prepare",
        "migrate",
        "validate",
        "lint",
        "explain",
        "preview",
        "MigrateOptions",
        "ValidateOptions",
        "DocumentOptions",
        "MapperError",
    ):
        assert getattr(mapper, name) is not None, name
    assert mapper.prepare is api.prepare and mapper.MapperError is MapperError
    assert mapper.validate is api.validate and mapper.lint is api.lint  # not submodules
    checks = importlib.import_module("mapper.validation.checks")  # submodules: by full name
    assert checks.validate is mapper.validation.validate and checks.validate is not api.validate
    assert tuple(mapper.DEMO_SCHEMAS) == api.DEMO_NAMES  # the CLI's choices, without the demo

    with pytest.raises(AttributeError):
        mapper.no_such_name  # noqa: B018
    assert (ROOT / "mapper" / "py.typed").exists()


def test_document_options_are_applied_once_by_prepare(demo_sqlite: str) -> None:
    files = [ROOT / "mappings" / "tasks.yaml"]
    with (
        api.prepare(files, demo_sqlite) as exact,
        api.prepare(files, demo_sqlite, api.DocumentOptions("string")) as text,
    ):
        assert exact.plan != text.plan
        assert "decimal128" in repr(exact.plan) and "decimal128" not in repr(text.plan)
        assert text.options.flags() == {"--decimal-as": "string"}


def test_errors_are_mapper_errors_with_fields(demo_sqlite: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ncollections:\n  tasks:\n    table: nope\n")
    with pytest.raises(SpecError) as spec:
        api.prepare([bad], demo_sqlite)
    assert spec.value.exit_code == 2 and "nope" in str(spec.value)
    with api.prepare([ROOT / "mappings" / "tasks.yaml"], demo_sqlite) as prepared:
        with pytest.raises(UsageError) as unknown:
            api.migrate(prepared, "null:", api.MigrateOptions(only=("task",)))
        assert unknown.value.setting == "--only" and not unknown.value.transient
        with pytest.raises(UsageError) as resume:
            api.migrate(prepared, "null:", api.MigrateOptions(resume=True))
        assert resume.value.setting == "--resume"
    with pytest.raises(UsageError):
        api.ValidateOptions(sample=-1)


def test_an_engine_the_caller_made_stays_open(demo_sqlite: str, tmp_path: Path) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(demo_sqlite)
    with api.prepare([ROOT / "mappings" / "tasks.yaml"], engine) as prepared:
        summary = api.migrate(
            prepared, "null:", api.MigrateOptions(rejects=tmp_path / "rejects.jsonl")
        )
    assert summary.collections[0].written == 1000
    assert prepared.owns_engine is False
    with engine.connect() as connection:  # still usable: not disposed behind the caller
        assert connection.exec_driver_sql("SELECT count(*) FROM tasks").scalar() == 1000
    engine.dispose()


def test_a_target_that_cannot_be_written_is_a_mapper_error(
    demo_sqlite: str, tmp_path: Path
) -> None:
    from mapper.errors import TargetError

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with (
        api.prepare([ROOT / "mappings" / "tasks.yaml"], demo_sqlite) as prepared,
        pytest.raises(TargetError) as error,
    ):
        api.migrate(
            prepared,
            f"file:{blocker / 'out'}",
            api.MigrateOptions(rejects=tmp_path / "rejects.jsonl"),
        )
    assert error.value.setting == "--target" and str(blocker) in str(error.value)
    assert not error.value.transient and error.value.exit_code == 3
