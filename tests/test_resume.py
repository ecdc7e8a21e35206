"""Crash-safe resume: SIGKILL at random points, resume, and the result equals a clean run."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import bson
import pytest
from conftest import SMALL_DEMO_TASKS as TASKS
from conftest import Finished, both_targets, mapper_cli

from mapper.engine.load import mongodb

ROOT = Path(__file__).resolve().parent.parent


def run_arguments(source: str, target: str, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "run",
        str(ROOT / "mappings" / "tasks.yaml"),
        "--source",
        source,
        "--target",
        target,
        "--decimal-as",
        "string",
        "--batch-size",
        "25",
        "--state",
        str(tmp_path / "state.json"),
        "--rejects",
        str(tmp_path / "rejects.jsonl"),
        *extra,
    ]


def mapper_command(source: str, target: str, tmp_path: Path, *extra: str) -> list[str]:
    """The run as a process of its own: for the tests that kill or interrupt it."""
    return [sys.executable, "-m", "mapper", *run_arguments(source, target, tmp_path, *extra)]


def in_process(source: str, target: str, tmp_path: Path, *extra: str) -> Finished:
    return mapper_cli(*run_arguments(source, target, tmp_path, *extra), cwd=tmp_path)


def batches_done(tmp_path: Path) -> int:
    """The batches of `tasks` the checkpoint says are written (0 before the first)."""
    try:
        state = json.loads((tmp_path / "state.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return 0
    return state.get("collections", {}).get("tasks", {}).get("batches", 0)


def wait_for_batches(process: subprocess.Popen, tmp_path: Path, count: int) -> bool:
    """Wait until the checkpoint holds `count` batches (True) or the run has ended (False);
    the deadline only guards against a run that hangs."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if batches_done(tmp_path) >= count:
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.01)
    raise AssertionError(f"no checkpoint of {count} batches within the deadline")


def hashes(collection) -> dict:
    return {
        document["_id"]: hashlib.sha256(bson.encode(document)).hexdigest()
        for document in collection.find()
    }


@both_targets
def test_killed_runs_resume_to_the_clean_result(small_demo_sqlite, mongo_url, mongo_db, tmp_path):
    clean = in_process(small_demo_sqlite, mongo_url, tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    expected = hashes(mongo_db.tasks)
    assert len(expected) == TASKS
    mongo_db.tasks.drop()

    chance = random.Random(int(os.environ.get("MAPPER_TEST_SEED", "7")))
    kills = 0
    resume: tuple[str, ...] = ()
    for _ in range(4):
        done = batches_done(tmp_path) if resume else 0
        process = subprocess.Popen(
            mapper_command(small_demo_sqlite, mongo_url, tmp_path, *resume),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # a kill at a random point: after a random number of batches (of 20), mid-batch
        if wait_for_batches(process, tmp_path, done + chance.randint(1, 6)):
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=60)
        if process.returncode == 0:
            break
        resume = ("--resume",) if (tmp_path / "state.json").exists() else ()
    else:
        final = in_process(small_demo_sqlite, mongo_url, tmp_path, *resume)
        assert final.returncode == 0, final.stdout + final.stderr
    assert kills >= 1
    assert mongo_db.tasks.count_documents({}) == TASKS
    assert hashes(mongo_db.tasks) == expected
    assert not (tmp_path / "state.json").exists()


def test_interrupt_stops_after_a_batch_and_resumes(
    small_demo_sqlite, mongo_url, mongo_db, tmp_path
) -> None:
    process = subprocess.Popen(
        mapper_command(small_demo_sqlite, mongo_url, tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert wait_for_batches(process, tmp_path, 2), "the run ended before its second batch"
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, out + err  # as shells report a Ctrl-C
    assert "interrupted after a complete batch: resume with --resume" in out
    written = mongo_db.tasks.count_documents({})
    assert 0 < written < TASKS
    [row] = [line.split() for line in out.splitlines() if line.startswith("tasks ")]
    read, shown_written, seconds = int(row[1].replace(",", "")), row[2], row[8]
    assert read == written and shown_written == f"{written:,}"  # read so far, not the count
    assert seconds != "0.00s" and row[9] != "0"  # the time it ran and its rate
    other = in_process(small_demo_sqlite, mongo_url, tmp_path, "--resume", "--decimal-as", "double")
    assert other.returncode == 2, other.stdout + other.stderr  # never text and doubles mixed
    assert "made with --decimal-as string" in other.stderr
    assert mongo_db.tasks.count_documents({}) == written
    resumed = in_process(small_demo_sqlite, mongo_url, tmp_path, "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "every row accounted for" in resumed.stdout
    assert mongo_db.tasks.count_documents({}) == TASKS


def test_resume_refuses_without_or_with_a_foreign_checkpoint(small_demo_sqlite, tmp_path) -> None:
    target = "mongodb://127.0.0.1:1/db"
    missing = in_process(small_demo_sqlite, target, tmp_path, "--resume")
    assert missing.returncode == 2 and "nothing to resume" in missing.stderr
    (tmp_path / "state.json").write_text('{"fingerprint": "other", "collections": {}}')
    foreign = in_process(small_demo_sqlite, target, tmp_path, "--resume")
    assert foreign.returncode == 2 and "another mapping or target" in foreign.stderr


@pytest.mark.parametrize("digests", ["read at open", "looked up per batch"])
def test_a_rerun_counts_inserted_updated_and_unchanged_exactly(
    digests, small_demo_sqlite, mongo_url, mongo_db, tmp_path, monkeypatch
) -> None:
    if digests == "looked up per batch":  # a collection too large to read whole at open
        monkeypatch.setattr(mongodb, "MAX_DIGESTS", 0)
    first = in_process(small_demo_sqlite, mongo_url, tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    edited, deleted = mongo_db.tasks.find({}, {"_id": 1}).sort("_id", 1).limit(2)
    mongo_db.tasks.update_one({"_id": edited["_id"]}, {"$set": {"title": "edited by hand"}})
    mongo_db.tasks.delete_one({"_id": deleted["_id"]})
    again = in_process(small_demo_sqlite, mongo_url, tmp_path, "--format", "json")
    assert again.returncode == 0, again.stdout + again.stderr
    [tasks] = json.loads(again.stdout)["collections"]
    assert (tasks["inserted"], tasks["updated"], tasks["unchanged"]) == (1, 1, TASKS - 2)
    assert mongo_db.tasks.count_documents({}) == TASKS
    assert mongo_db.tasks.find_one({"_id": edited["_id"]})["title"] != "edited by hand"
