"""Faults during a run: a dropped target connection, and a source changing under the run."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from urllib.parse import urlsplit

import bson
import pytest
import sqlalchemy as sa
from conftest import SMALL_DEMO_TASKS as TASKS
from conftest import fresh_postgres_database
from tcp_proxy import Proxy

from mapper import api
from mapper.demo import create_demo
from mapper.engine.extract import snapshot
from mapper.engine.load import mongodb
from mapper.errors import EXIT_FAULT, SourceError, TargetError
from mapper.ids import oid

ROOT = Path(__file__).resolve().parent.parent


def _prepare(url: str, decimal_as: api.DecimalAs = "decimal128") -> api.Prepared:
    return api.prepare([ROOT / "mappings" / "tasks.yaml"], url, api.DocumentOptions(decimal_as))


def _options(
    tmp_path: Path, rejects: str = "rejects", batch_size: int = 1000
) -> api.MigrateOptions:
    return api.MigrateOptions(
        batch_size=batch_size, rejects=tmp_path / rejects, state=tmp_path / "state.json"
    )


def _hashes(collection) -> dict:
    return {
        document["_id"]: hashlib.sha256(bson.encode(document)).hexdigest()
        for document in collection.find()
    }


def test_target_connection_cut_mid_run_is_retried_idempotently(
    small_demo_sqlite, mongo_url, mongo_db, tmp_path
) -> None:
    prepared = _prepare(small_demo_sqlite, "string")
    reference = api.migrate(prepared, mongo_url, _options(tmp_path, "r1"))
    expected = _hashes(mongo_db.tasks)
    mongo_db.tasks.drop()

    server = urlsplit(mongo_url)
    proxy = Proxy((server.hostname, server.port))
    proxied = mongo_url.replace(f":{server.port}/", f":{proxy.port}/")
    batches = []

    def cut_now_and_then(collection: str, rows: int) -> None:
        batches.append(rows)
        if len(batches) in (2, 5):
            proxy.cut()

    try:
        summary = api.migrate(
            prepared, proxied, _options(tmp_path, "r2", 30), progress=cut_now_and_then
        )
    finally:
        proxy.close()
        prepared.close()
    assert proxy.cuts >= 2
    result = summary.collections[0]
    assert result.written == TASKS and result.rejected == 0 and summary.balanced
    assert reference.collections[0].written == TASKS
    assert mongo_db.tasks.count_documents({}) == TASKS
    assert _hashes(mongo_db.tasks) == expected


def test_a_target_that_stops_answering_mid_run_times_out(
    small_demo_sqlite, mongo_url, tmp_path, caplog, monkeypatch
) -> None:
    """No answer within the socket timeout (the sink's default, made short here) is a
    transient failure: retried, then an error naming the target, not a run that hangs."""
    monkeypatch.setattr(mongodb, "SOCKET_TIMEOUT_SECONDS", 0.3)
    server = urlsplit(mongo_url)
    proxy = Proxy((server.hostname, server.port))
    frozen = mongo_url.replace(f":{server.port}/", f":{proxy.port}/")
    quick = f"{frozen}?connectTimeoutMS=300&serverSelectionTimeoutMS=600"
    prepared = _prepare(small_demo_sqlite, "string")

    def freeze_after_two_batches(collection: str, rows: int, seen: list[int] = []) -> None:  # noqa: B006
        seen.append(rows)
        if len(seen) == 2:
            proxy.freeze()

    try:
        with pytest.raises(TargetError) as failed, caplog.at_level("WARNING", "mapper"):
            api.migrate(
                prepared,
                quick,
                _options(tmp_path, batch_size=30),
                progress=freeze_after_two_batches,
            )
    finally:
        proxy.close()
        prepared.close()
    assert f"after {mongodb.RETRIES} attempts on `tasks` ({frozen}?" in str(failed.value)
    assert failed.value.exit_code == EXIT_FAULT and failed.value.transient
    retries = [r.getMessage() for r in caplog.records if "transient target error on" in r.msg]
    assert len(retries) == mongodb.RETRIES  # the retry policy, then the error
    assert "NetworkTimeout" in retries[0], retries  # no answer within the socket timeout
    # later attempts may find the server marked unknown by then: no server to select
    assert str(failed.value).endswith(("; last: NetworkTimeout)", "ServerSelectionTimeoutError)"))


def test_documents_reflect_one_snapshot_despite_concurrent_writes(postgres_server, tmp_path):
    with fresh_postgres_database(postgres_server) as url:
        create_demo(url, scale=0.3, seed=7)
        prepared = _prepare(url)
        writer = sa.create_engine(url)
        with writer.connect() as connection:
            (last_task,) = connection.execute(
                sa.text("SELECT id FROM tasks ORDER BY id DESC LIMIT 1")
            ).one()
        changed = []

        def write_concurrently(collection: str, rows: int) -> None:
            if changed:
                return
            with writer.begin() as connection:
                connection.execute(
                    sa.text("UPDATE tasks SET title = 'CHANGED' WHERE id = :id"), {"id": last_task}
                )
                connection.execute(
                    sa.text("DELETE FROM comments WHERE task_id = :id"), {"id": last_task}
                )
                connection.execute(
                    sa.text(
                        "DELETE FROM tasks WHERE id IN (SELECT id FROM tasks"
                        " WHERE id <> :id ORDER BY id DESC LIMIT 5)"
                    ),
                    {"id": last_task},
                )
            changed.append(True)

        before = _count_comments(writer, last_task)
        out = tmp_path / "out"
        summary = api.migrate(
            prepared, f"file:{out}", _options(tmp_path, batch_size=50), progress=write_concurrently
        )
        writer.dispose()
        prepared.close()
    assert changed
    documents = [
        bson.json_util.loads(line) for line in (out / "tasks.jsonl").read_text().splitlines()
    ]
    assert summary.collections[0].read == len(documents) == 300
    last = next(d for d in documents if d["_id"] == _oid(last_task))
    assert last["title"] != "CHANGED"
    assert len(last["comments"]) == last["comment_count"] == before


def _count_comments(engine: sa.Engine, task) -> int:
    with engine.connect() as connection:
        return connection.execute(
            sa.text("SELECT count(*) FROM comments WHERE task_id = :id"), {"id": task}
        ).scalar_one()


def _oid(task) -> bson.ObjectId:
    return oid("tasks", [task])


def _terminate_other_backends(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    engine.dispose()


def test_source_dropped_mid_stream_names_table_and_last_key(postgres_server, tmp_path):
    with fresh_postgres_database(postgres_server) as url:
        create_demo(url, scale=0.3, seed=7)
        prepared = _prepare(url)
        calls = []

        def drop_source(collection: str, rows: int) -> None:
            calls.append(rows)
            if len(calls) == 2:
                _terminate_other_backends(url)

        with pytest.raises(SourceError) as error:
            api.migrate(
                prepared,
                f"file:{tmp_path / 'out'}",
                _options(tmp_path, batch_size=50),
                progress=drop_source,
            )
        prepared.close()
    assert error.value.table == "tasks" and error.value.key is not None
    message = str(error.value)
    assert "`tasks`" in message and "after key `" in message
    assert "run again to finish" in message and "--resume" not in message  # a file: target
    assert not (tmp_path / "out" / "tasks.jsonl").exists()


def test_idle_in_transaction_timeout_is_named(postgres_server, tmp_path):

    with fresh_postgres_database(postgres_server) as url:
        create_demo(url, scale=0.3, seed=7)
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            database = connection.execute(sa.text("SELECT current_database()")).scalar_one()
            connection.execute(
                sa.text(
                    f'ALTER DATABASE "{database}" SET '
                    "idle_in_transaction_session_timeout = '300ms'"
                )
            )
        prepared = _prepare(url)

        def stall_until_the_server_ends_the_snapshot(collection: str, rows: int) -> None:
            """The loader stalls after a batch until the server has ended the idle snapshot
            transaction (a condition, not a guess at how long the timeout takes)."""
            deadline = time.monotonic() + 120
            with admin.connect() as connection:
                while connection.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = :name "
                        "AND state LIKE 'idle in transaction%'"
                    ),
                    {"name": database},
                ).scalar():
                    assert time.monotonic() < deadline, "the idle timeout never fired"
                    time.sleep(0.05)

        with pytest.raises(SourceError) as error:
            api.migrate(
                prepared,
                "null:",
                _options(tmp_path, batch_size=50),
                progress=stall_until_the_server_ends_the_snapshot,
            )
        prepared.close()
        admin.dispose()
    assert "idle_in_transaction_session_timeout" in str(error.value)
    assert error.value.setting == "idle_in_transaction_session_timeout"
    assert error.value.table == "tasks"


def test_a_sqlite_snapshot_sees_one_moment_and_writes_nothing(tmp_path: Path) -> None:
    """pysqlite begins no transaction before a SELECT: without one of its own, each read of
    a run saw the database as it was then (a write between two batches reached half of
    them)."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode = WAL")  # a reader does not block
        connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
    writer = sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    count = "SELECT count(*) FROM t"
    with snapshot(engine) as connection:
        with writer.begin() as other:  # after the snapshot began, before its first read
            other.exec_driver_sql("INSERT INTO t VALUES (2)")
        assert connection.exec_driver_sql(count).scalar_one() == 1
        with writer.begin() as other:
            other.exec_driver_sql("INSERT INTO t VALUES (3)")
        assert connection.exec_driver_sql(count).scalar_one() == 1
        with pytest.raises(sa.exc.OperationalError, match="readonly"):
            connection.exec_driver_sql("DELETE FROM t")
    with engine.begin() as connection:  # the pooled connection writes again
        connection.exec_driver_sql("DELETE FROM t WHERE id = 3")
    writer.dispose()
    engine.dispose()
