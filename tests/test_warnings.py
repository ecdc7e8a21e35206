"""Each warning is printed once: a library's warning raised at several places of one command
(Python's default prints it once per place), and none for what mapper already handles. The
commands run as processes of their own: warnings are process-wide, and pytest records them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import fresh_postgres_database

ROOT = Path(__file__).resolve().parent.parent
# `mapper plan` with the same SQLAlchemy warning raised at two places of the code
TWICE = """
import sys, warnings
import sqlalchemy as sa
from mapper import api, cli

explain = api.explain

def here():
    warnings.warn("the same advice", sa.exc.SAWarning)

def there():
    warnings.warn("the same advice", sa.exc.SAWarning)

def explained(prepared, *form):
    here()
    there()
    return explain(prepared, *form)

api.explain = explained
sys.exit(cli.main(sys.argv[1:]))
"""


def mapper(*args: str | Path, cwd: Path, code: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, *(["-c", code] if code else ["-m", "mapper"]), *map(str, args)]
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True)


def test_a_warning_raised_at_two_places_is_printed_once(small_demo_sqlite, tmp_path) -> None:
    users = ROOT / "mappings" / "users.yaml"
    result = mapper("plan", users, "--source", small_demo_sqlite, cwd=tmp_path, code=TWICE)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("SAWarning: the same advice") == 1, result.stderr


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
        target = ["--source", url, "--target", f"file:{tmp_path / 'out'}", "--validate"]
        result = mapper("run", mapping, *target, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: the target matches the source" in result.stdout
    assert "Warning" not in result.stderr, result.stderr
