"""The test bed is real: demo rows travel from PostgreSQL to the MongoDB wire-protocol server."""

from __future__ import annotations

import datetime as dt
import decimal
import importlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import bson
import pymongo
import pytest
import sqlalchemy as sa

import testbed
from testbed.servers import alive


def test_postgres_is_a_real_server(postgres_server: str) -> None:
    engine = sa.create_engine(postgres_server)
    with engine.connect() as connection:
        version = connection.execute(sa.text("SHOW server_version_num")).scalar_one()
    engine.dispose()
    assert int(version) >= 120000


@pytest.mark.integration
def test_mariadb_is_a_real_server(mysql_server: str) -> None:
    """The throwaway MariaDB answers as root over TCP, and runs in this run's TMPDIR (where
    .ci/run looks for leftovers), in the collation that is not code point order."""
    engine = sa.create_engine(mysql_server)
    with engine.connect() as connection:
        version, collation, datadir, tmpdir = connection.execute(
            sa.text("SELECT VERSION(), @@collation_server, @@datadir, @@tmpdir")
        ).one()
    engine.dispose()
    assert "MariaDB" in version or os.environ.get("MAPPER_TEST_MYSQL_URL")
    if not os.environ.get("MAPPER_TEST_MYSQL_URL"):
        assert collation == "utf8mb4_unicode_ci"
        assert datadir.startswith(os.path.join(tempfile.gettempdir(), "mapper-testbed-mariadb-"))
        assert Path(tmpdir) == Path(datadir).parent  # its temporary tables in its run's directory


_SERVE = """
import sys, time, testbed
with testbed.mariadb() as url:
    print(url, flush=True)
    time.sleep(600)
"""


