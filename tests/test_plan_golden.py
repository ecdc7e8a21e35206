"""Golden files: each shipped mapping → its `mapper plan` text (SQL as SQLite renders it).

Regenerate after an intended change with `MAPPER_UPDATE_GOLDEN=1 python -m pytest
tests/test_plan_golden.py`, and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import mapper_cli

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden"
MAPPINGS = sorted(path.stem for path in (ROOT / "mappings").glob("*.yaml"))


@pytest.mark.parametrize("name", MAPPINGS)
def test_plan_output_matches_golden(demo_sqlite: str, name: str) -> None:
    result = mapper_cli("plan", f"mappings/{name}.yaml", "--source", demo_sqlite)
    assert result.returncode == 0, result.stderr
    golden = GOLDEN / f"plan-{name}.txt"
    if os.environ.get("MAPPER_UPDATE_GOLDEN"):
        golden.write_text(result.stdout)
    assert result.stdout == golden.read_text()


def test_plan_is_stable_and_comparable(demo_sqlite: str) -> None:
    from mapper import api

    with api.prepare([ROOT / "mappings" / "tasks.yaml"], demo_sqlite) as prepared:
        first = prepared.plan
    with api.prepare([ROOT / "mappings" / "tasks.yaml"], demo_sqlite) as prepared:
        second = prepared.plan
    assert first == second
    assert hash(first.collections[0].query) == hash(second.collections[0].query)
