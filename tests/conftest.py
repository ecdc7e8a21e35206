"""Fixtures that give real servers: PostgreSQL, MariaDB and two MongoDB wire-protocol servers,
FerretDB (fast; the default target) and SecantusDB (slower, with the features FerretDB 1.x
lacks: the target of tests marked `needs_mongodb`, and the second target of tests decorated
with `both_targets`).

`MAPPER_TEST_POSTGRES_URL`, `MAPPER_TEST_MYSQL_URL`, `MAPPER_TEST_MONGODB_URI` and
`MAPPER_TEST_SECANTUS_URI` point the suite at existing servers (a MongoDB named by
`MAPPER_TEST_MONGODB_URI` serves as both MongoDB-wire targets); otherwise the test bed starts
throwaway ones for the session (MariaDB only when a test first needs it) and stops them
afterwards. When a server cannot be had the integration tests are skipped loudly, or fail
under `CI=true`.
"""

from __future__ import annotations

import collections
import contextlib
import io
import logging
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pymongo
import pytest
import sqlalchemy as sa
from hypothesis import settings

import testbed
from mapper.config import CACHE_VARIABLE, sqlalchemy_url

IN_CI = os.environ.get("CI", "").lower() == "true"

# Property tests judge results, not speed: a busy machine must not fail them on time.
settings.register_profile("mapper", deadline=None)
settings.load_profile("mapper")
ROOT = Path(__file__).resolve().parent.parent

# Subprocesses (`python -m mapper ...`) import this checkout's package, whatever is installed.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))


@dataclass(frozen=True)
class Finished:
    """What a command left: its exit code and output (as `subprocess.CompletedProcess`)."""

    returncode: int
    stdout: str
    stderr: str


def mapper_cli(*args: str, cwd: Path = ROOT, env: Mapping[str, str] | None = None) -> Finished:
    """`mapper ARGS` as a user runs it in `cwd`, in this process (`cli.main`): the same
    parsing, output and exit codes without a new interpreter's start. `env` replaces the
    environment for the command. Tests where a real process is the point (signals, kills)
    start one instead."""
    from mapper import cli

    out, err = io.StringIO(), io.StringIO()
    try:
        with (
            mock.patch.dict(os.environ, env or {}, clear=env is not None),  # restored after
            contextlib.chdir(cwd),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            try:
                code = cli.main([str(arg) for arg in args])
            except SystemExit as exit_:  # argparse: --help, --version, usage errors
                code = exit_.code if isinstance(exit_.code, int) else 2
    finally:
        logging.getLogger().handlers.clear()  # the command's handler wrote to `err`
        logging.getLogger("mapper").setLevel(logging.NOTSET)  # as before the command
    return Finished(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session", autouse=True)
def _cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """mapper's cache folder (the schema passes it keeps, the demo database) is the session's
    own, in this process and the commands it starts: the suite's thousands of mappings never
    reach the user's `~/.cache/mapper`."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_VARIABLE, str(tmp_path_factory.mktemp("mapper-cache")))
        yield


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries of an unreachable target wait a millisecond, not seconds, in tests run in this
    process: the waits are the product's, not a condition a test waits for
    (`tests/test_target_errors.py` checks how many retries and waits there are)."""
    from mapper.engine.load import mongodb

    monkeypatch.setattr(mongodb, "BACKOFF_SECONDS", 0.001)


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"test server unavailable under CI=true: {reason}", pytrace=False)
    pytest.skip(f"INTEGRATION TEST SKIPPED, no test server: {reason}")


@contextlib.contextmanager
def _server(
    variable: str, start: Callable[[], contextlib.AbstractContextManager[str]] | None = None
) -> Iterator[str]:
    """The server `variable` names, else one started by `start` (by default the test bed's
    server of that variable, `testbed.SERVERS`) for as long as the context lasts."""
    named = testbed.named_server(variable)
    if named:
        yield named
        return
    try:
        with (start or testbed.SERVERS[variable])() as url:
            yield url
    except testbed.TestbedUnavailable as error:
        _unavailable(str(error))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server where tests may create databases."""
    with _server("MAPPER_TEST_POSTGRES_URL") as url:
        yield sqlalchemy_url(url)


@pytest.fixture(scope="session")
def mysql_server() -> Iterator[str]:
    """URL of a MySQL or MariaDB server where tests may create databases."""
    with _server("MAPPER_TEST_MYSQL_URL", testbed.mariadb) as url:
        yield url


@pytest.fixture(scope="session")
def small_demo_mysql(mysql_server: str) -> Iterator[str]:
    """The same rows as `small_demo_pg`, in MariaDB (read-only use)."""
    from mapper.demo import create_demo

    with fresh_mysql_database(mysql_server) as url:
        create_demo(url, scale=SMALL_DEMO_SCALE, seed=42)
        yield url


@pytest.fixture(scope="session")
def ferretdb_server() -> Iterator[str]:
    """URI of FerretDB 1.x, or of the server `MAPPER_TEST_MONGODB_URI` names."""
    with _server("MAPPER_TEST_MONGODB_URI") as uri:
        yield uri


@pytest.fixture(scope="session")
def secantus_server() -> Iterator[str]:
    """URI of SecantusDB, or of the server `MAPPER_TEST_SECANTUS_URI` (else
    `MAPPER_TEST_MONGODB_URI`) names."""
    with _server("MAPPER_TEST_SECANTUS_URI") as uri:
        yield uri


TARGETS = ("ferretdb", "secantus")
both_targets = pytest.mark.parametrize("mongodb_server", TARGETS, indirect=True)
"""Run a test that uses `mongodb_server` (or `mongo_url`, `mongo_db`, `mongo_client`) once
against each MongoDB-wire server of the test bed."""


@pytest.fixture(scope="session")
def mongodb_server(request: pytest.FixtureRequest) -> str:
    """URI of a MongoDB wire-protocol server: FerretDB unless the test is parametrised with
    another of `TARGETS` (`both_targets`; `needs_mongodb` gives SecantusDB)."""
    return request.getfixturevalue(f"{getattr(request, 'param', 'ferretdb')}_server")


@pytest.fixture(autouse=True)
def _record_the_servers(request: pytest.FixtureRequest) -> Iterator[None]:
    """Note which MongoDB-wire server a test ran on, and (once it ran, since a test may ask
    for its source by name) whether it used MariaDB, for the closing summary."""
    if "mongodb_server" in request.fixturenames:
        callspec = getattr(request.node, "callspec", None)
        target = callspec.params.get("mongodb_server", "ferretdb") if callspec else "ferretdb"
        request.node.user_properties.append(("mongodb_target", target))
    yield
    if "mysql_server" in request.fixturenames:
        request.node.user_properties.append(("mariadb", True))


def pytest_terminal_summary(terminalreporter) -> None:
    """How many tests ran (not skipped) on each MongoDB-wire server, and how many of them
    are marked `needs_mongodb`; how many on MariaDB, and how many of them are differential."""
    ran: collections.Counter[str] = collections.Counter()
    needing: collections.Counter[str] = collections.Counter()
    on_mariadb: collections.Counter[bool] = collections.Counter()
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            target = dict(getattr(report, "user_properties", ())).get("mongodb_target")
            if report.when == "call" and target:
                ran[target] += 1
                needing[target] += "needs_mongodb" in report.keywords
    called = {
        report.nodeid
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if report.when == "call"
    }
    for reports in terminalreporter.stats.values():
        for report in reports:
            if (
                getattr(report, "when", None) == "teardown"
                and report.nodeid in called
                and dict(report.user_properties).get("mariadb")
            ):
                on_mariadb["test_run_differential.py" in report.nodeid] += 1
    if on_mariadb:
        terminalreporter.write_line(
            f"tests run on MariaDB: {on_mariadb.total()} (differential {on_mariadb[True]})"
        )
    if ran:
        counts = ", ".join(
            f"{target} {count} (needs_mongodb {needing[target]})"
            for target, count in sorted(ran.items())
        )
        terminalreporter.write_line(f"tests run per MongoDB-wire server: {counts}")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `needs_mongodb` run against SecantusDB (or the MongoDB the environment
    names)."""
    if (
        metafunc.definition.get_closest_marker("needs_mongodb")
        and "mongodb_server" in metafunc.fixturenames
    ):
        metafunc.parametrize("mongodb_server", ["secantus"], indirect=True)


def _database_url(server_url: str, name: str) -> str:
    return sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)