@pytest.mark.integration
def test_mariadb_dies_with_the_process_that_started_it() -> None:
    """Killed without a chance to stop it (SIGKILL), its parent leaves no MariaDB behind:
    the server runs as an unprivileged account switched to before the parent-death signal
    is set (mariadbd's own `--user` would clear that signal)."""
    if os.environ.get("MAPPER_TEST_MYSQL_URL"):
        pytest.skip("MAPPER_TEST_MYSQL_URL names a server the test bed does not start")
    parent = subprocess.Popen(
        [sys.executable, "-c", _SERVE], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        url = parent.stdout.readline().strip()
        assert url.startswith("mysql"), parent.stderr.read()
        [pid_file] = [
            path
            for path in Path(tempfile.gettempdir()).glob("mapper-testbed-mariadb-*/owner.pid")
            if path.read_text().strip() == str(parent.pid)
        ]
        server = int((pid_file.parent / "mariadb.server.pid").read_text())
        assert alive(server)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 60
    while alive(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(server)


def test_a_run_dir_is_never_swept_while_it_is_being_made(monkeypatch) -> None:
    """Another process's sweep, run right after the directory is made (before its owner is
    written), leaves it alone: two xdist workers starting servers at once lost MariaDB's."""
    servers = importlib.import_module("testbed.servers")  # `testbed.servers` is also a function
    make = tempfile.mkdtemp

    def made_then_swept(*args, **kwargs) -> str:
        path = make(*args, **kwargs)
        servers.sweep_leftovers()  # as another process would, at the worst moment
        return path

    monkeypatch.setattr(servers.tempfile, "mkdtemp", made_then_swept)
    with servers._run_dir("probe") as run_dir:
        assert run_dir.name.startswith(servers.RUN_PREFIX + "probe-")
        assert (run_dir / "owner.pid").read_text() == str(os.getpid())
    assert not run_dir.exists()


def test_mongodb_wire_server_answers(mongo_client) -> None:
    assert mongo_client.admin.command("ping")["ok"] == 1.0
    assert "version" in mongo_client.server_info()


def _task_rows(url: str) -> list:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = (
            connection.execute(
                sa.text(
                    "SELECT id, project_id, title, estimate_hours, created_at FROM tasks "
                    "WHERE estimate_hours IS NOT NULL ORDER BY id LIMIT 50"
                )
            )
            .mappings()
            .all()
        )
    engine.dispose()
    assert len(rows) == 50
    return rows


def _assert_round_trip(collection, rows, decimal_type: type) -> None:
    stored = list(collection.find().sort("_id", 1))
    assert len(stored) == len(rows)
    for row, document in zip(rows, stored, strict=True):
        assert isinstance(document["_id"], uuid.UUID) and document["_id"] == row["id"]
        assert document["project_id"] == row["project_id"]
        assert document["title"] == row["title"]
        assert isinstance(row["estimate_hours"], decimal.Decimal)
        assert isinstance(document["estimate_hours"], decimal_type)
        assert decimal.Decimal(str(document["estimate_hours"])) == row["estimate_hours"]
        assert document["created_at"].tzinfo is not None
        expected = row["created_at"].astimezone(dt.UTC)
        assert document["created_at"] == expected.replace(
            microsecond=expected.microsecond // 1000 * 1000
        )


def test_demo_rows_round_trip_through_both_servers(demo_pg: str, mongo_db) -> None:
    """UUIDs (standard representation), exact decimal text and UTC datetimes survive."""
    rows = _task_rows(demo_pg)
    mongo_db.tasks.insert_many(
        [
            {
                "_id": row["id"],
                "project_id": row["project_id"],
                "title": row["title"],
                "estimate_hours": str(row["estimate_hours"]),
                "created_at": row["created_at"],
            }
            for row in rows
        ]
    )
    _assert_round_trip(mongo_db.tasks, rows, str)


@pytest.mark.needs_mongodb
def test_decimal128_round_trip(demo_pg: str, mongo_db) -> None:
    rows = _task_rows(demo_pg)
    mongo_db.tasks.insert_many(
        [
            {
                "_id": row["id"],
                "project_id": row["project_id"],
                "title": row["title"],
                "estimate_hours": bson.Decimal128(row["estimate_hours"]),
                "created_at": row["created_at"],
            }
            for row in rows
        ]
    )
    _assert_round_trip(mongo_db.tasks, rows, bson.Decimal128)


def test_secantus_runs_under_tmpdir_and_dies_with_its_parent(tmp_path) -> None:
    """The test bed's SecantusDB keeps its data under TMPDIR and stops when the process that
    started it is killed, so no run leaves one behind."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, testbed\n"
            "with testbed.secantus() as uri:\n"
            "    print(uri, flush=True)\n"
            "    sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    try:
        uri = parent.stdout.readline().strip()
        assert uri.startswith("mongodb://127.0.0.1:"), uri
        with pymongo.MongoClient(uri, serverSelectionTimeoutMS=20_000) as client:
            assert client.admin.command("ping")["ok"] == 1.0
        (pid_file,) = tmp_path.glob("mapper-testbed-secantus-*/secantus.server.pid")
        assert (pid_file.parent / "data").is_dir()
        server = int(pid_file.read_text())
    finally:
        parent.kill()
        parent.wait(timeout=60)
    port = pymongo.uri_parser.parse_uri(uri)["nodelist"][0][1]
    deadline = time.monotonic() + 60
    while _running(server) or _listening(port):  # the parent had no chance to stop it
        assert time.monotonic() < deadline, "SecantusDB outlived the process that started it"
        time.sleep(0.05)


def _running(pid: int) -> bool:
    """Whether `pid` is a live process (not gone, not a zombie waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
    except OSError:
        return False
    return True


def test_a_mongodb_named_alone_stands_for_both_wire_targets(monkeypatch) -> None:
    monkeypatch.delenv("MAPPER_TEST_SECANTUS_URI", raising=False)
    monkeypatch.delenv("MAPPER_TEST_MONGODB_URI", raising=False)
    assert testbed.named_server("MAPPER_TEST_SECANTUS_URI") is None
    monkeypatch.setenv("MAPPER_TEST_MONGODB_URI", "mongodb://mongo:27017/")
    assert testbed.named_server("MAPPER_TEST_SECANTUS_URI") == "mongodb://mongo:27017/"
    assert testbed.named_server("MAPPER_TEST_MONGODB_URI") == "mongodb://mongo:27017/"
    monkeypatch.setenv("MAPPER_TEST_SECANTUS_URI", "mongodb://secantus:27017/")
    assert testbed.named_server("MAPPER_TEST_SECANTUS_URI") == "mongodb://secantus:27017/"
