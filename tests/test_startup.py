"""What a run costs before its first row: only the libraries it uses are imported, and only
the tables its mappings name are reflected (issue 17's start-up; its time is measured in
`benchmarks/`, never here)."""

from __future__ import annotations

import json
import subprocess
import sys

import mapper
from tests.conftest import ROOT

UNUSED_BY_A_RUN = ("pymongo", "jinja2", "tqdm", "dask", "distributed", "mapper.demo")
PROBE = """
import json, sys
from mapper import cli
code = cli.main(sys.argv[1:])
print(json.dumps([code, sorted(sys.modules)]))
"""


def test_a_run_into_null_imports_only_what_it_uses(small_demo_sqlite: str, tmp_path) -> None:
    command = [sys.executable, "-c", PROBE, "run", str(ROOT / "mappings" / "tasks.yaml")]
    command += ["--source", small_demo_sqlite, "--target", "null:", "-q"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, check=False)
    code, modules = json.loads(done.stdout.splitlines()[-1])
    assert code == 0, done.stderr
    loaded = sorted(
        {
            m
            for m in modules
            for unused in UNUSED_BY_A_RUN
            if m == unused or m.startswith(unused + ".")
        }
    )
    assert loaded == []
    assert "mapper.validation.checks" not in modules and "bson" in modules


def test_only_the_tables_the_mappings_name_are_reflected(small_demo_sqlite: str) -> None:
    with mapper.prepare([ROOT / "mappings" / "organizations.yaml"], small_demo_sqlite) as done:
        read = set(done.catalog.tables)
        unread = set(done.catalog.unread)
    assert read == {"organizations", "org_members", "users", "labels", "projects"}
    assert unread == {"tasks", "comments", "task_labels", "task_assignees"}