@contextlib.contextmanager
def _fresh_database(server_url: str, create: str, drop: str) -> Iterator[str]:
    """Create a uniquely named database by the statement `create` (`{name}` in it), yield
    its URL, drop it afterwards by `drop`."""
    name = f"mapper_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(create.format(name=name)))
    try:
        yield _database_url(server_url, name)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(drop.format(name=name)))
        admin.dispose()


def fresh_postgres_database(server_url: str) -> contextlib.AbstractContextManager[str]:
    """Create a uniquely named database, yield its URL, drop it afterwards."""
    return _fresh_database(
        server_url, 'CREATE DATABASE "{name}"', 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    )


def fresh_mysql_database(server_url: str) -> contextlib.AbstractContextManager[str]:
    """Create a uniquely named MySQL database (utf8mb4, in the server's default collation),
    yield its URL, drop it afterwards."""
    return _fresh_database(
        server_url,
        "CREATE DATABASE `{name}` CHARACTER SET utf8mb4",
        "DROP DATABASE IF EXISTS `{name}`",
    )


@contextlib.contextmanager
def _scripted(
    fresh: contextlib.AbstractContextManager[str], statements: list[str]
) -> Iterator[str]:
    with fresh as url:
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
        engine.dispose()
        yield url


def postgres_database(server_url: str, script: str) -> contextlib.AbstractContextManager[str]:
    """A fresh database made by an SQL script; its URL (dropped afterwards)."""
    return _scripted(fresh_postgres_database(server_url), [script])


def mysql_database(server_url: str, script: str) -> contextlib.AbstractContextManager[str]:
    """A fresh MySQL database made by an SQL script (statements end with `;` at a line's
    end: MySQL takes one at a time); its URL (dropped afterwards)."""
    statements = [part for part in script.split(";\n") if part.strip()]
    return _scripted(fresh_mysql_database(server_url), statements)


