"""Each warning is printed once: a library's warning raised at several places of one command
(Python's default prints it once per place), and none for what mapper already handles."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import fresh_postgres_database, mapper_cli

from mapper import api

ROOT = Path(__file__).resolve().parent.parent


def test_a_warning_raised_at_two_places_is_printed_once(small_demo_sqlite, monkeypatch):
    explain = api.explain

    def warn_here() -> None:
        warnings.warn("the same advice", sa.exc.SAWarning, stacklevel=1)

    def warn_there() -> None:
        warnings.warn("the same advice", sa.exc.SAWarning, stacklevel=1)

    def explained(prepared: api.Prepared) -> str:
        warn_here()
        warn_there()
        warnings.warn("another advice", UserWarning, stacklevel=1)
        return explain(prepared)

    monkeypatch.setattr(api, "explain", explained)
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # as outside pytest: once per place
        result = mapper_cli("plan", ROOT / "mappings" / "users.yaml", "--source", small_demo_sqlite)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("SAWarning: the same advice") == 1, result.stderr
    assert result.stderr.count("UserWarning: another advice") == 1, result.stderr


@pytest.mark.integration
def test_a_type_sqlalchemy_does_not_know_gives_no_warning(postgres_server, tmp_path) -> None:
    """The catalog reads a `pg_lsn` column as kind `other`; validate's own reflection of the
    table used to warn about it on top."""
    mapping = tmp_path / "log.yaml"
    mapping.write_text("version: 1\ncollections:\n  log:\n    table: log\n    columns: [at]\n")
    with fresh_postgres_database(postgres_server) as url:
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE log (id int PRIMARY KEY, at pg_lsn)"))
            connection.execute(sa.text("INSERT INTO log VALUES (1, '0/16B6C50')"))
        engine.dispose()
        target = ["--source", url, "--target", f"file:{tmp_path / 'out'}"]
        rejects = ["--rejects", str(tmp_path / "rejects.jsonl")]
        with warnings.catch_warnings():
            warnings.simplefilter("default")  # as outside pytest
            result = mapper_cli("run", mapping, *target, *rejects, "--validate", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: the target matches the source" in result.stdout
    assert "Warning" not in result.stderr, result.stderr
