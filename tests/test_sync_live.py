"""`mapper sync` against a live source: a random writer changes every demo table while
sync follows it (and is killed with SIGKILL at random points and started again); once it
has caught up, `validate --full` passes and the target equals a fresh `run` of the source,
document for document (the run reads its own snapshot: an independent oracle)."""

from __future__ import annotations

import contextlib
import itertools
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pymongo
import pytest

import mapper
from mapper import pipeline, sync
from tests import writer
from tests.conftest import ROOT, fresh_mysql_database, mapper_cli
from tests.test_sync import FULL, OPTIONS, _documents, _execute

DEADLINE = 180.0  # against a hung sync only: every wait is for a condition


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE:.0f} s: {what}")
        time.sleep(0.05)


def _ended(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is not None


def _sync(source: str, target: str, folder: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "mapper", "sync", str(ROOT / "mappings"), "--source"]
    command += [source, "--target", target, "--decimal-as", "string", "--workers", "1"]
    return subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _same_as_a_fresh_run(
    prepared: mapper.Prepared, target: str, client: pymongo.MongoClient, folder: Path
) -> None:
    report = mapper.validate(prepared, target, mapper.ValidateOptions(sample=None))
    assert report.ok, mapper.render(report)
    fresh = target.replace("/mapper_test_", "/mapper_run_")
    mapper.migrate(prepared, fresh, mapper.MigrateOptions(workers=1, state=folder / "fresh"))
    try:
        assert _documents(client, target) == _documents(client, fresh)
    finally:
        client.drop_database(pymongo.uri_parser.parse_uri(fresh)["database"])


@pytest.mark.parametrize("seed", [11, 12])
def test_a_sync_killed_at_random_points_ends_equal_to_a_fresh_run(
    live_demo: str,
    mongo_url: str,
    mongo_client: pymongo.MongoClient,
    tmp_path: Path,
    seed: int,
) -> None:
    _execute(live_demo, *(f"ALTER TABLE {t} REPLICA IDENTITY FULL" for t in FULL))
    rng = random.Random(seed)
    engine = pipeline.create_engine(live_demo)
    positions = mongo_client[pymongo.uri_parser.parse_uri(mongo_url)["database"]].mapper_sync
    with mapper.prepare([ROOT / "mappings"], live_demo, OPTIONS) as prepared:
        name = sync.slot_name(prepared, mongo_url)

        def streaming() -> bool:
            found = positions.find_one({"_id": name})
            return found is not None and found["phase"] == "streaming"

        try:
            for attempt in range(4):
                process = _sync(live_demo, mongo_url, tmp_path)
                try:
                    if attempt % 2 == 0:  # else killed wherever it is: loading, starting
                        _wait_for(lambda p=process: streaming() or _ended(p), "streaming")
                        assert not _ended(process), process.stderr and process.stderr.read()
                    writer.write(engine, rng, rng.randint(10, 60))
                finally:
                    process.kill()
                    process.wait(timeout=60)
            writer.write(engine, rng, 20)  # while no sync runs
            caught_up = mapper_cli(
                "sync", ROOT / "mappings", "--source", live_demo, "--target", mongo_url,
                "--decimal-as", "string", "--workers", "1", "--until-caught-up", cwd=tmp_path,
            )  # fmt: skip
            assert caught_up.returncode == 0, caught_up.stderr
            _same_as_a_fresh_run(prepared, mongo_url, mongo_client, tmp_path)
        finally:
            engine.dispose()
            sync.stop(prepared, mongo_url)


def test_a_running_sync_keeps_up_with_a_live_writer_and_stops_on_sigterm(
    live_demo: str, mongo_url: str, mongo_client: pymongo.MongoClient, tmp_path: Path
) -> None:
    """The same writer while one sync process runs throughout: once its stored position
    passes the source's WAL insert position, the target is equal to a fresh run while it
    still runs; SIGTERM (a service manager's stop) ends it cleanly, exit 0."""
    _execute(live_demo, *(f"ALTER TABLE {t} REPLICA IDENTITY FULL" for t in FULL))
    rng = random.Random(31)
    engine = pipeline.create_engine(live_demo)
    positions = mongo_client[pymongo.uri_parser.parse_uri(mongo_url)["database"]].mapper_sync
    with mapper.prepare([ROOT / "mappings"], live_demo, OPTIONS) as prepared:
        name = sync.slot_name(prepared, mongo_url)

        def at(goal: int | None = None) -> bool:
            found = positions.find_one({"_id": name})
            if found is None or found["phase"] != "streaming":
                return False
            return goal is None or int(found["lsn"]) >= goal

        process = _sync(live_demo, mongo_url, tmp_path)
        try:
            _wait_for(lambda: at() or _ended(process), "streaming")
            for _ in range(3):
                writer.write(engine, rng, 30)
            with engine.connect() as connection:
                goal = connection.exec_driver_sql("SELECT pg_current_wal_insert_lsn()")
                lsn = sync.pgoutput.lsn_value(goal.scalar_one())
            _wait_for(lambda: at(lsn) or _ended(process), "caught up")
            assert not _ended(process), process.stderr and process.stderr.read()
            _same_as_a_fresh_run(prepared, mongo_url, mongo_client, tmp_path)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=DEADLINE) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=60)
            engine.dispose()
            sync.stop(prepared, mongo_url)


@pytest.fixture(params=["sqlite", "mariadb", "postgresql"])
def polled_demo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A small demo of its own in each kind of source `sync --poll` follows."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'live.db'}"
        mapper.create_demo(url, scale=0.05, seed=5)
        yield url
    elif request.param == "mariadb":
        with fresh_mysql_database(request.getfixturevalue("mysql_server")) as url:
            mapper.create_demo(url, scale=0.05, seed=5)
            yield url
    else:
        yield request.getfixturevalue("live_demo")


def test_a_poll_follows_a_live_writer_on_any_source(
    polled_demo: str, mongo_url: str, mongo_client: pymongo.MongoClient, tmp_path: Path
) -> None:
    """Changes are found by comparing cycles (watermarks where the tables have one), while
    the writer writes; a cycle begun after it stopped leaves the target equal to a run."""
    rng = random.Random(21)
    engine = writer.engine(polled_demo)
    written = threading.Event()
    cycles_after = itertools.count()
    options = sync.SyncOptions(poll=True, interval=0, watermarks=("updated_at",), batch_size=50)
    results: list[sync.Followed | BaseException] = []

    def stop_requested() -> bool:  # asked once a cycle: stop after one begun after the writes
        return written.is_set() and next(cycles_after) >= 1

    with mapper.prepare([ROOT / "mappings"], polled_demo, OPTIONS) as prepared:

        def follow() -> None:
            try:
                results.append(sync.sync(prepared, mongo_url, options, stop_requested))
            except BaseException as error:  # noqa: BLE001 - re-raised by the test
                results.append(error)

        follower = threading.Thread(target=follow)
        with contextlib.chdir(tmp_path):
            follower.start()
            try:
                for _ in range(3):
                    writer.write(engine, rng, 30)
            finally:
                written.set()
                follower.join(timeout=DEADLINE)
        engine.dispose()
        assert not follower.is_alive(), "the poll did not stop"
        followed = results[0]
        if isinstance(followed, BaseException):
            raise followed
        assert followed.changes > 0 and followed.rejected == 0
        _same_as_a_fresh_run(prepared, mongo_url, mongo_client, tmp_path)