def run_to_files(source: str | sa.Engine, paths: list[Path], out: Path, rejects: Path) -> list:
    """Run mapping files from a source URL (or engine) into `file:out`; the plan's problems."""
    from mapper import api

    with api.prepare(paths, source) as prepared:
        api.migrate(prepared, f"file:{out}", api.MigrateOptions(rejects=rejects))
    return list(prepared.warnings)


@pytest.fixture
def pg_url(postgres_server: str) -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database (dropped after the test)."""
    with fresh_postgres_database(postgres_server) as url:
        yield url


def sqlite_database(path: Path, script: str) -> str:
    """A SQLite database at `path` made by an SQL script; its SQLAlchemy URL."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.executescript(script)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """URL of a fresh, empty SQLite database file."""
    return f"sqlite:///{tmp_path / 'source.db'}"


@pytest.fixture(scope="session")
def mongo_client(mongodb_server: str) -> Iterator[pymongo.MongoClient]:
    client = pymongo.MongoClient(mongodb_server, uuidRepresentation="standard", tz_aware=True)
    yield client
    client.close()


@pytest.fixture
def mongo_url(mongodb_server: str, mongo_client: pymongo.MongoClient) -> Iterator[str]:
    """URI of a fresh database on the MongoDB wire-protocol server (dropped after the test)."""
    name = f"mapper_test_{uuid.uuid4().hex[:12]}"
    base = mongodb_server.split("?", 1)
    yield base[0].rstrip("/") + "/" + name + (f"?{base[1]}" if len(base) > 1 else "")
    mongo_client.drop_database(name)


@pytest.fixture
def mongo_db(mongo_url: str, mongo_client: pymongo.MongoClient):
    """A fresh database on the MongoDB wire-protocol server (dropped after the test)."""
    return mongo_client[pymongo.uri_parser.parse_uri(mongo_url)["database"]]


@pytest.fixture(scope="session")
def demo_pg(postgres_server: str) -> Iterator[str]:
    """URL of a PostgreSQL database holding the demo at scale 1, seed 42 (read-only use)."""
    from mapper.demo import create_demo

    with fresh_postgres_database(postgres_server) as url:
        create_demo(url, scale=1, seed=42)
        yield url


SMALL_DEMO_SCALE, SMALL_DEMO_TASKS = 0.3, 300


@pytest.fixture(scope="session")
def small_demo_pg(postgres_server: str) -> Iterator[str]:
    """The demo at scale 0.3 (300 tasks) in PostgreSQL, for tests that run or validate it many
    times (read-only use)."""
    from mapper.demo import create_demo

    with fresh_postgres_database(postgres_server) as url:
        create_demo(url, scale=SMALL_DEMO_SCALE, seed=42)
        yield url


@pytest.fixture
def live_demo(postgres_server: str) -> Iterator[str]:
    """A small demo database of its own, for tests that change it (sync); its replication
    slots are dropped after (a database with one cannot be dropped)."""
    import mapper
    from mapper import pipeline

    with fresh_postgres_database(postgres_server) as url:
        mapper.create_demo(url, scale=0.05, seed=3)
        yield url
        engine = pipeline.create_engine(url)
        with engine.connect() as connection:
            connection.exec_driver_sql(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE database = current_database()"
            )
        engine.dispose()


@pytest.fixture(scope="session")
def small_demo_sqlite(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The same rows as `small_demo_pg`, in SQLite (read-only use)."""
    from mapper.demo import create_demo

    url = f"sqlite:///{tmp_path_factory.mktemp('small-demo') / 'demo.db'}"
    create_demo(url, scale=SMALL_DEMO_SCALE, seed=42)
    return url


@pytest.fixture(scope="session")
def demo_sqlite(tmp_path_factory) -> str:
    """URL of a SQLite database holding the demo at scale 1, seed 42 (read-only use)."""
    from mapper.demo import create_demo

    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    create_demo(url, scale=1, seed=42)
    return url


def is_ferretdb(client: pymongo.MongoClient) -> bool:
    """FerretDB 1.x lacks Decimal128, transactions, $lookup and validators."""
    return "ferretdbVersion" in client.admin.command("buildInfo")


@pytest.fixture(autouse=True)
def _needs_mongodb(request) -> None:
    """Tests marked `needs_mongodb` run only against a server with MongoDB's features (the
    environment may name a FerretDB as `MAPPER_TEST_SECANTUS_URI`)."""
    if request.node.get_closest_marker("needs_mongodb") is None:
        return
    client = request.getfixturevalue("mongo_client")
    if is_ferretdb(client):
        _unavailable(
            "needs a MongoDB feature FerretDB lacks: set MAPPER_TEST_SECANTUS_URI "
            "to SecantusDB or a MongoDB server"
        )


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[str]:
    """A local Dask cluster of two worker processes for the session; its `--executor`."""
    from mapper.engine.cluster import local_cluster

    cluster = local_cluster(2)
    try:
        yield "dask://" + cluster.scheduler_address.removeprefix("tcp://")
    finally:
        cluster.close()
