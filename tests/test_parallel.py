"""Parallel workers (`--workers`): the same documents, accounting and resume as one process."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import multiprocessing
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mapper import api, cli
from mapper.config import sqlalchemy_url
from mapper.engine.parallel import cpus, sizing
from mapper.engine.run import RunSummary
from mapper.errors import SourceError

ROOT = Path(__file__).resolve().parent.parent
# Ordered by code point ("C"): B D Z a b c ä é; by the ICU collation: a ä b B c D é Z.
CODES = ["a", "B", "c", "D", "é", "Z", "ä", "b"]
CODES_MAPPING = """\
version: 1
collections:
  codes:
    table: codes
    _id: key
    columns: [label]
    fields:
      notes: {embed: notes, _id: false, columns: [body], order_by: [body]}
"""


def migrate(
    url: str,
    mapping: Path,
    target: str,
    tmp_path: Path,
    checkpoints=None,
    progress=None,
    decimal_as="decimal128",
    **options,
) -> RunSummary:
    """A run through the API; with `checkpoints` (a path), resumed from it when it exists."""
    state = checkpoints or tmp_path / "state.json"
    with api.prepare([mapping], url, api.DocumentOptions(decimal_as)) as prepared:
        return api.migrate(
            prepared,
            target,
            api.MigrateOptions(
                rejects=tmp_path / "rejects.jsonl",
                state=state,
                resume=checkpoints is not None and state.exists(),
                **options,
            ),
            progress=progress,
        )


def test_workers_write_byte_for_byte_what_one_process_writes(demo_pg, tmp_path):
    tasks = ROOT / "mappings" / "tasks.yaml"
    one = migrate(demo_pg, tasks, f"file:{tmp_path / 'one'}", tmp_path, batch_size=97, workers=1)
    three = migrate(
        demo_pg, tasks, f"file:{tmp_path / 'three'}", tmp_path, batch_size=97, workers=3
    )
    written = (tmp_path / "three" / "tasks.jsonl").read_bytes()
    assert written == (tmp_path / "one" / "tasks.jsonl").read_bytes()
    assert written.count(b"\n") == 1000
    assert three.balanced and three.collections[0].written == 1000
    assert one.collections[0].worker_statements == 0
    # Per batch a worker sends the root query and one query per array (three arrays).
    assert three.collections[0].worker_statements >= 4 * 11


@pytest.fixture
def codes_pg(postgres_server):
    """Text keys in a collation whose order is not the code-point order the run sorts by."""
    from tests.conftest import fresh_postgres_database

    with fresh_postgres_database(postgres_server) as url:
        engine = sa.create_engine(sqlalchemy_url(url))
        with engine.begin() as connection:
            connection.exec_driver_sql(
                'CREATE TABLE codes (code text COLLATE "und-x-icu" PRIMARY KEY, label text)'
            )
            connection.exec_driver_sql(
                "CREATE TABLE notes (id serial PRIMARY KEY, code text "
                'COLLATE "und-x-icu" REFERENCES codes, body text)'
            )
            connection.execute(
                sa.text("INSERT INTO codes VALUES (:code, :label)"),
                [{"code": code, "label": f"label {code}"} for code in CODES],
            )
            connection.execute(
                sa.text("INSERT INTO notes (code, body) VALUES (:code, :body)"),
                [{"code": code, "body": f"{code} {n}"} for code in CODES for n in (1, 2)],
            )
        engine.dispose()
        yield url


@pytest.mark.parametrize("workers", [1, 2])
def test_text_keys_in_any_collation_split_into_exact_ranges(codes_pg, tmp_path, workers):
    """Root rows and the child rows read by each batch's key range (`notes`), compared by
    code point as the run sorts."""
    mapping = tmp_path / "codes.yaml"
    mapping.write_text(CODES_MAPPING, encoding="utf-8")
    summary = migrate(
        codes_pg, mapping, f"file:{tmp_path / 'out'}", tmp_path, batch_size=2, workers=workers
    )
    lines = (tmp_path / "out" / "codes.jsonl").read_text(encoding="utf-8").splitlines()
    documents = [json.loads(line) for line in lines]
    assert [d["_id"] for d in documents] == sorted(CODES)  # each once, in code-point order
    assert all(
        d["notes"] == [{"body": f"{d['_id']} 1"}, {"body": f"{d['_id']} 2"}] for d in documents
    )
    assert summary.balanced and summary.collections[0].written == len(CODES)


def test_text_keys_resume_after_the_checkpoint(codes_pg, mongo_url, mongo_db, tmp_path):
    mapping = tmp_path / "codes.yaml"
    mapping.write_text(CODES_MAPPING, encoding="utf-8")
    state = tmp_path / "state.json"

    def stop_after_three_batches(name: str, rows: int, seen=[]) -> None:  # noqa: B006
        seen.append(rows)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        migrate(
            codes_pg,
            mapping,
            mongo_url,
            tmp_path,
            checkpoints=state,
            batch_size=2,
            progress=stop_after_three_batches,
        )
    assert mongo_db.codes.count_documents({}) == 6
    summary = migrate(codes_pg, mapping, mongo_url, tmp_path, checkpoints=state, batch_size=2)
    assert sorted(document["_id"] for document in mongo_db.codes.find()) == sorted(CODES)
    assert summary.collections[0].written == len(CODES) and summary.balanced


def test_a_killed_worker_stops_the_run_and_resume_completes_it(
    demo_pg, mongo_url, mongo_db, tmp_path
):
    tasks = ROOT / "mappings" / "tasks.yaml"
    state = tmp_path / "state.json"

    def kill_the_workers(name: str, rows: int) -> None:
        for worker in _run_workers():
            worker.kill()

    def run(**more: Any) -> RunSummary:
        return migrate(
            demo_pg,
            tasks,
            mongo_url,
            tmp_path,
            checkpoints=state,
            batch_size=100,
            workers=2,
            decimal_as="string",
            **more,
        )

    with pytest.raises(SourceError, match="worker process ended unexpectedly.*--resume"):
        run(progress=kill_the_workers)
    assert 100 <= mongo_db.tasks.count_documents({}) < 1000
    summary = run()
    assert summary.balanced and summary.collections[0].read == 1000
    assert mongo_db.tasks.count_documents({}) == 1000
    assert not _run_workers()


def _run_workers() -> list[multiprocessing.Process]:
    """This process's children but a Dask cluster's (the session's `dask_cluster`, when a
    test of tests/test_dask.py ran in this process first)."""
    return [
        child for child in multiprocessing.active_children() if not child.name.startswith("Dask")
    ]


def test_by_default_large_tables_get_workers_and_small_ones_this_process(demo_pg, tmp_path):
    assert api.MigrateOptions().workers == "auto"
    summary = migrate(demo_pg, ROOT / "mappings", "null:", tmp_path, batch_size=250)
    assert summary.balanced
    sent = {c.name: c.worker_statements for c in summary.collections}
    assert sent["organizations"] == 0  # 10 rows: no worker would repay its start
    assert (sent["tasks"] > 0) == (cpus() > 1)  # 1000 rows: four batches of 250


def test_by_default_sqlite_runs_in_one_process_without_a_warning(demo_sqlite, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        summary = migrate(demo_sqlite, ROOT / "mappings" / "tasks.yaml", "null:", tmp_path)
    assert summary.collections[0].written == 1000
    assert caplog.text == ""


def test_sources_without_snapshot_export_run_in_one_process(demo_sqlite, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        summary = migrate(
            demo_sqlite, ROOT / "mappings" / "tasks.yaml", "null:", tmp_path, workers=4
        )
    assert summary.collections[0].written == 1000
    assert "running with one process" in caplog.text and "sqlite" in caplog.text


def test_workers_option_takes_a_count_or_auto():
    assert cli._workers("3") == 3
    assert cli._workers("auto") == "auto"
    assert cli.build_parser().parse_args(["run", "m.yaml"]).workers == "auto"
    for bad in ("0", "-1", "two"):
        with pytest.raises(argparse.ArgumentTypeError):
            cli._workers(bad)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_workers_end_with_a_killed_leader(demo_pg, tmp_path):
    leader = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mapper",
            "run",
            str(ROOT / "mappings" / "tasks.yaml"),
            "--source",
            demo_pg,
            "--target",
            "null:",
            "--workers",
            "2",
            "--batch-size",
            "5",
            "--state",
            str(tmp_path / "state.json"),
            "--rejects",
            str(tmp_path / "r.jsonl"),
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _wait_for(lambda: len(_children(leader.pid)) >= 2, 60), "no workers started"
        workers = _children(leader.pid)
    finally:
        leader.kill()
        leader.wait(timeout=30)
    assert _wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), 15)


def test_workers_share_the_batch_size_and_small_tables_are_cut_evenly():
    assert sizing(100_000, 1000, 2) == (500, 2)  # two workers hold 1000 rows together
    assert sizing(100_000, 10_000, 4) == (2500, 4)
    assert sizing(100_000, 1000, 8) == (500, 8)  # not below 500 rows a batch
    assert sizing(3000, 5000, 2) == (500, 2)  # a small table: a few batches per worker
    assert sizing(2000, 1000, 4) == (500, 2)  # no worker for less than two batches
    assert sizing(1000, 1000, 4) == (500, 1)  # two batches: the run stays in its process
    assert sizing(400, 1000, 4) == (500, 1)
    assert sizing(0, 1000, 2) == (500, 1)
    assert sizing(3000, 97, 3) == (97, 3)  # never above the batch size asked for


def test_composite_keys_split_into_exact_ranges(demo_pg, tmp_path):
    mapping = tmp_path / "task_labels.yaml"
    mapping.write_text(
        "version: 1\ncollections:\n  task_labels:\n    table: task_labels\n    _id: key\n",
        encoding="utf-8",
    )
    one = migrate(demo_pg, mapping, f"file:{tmp_path / 'one'}", tmp_path, batch_size=100)
    three = migrate(
        demo_pg, mapping, f"file:{tmp_path / 'three'}", tmp_path, batch_size=100, workers=3
    )
    written = (tmp_path / "three" / "task_labels.jsonl").read_bytes()
    assert written == (tmp_path / "one" / "task_labels.jsonl").read_bytes()
    assert written.count(b"\n") == one.collections[0].read == three.collections[0].written > 0
