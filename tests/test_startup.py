"""What a run costs before its first row: only the libraries it uses are imported, and only
the tables its mappings name are reflected (issue 17's start-up; its time is measured in
`benchmarks/`, never here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

import mapper
from mapper import pipeline
from tests.conftest import ROOT

UNUSED_BY_A_RUN = (
    "pymongo",
    "jinja2",
    "tqdm",
    "dask",
    "distributed",
    "mapper.demo",
    "sqlalchemy.dialects.mysql",  # for a MySQL source only
    "ctypes",  # in a worker only
    "shtab",  # for `mapper completion` only
    "dotenv",  # where no setting is looked for in a `.env` (all given as flags here)
)
PROBE = """
import json, sys
from mapper import cli
code = cli.main(sys.argv[1:])
print(json.dumps([code, sorted(sys.modules)]))
"""


def _run_modules(source: str, cache: Path, *target: str) -> list[str]:
    """The modules a `run` of the shipped tasks mapping (into `null:`, or `target`'s
    options) had loaded at its end."""
    command = [sys.executable, "-c", PROBE, "run", str(ROOT / "mappings" / "tasks.yaml")]
    command += ["--source", source, *(target or ("--target", "null:")), "-q"]
    environment = {**os.environ, "MAPPER_CACHE_DIR": str(cache)}
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=cache.parent, env=environment, check=False
    )
    code, modules = json.loads(done.stdout.splitlines()[-1])
    assert code == 0, done.stderr
    return list(modules)


def test_a_run_into_null_imports_only_what_it_uses(small_demo_sqlite: str, tmp_path) -> None:
    modules = _run_modules(small_demo_sqlite, tmp_path / "cache")
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


def test_validating_a_run_from_another_source_than_mysql_loads_no_mysql_type(
    small_demo_sqlite: str, tmp_path
) -> None:
    target = ("--target", f"file:{tmp_path / 'out'}", "--validate")
    modules = _run_modules(small_demo_sqlite, tmp_path / "cache", *target)
    assert "mapper.validation.checks" in modules
    assert "sqlalchemy.dialects.mysql" not in modules and "mapper.mysql_types" not in modules


def test_a_mapping_that_passed_is_not_checked_again(small_demo_sqlite: str, tmp_path) -> None:
    """The second run of an unchanged mapping does not even import the schema's validator."""
    assert "jsonschema" in _run_modules(small_demo_sqlite, tmp_path / "cache")
    assert "jsonschema" not in _run_modules(small_demo_sqlite, tmp_path / "cache")


def test_only_the_tables_the_mappings_name_are_reflected(small_demo_sqlite: str) -> None:
    with mapper.prepare([ROOT / "mappings" / "organizations.yaml"], small_demo_sqlite) as done:
        read = set(done.catalog.tables)
        unread = set(done.catalog.unread)
    assert read == {"organizations", "org_members", "users", "labels", "projects"}
    assert unread == {"tasks", "comments", "task_labels", "task_assignees"}


def test_postgresql_is_reflected_on_one_connection(small_demo_pg: str) -> None:
    """`prepare` checks out two connections, one to reflect (each checkout pinged the server
    and rolled back on return: reflecting took ten) and one to check read access; it lists a
    schema's relations and partitions in one statement, where SQLAlchemy's inspector took
    four, and their keys and indexes in one (`catalog._PG_KEYS`), where it took seven."""
    engine = pipeline.connect(small_demo_pg)
    checkouts: list[int] = []
    statements: list[str] = []
    sa.event.listen(engine, "checkout", lambda *_: checkouts.append(1))
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        with mapper.prepare([ROOT / "mappings" / "tasks.yaml"], engine) as done:
            assert "org_members" in done.catalog.unread
    finally:
        engine.dispose()
    assert len(checkouts) == 2
    assert sum("pg_partition_root" in statement for statement in statements) == 1
    assert sum("k.referred_schema" in statement for statement in statements) == 1
    assert len(statements) <= 4  # the relations, their columns, keys and indexes, the access


COLLECTOR_PROBE = """
import gc, json, runpy, sys
during_import = []  # collections begun before mapper.cli was wholly imported


def started(phase, _info):
    cli = sys.modules.get("mapper.cli")
    if phase == "start" and not hasattr(cli, "main"):
        during_import.append(1)


gc.callbacks.append(started)
sys.argv = ["mapper", "--version"]
try:
    runpy.run_module("mapper", run_name="__main__")
except SystemExit:
    pass
print(json.dumps([len(during_import), gc.isenabled(), gc.get_freeze_count()]))
"""


def _printed(probe: str) -> str:
    """The last line a Python process running `probe` printed (it must succeed)."""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[-1]


def test_python_m_mapper_imports_without_the_cyclic_collector() -> None:
    """`python -m mapper` imports with the collector off (it walked the new modules' objects
    over and over), then runs the command with it on and those objects frozen out of it."""
    collections, enabled, frozen = json.loads(_printed(COLLECTOR_PROBE))
    # at most one, as the package's first module is compiled where no bytecode is kept;
    # about 110 without the pause
    assert collections <= 1
    assert enabled
    assert frozen > 10_000


@pytest.mark.parametrize(
    ("imports", "unimported", "name", "module"),
    [
        # `import mapper` and its submodules (a Dask worker's plugin imports the sinks alone)
        # leave the API unimported until one of its names is used
        ("import mapper\nfrom mapper.engine import load", ("mapper.api",), "prepare", "mapper.api"),
        # a run's summary and the plan's text are written after its rows: the reports (and
        # the document outline they draw from) wait until one of their names is used
        (
            "from mapper import api as mapper",
            ("mapper.report", "mapper.outline"),
            "summary_text",
            "mapper.report",
        ),
    ],
)
def test_modules_are_imported_on_first_use_only(
    imports: str, unimported: tuple[str, ...], name: str, module: str
) -> None:
    probe = (
        f"import sys\n{imports}\n"
        f"before = any(m in sys.modules for m in {unimported!r})\n"
        f"print(before, mapper.{name}.__module__, {name!r} in mapper.__all__)\n"
    )
    assert _printed(probe).split() == ["False", module, "True"]


def test_a_library_imports_the_api_with_the_collector_paused() -> None:
    """`from mapper import api` (or a first `mapper.prepare`) imports it with the collector
    off, then on again as it was: one collection as the pause ends, not a hundred."""
    probe = (
        "import gc, sys\n"
        "collections = []\n"
        "gc.callbacks.append(lambda phase, _: phase == 'start' and collections.append(1))\n"
        "from mapper import api\n"
        "print(len(collections), gc.isenabled(), gc.get_freeze_count())\n"
    )
    collections, enabled, frozen = _printed(probe).split()
    assert int(collections) <= 2 and enabled == "True" and frozen == "0"
