"""The Dask executor (`--executor`): ranges as tasks on a local cluster of two worker
processes give the one-process run's documents, reject file and summary; a killed worker or
a killed leader loses and duplicates nothing. The byte-for-byte tests of the shipped mappings
are in test_run_differential.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import cloudpickle
import pytest
import sqlalchemy as sa
from conftest import mapper_cli
from distributed import Client, WorkerPlugin
from hypothesis import given
from hypothesis import strategies as st
from tcp_proxy import Proxy
from test_parallel import _children, _wait_for

from mapper import api
from mapper import plan as p
from mapper.catalog import Column, Table
from mapper.cli import EXIT_INTERRUPTED
from mapper.config import sqlalchemy_url
from mapper.engine import cluster
from mapper.engine.duplicates import unproven_id
from mapper.engine.load import Encoded, FileSink
from mapper.engine.ranges import Key, Ledger, Span
from mapper.engine.rejects import RejectFile
from mapper.engine.run import RunSummary
from mapper.errors import SourceError, UsageError

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the plugins, to the workers

ROOT = Path(__file__).resolve().parent.parent
TASKS = ROOT / "mappings" / "tasks.yaml"
ITEMS_MAPPING = """\
version: 1
collections:
  items:
    table: items
    _id: {column: code}
    columns: [label]
"""


def migrate(
    source: str, target: str, tmp_path: Path, name: str, mapping=TASKS, progress=None, **options
) -> RunSummary:
    """A run through the API (decimals as strings: FerretDB has no Decimal128)."""
    with api.prepare([mapping], source, api.DocumentOptions("string")) as prepared:
        return api.migrate(
            prepared,
            target,
            api.MigrateOptions(
                rejects=tmp_path / f"{name}.rejects.jsonl",
                state=tmp_path / f"{name}.state.json",
                **options,
            ),
            progress=progress,
        )


# --- the checkpoint's spans --------------------------------------------------------------


def test_the_ledger_merges_ranges_done_out_of_order():
    ledger = Ledger([])
    gaps = ledger.gaps()
    assert next(gaps) == (None, None)
    first, second, third = (ledger.add(span) for span in [(None, (3,)), ((3,), (6,)), ((6,), (9,))])
    ledger.complete(third)
    ledger.complete(first)
    assert ledger.done() == [(None, (3,)), ((6,), (9,))]
    ledger.complete(second)
    assert ledger.done() == [(None, (9,))]


def test_a_resumed_ledger_cuts_only_the_gaps():
    ledger = Ledger([(None, (3,)), ((6,), (9,))])
    gaps = ledger.gaps()
    assert next(gaps) == ((3,), (6,))
    ledger.complete(ledger.add(((3,), (6,))))
    assert next(gaps) == ((9,), None)
    assert ledger.done() == [(None, (9,))]  # the gap done: the spans around it join
    later = ledger.add(((9,), (12,)))
    assert ledger.done() == [(None, (9,))]
    ledger.complete(later)
    assert ledger.done() == [(None, (12,))]
    assert next(gaps, None) is None


def _merged(cuts: list[tuple[Span, bool]]) -> list[Span]:
    """The oracle: the spans of the cuts done, merged where they touch, in key order."""
    spans: list[Span] = []
    for position, (span, done) in enumerate(cuts):
        if done and position and cuts[position - 1][1]:
            spans[-1] = (spans[-1][0], span[1])
        elif done:
            spans.append(span)
    return spans


@given(st.lists(st.booleans(), max_size=30), st.randoms(use_true_random=False))
def test_the_ledger_merges_as_the_oracle_in_any_order(completed: list[bool], random) -> None:
    """Ranges completed in any order (each `True` one of them): the spans done are those of
    a merge of all the cuts, after each completion."""
    ledger = Ledger([])
    next(ledger.gaps())
    spans = [((n,) if n else None, (n + 1,)) for n in range(len(completed))]
    indexes = [ledger.add(span) for span in spans]
    order = [n for n, done in enumerate(completed) if done]
    random.shuffle(order)
    state = [(span, False) for span in spans]
    for n in order:
        ledger.complete(indexes[n])
        state[n] = (spans[n], True)
        assert ledger.done() == _merged(state)


def test_the_ledger_keeps_the_ranges_in_flight_not_all_it_cut() -> None:
    """Twenty thousand ranges (ten million rows in batches of 500) completed roughly in key
    order, two in flight: each checkpoint's `done` walks a few cuts, not every one."""
    ledger = Ledger([])
    next(ledger.gaps())
    previous: Key | None = None
    in_flight: list[int] = []
    for n in range(20_000):
        in_flight.append(ledger.add((previous, (n,))))
        previous = (n,)
        if len(in_flight) == 2:
            ledger.complete(in_flight.pop())  # the later first: out of order
            ledger.complete(in_flight.pop())
            assert len(ledger._cut) <= 2  # noqa: SLF001 - what a checkpoint walks
    assert ledger.done() == [(None, (19_999,))]


def test_an_executor_is_a_dask_scheduler_or_a_local_cluster():
    assert cluster.cluster_of("dask://10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    assert cluster.cluster_of("dask-local") == 2
    assert cluster.cluster_of("dask-local:3") == 3
    for bad in ("dask://", "dask-local:0", "dask-local:x", "spark://h:1"):
        with pytest.raises(UsageError, match="dask://HOST:PORT"):
            cluster.cluster_of(bad)
    with pytest.raises(UsageError, match="--workers"):
        api.MigrateOptions(executor="dask-local", workers=2)


def test_urls_travel_to_the_workers_hidden():
    secret = cluster.Secret("mongodb://user:hunter2@db/x")
    assert "hunter2" not in repr(secret) and "hunter2" not in str(secret)


def test_reject_lines_listed_as_ranges_completed_are_put_back_in_key_order(tmp_path):
    rejects = RejectFile(tmp_path / "rejects.jsonl")
    rejects.start()
    rejects.add("c", (0,), "build", "an earlier run's")
    parts = []
    for key in (3, 1, 2):  # ranges 3, 1 and 2 completed in that order
        start = rejects.size()
        rejects.add("c", (key,), "build", f"range {key}")
        rejects.add("c", (key, "b"), "build", f"range {key}")
        parts.append((key, start, rejects.size()))
    mark = rejects.mark()
    rejects.reorder([(start, end) for _, start, end in sorted(parts)])
    lines = [json.loads(line)["key"] for line in rejects.path.read_text().splitlines()]
    assert lines == ["0", "1", "1|b", "2", "2|b", "3", "3|b"]
    assert rejects.mark() == mark  # the checkpoint's mark still holds


def test_file_parts_are_joined_in_key_order_and_a_retried_part_replaces_its_own(tmp_path):
    sink, collection = FileSink(tmp_path / "out"), SimpleNamespace(name="c")

    def part(index: int, *texts: str) -> None:
        sink.write_range(collection, index, [Encoded((t,), t, b"", t) for t in texts])

    sink.open(collection, drop=False)
    part(10, "k")
    part(2, "c", "d")
    part(2, "c", "d")  # a task run again
    part(0, "a")
    sink.finish(collection)
    assert (tmp_path / "out" / "c.jsonl").read_text() == "a\nc\nd\nk\n"
    assert not (tmp_path / "out" / "c.parts").exists()


def _items(kind="table", unique=(("code",),), nullable=True) -> Table:
    columns = (
        Column("id", "int32", "integer", False),
        Column("code", "text", "text", nullable),
        Column("at", "datetime", "timestamp", False),
    )
    return Table("items", None, "items", columns, ("id",), (), unique, kind)


def _with_id(rule: str, columns: tuple[str, ...], conversions: tuple[str, ...]):
    shape = p.DocumentId(("_id",), rule, "items", columns, (0,), conversions=conversions)
    return SimpleNamespace(table="items", document=SimpleNamespace(fields=(shape,)))


@pytest.mark.parametrize(
    ("collection", "table", "why"),
    [
        (_with_id("oid", ("id",), ("int",)), _items(), None),
        (_with_id("key", ("id",), ("int",)), _items(), None),
        (_with_id("column", ("code",), ("string",)), _items(), None),  # NULL: no `_id`
        (_with_id("column", ("code",), ("string",)), _items(unique=()), "no unique key"),
        (_with_id("key", ("id",), ("int",)), _items("view"), "of a view"),
        (_with_id("key", ("code", "at"), ("string", "datetime")), _items(), "conversion"),
        (
            _with_id("key", ("code", "at"), ("string", "datetime")),
            _items(unique=(("code", "at"),)),
            "no unique key",
        ),
        (
            _with_id("oid", ("code", "at"), ("string", "datetime")),
            _items(unique=(("code", "at"),), nullable=False),
            None,
        ),
        (SimpleNamespace(table="items", document=SimpleNamespace(fields=())), _items(), "not set"),
    ],
)
def test_a_cluster_runs_only_ids_that_the_source_keys_prove_unique(collection, table, why):
    found = unproven_id(collection, table)
    assert found is None if why is None else why in found


# --- same results as one process ---------------------------------------------------------


def _items_database(server: str, code: str, code_of: Callable[[int], str | None]) -> Iterator[str]:
    """A database of 120 `items`, their `code` column declared `code` and valued `code_of(id)`."""
    from conftest import fresh_postgres_database

    with fresh_postgres_database(server) as url:
        engine = sa.create_engine(sqlalchemy_url(url))
        with engine.begin() as connection:
            connection.exec_driver_sql(
                f"CREATE TABLE items (id int PRIMARY KEY, code {code}, label text)"
            )
            connection.execute(
                sa.text("INSERT INTO items VALUES (:id, :code, :label)"),
                [{"id": i, "code": code_of(i), "label": f"item {i}"} for i in range(1, 121)],
            )
        engine.dispose()
        yield url


@pytest.fixture
def items_pg(postgres_server):
    """120 rows of which every seventh has no `_id` (rejected), for ranges of 10 rows; the
    `_id` column unique, so the cluster may run them."""
    yield from _items_database(
        postgres_server, "text UNIQUE", lambda i: None if i % 7 == 0 else f"c{i}"
    )


@pytest.fixture
def repeating_items_pg(postgres_server):
    """120 rows whose `_id` column repeats every 50 rows: across ranges of 10."""
    yield from _items_database(postgres_server, "text", lambda i: f"c{i % 50}")


@pytest.mark.integration
def test_rejects_and_summary_equal_a_one_process_run(items_pg, dask_cluster, tmp_path):
    mapping = tmp_path / "items.yaml"
    mapping.write_text(ITEMS_MAPPING, encoding="utf-8")
    shown: list[int] = []
    one = migrate(
        items_pg,
        f"file:{tmp_path / 'one'}",
        tmp_path,
        "one",
        mapping=mapping,
        batch_size=10,
        workers=1,
    )
    on_cluster = migrate(
        items_pg,
        f"file:{tmp_path / 'dask'}",
        tmp_path,
        "dask",
        mapping=mapping,
        batch_size=10,
        executor=dask_cluster,
        progress=lambda name, rows: shown.append(rows),
    )
    assert (tmp_path / "dask.rejects.jsonl").read_bytes() == (
        tmp_path / "one.rejects.jsonl"
    ).read_bytes()
    assert (tmp_path / "dask.rejects.jsonl").read_text().count("\n") == 17
    assert (tmp_path / "dask" / "items.jsonl").read_bytes() == (
        tmp_path / "one" / "items.jsonl"
    ).read_bytes()
    assert not (tmp_path / "dask" / "items.parts").exists()  # the parts joined and removed
    ignored = ("seconds", "rate", "worker_statements")
    assert [
        {k: v for k, v in c.counts().items() if k not in ignored} for c in on_cluster.collections
    ] == [{k: v for k, v in c.counts().items() if k not in ignored} for c in one.collections]
    assert on_cluster.balanced and on_cluster.collections[0].rejected == 17
    # each range's statements (the snapshot's import, the time zone, the rows), and the
    # workers' first connections' own
    assert one.collections[0].worker_statements == 0
    assert on_cluster.collections[0].worker_statements >= 3 * 12
    assert sorted(shown) == [10] * 12  # the leader's display saw every range


@pytest.mark.integration
def test_an_id_that_may_repeat_across_ranges_is_refused_before_anything_is_written(
    repeating_items_pg, dask_cluster, tmp_path
):
    mapping = tmp_path / "items.yaml"
    mapping.write_text(ITEMS_MAPPING, encoding="utf-8")
    rejects, out = tmp_path / "rejects.jsonl", tmp_path / "out"
    common = ("run", str(mapping), "--source", repeating_items_pg, "--target", f"file:{out}")
    refused = mapper_cli(*common, "--executor", dask_cluster, "--rejects", str(rejects), "-q")
    assert refused.returncode == 2, refused.stderr
    assert "`items`" in refused.stderr and "`items.code`" in refused.stderr
    assert "without --executor" in refused.stderr
    assert not out.exists() and not rejects.exists()
    one = mapper_cli(*common, "--rejects", str(rejects), "--batch-size", "10", "-q")
    assert one.returncode in (0, 1), one.stderr  # in one process the repeats are rejected
    assert rejects.read_text().count("duplicate `_id`") == 70


# --- faults ------------------------------------------------------------------------------


class KillOnce(WorkerPlugin):
    """A worker that writes range 3 then dies (once: the marker file says it did)."""

    name = "kill-once"

    def __init__(self, marker: str):
        self.marker = marker

    def setup(self, worker) -> None:
        from mapper.engine.load import mongodb

        self.original = original = mongodb.MongoSink.write_range
        marker = self.marker

        def write_then_die(sink, collection, part, batch):
            written = original(sink, collection, part, batch)
            if part == 3 and not os.path.exists(marker):
                Path(marker).touch()
                os._exit(1)
            return written

        mongodb.MongoSink.write_range = write_then_die

    def teardown(self, worker) -> None:
        from mapper.engine.load import mongodb

        mongodb.MongoSink.write_range = self.original


@pytest.mark.integration
def test_a_worker_killed_mid_task_is_retried_with_exact_accounting(
    demo_pg, dask_cluster, mongo_url, mongo_db, tmp_path
):
    marker = tmp_path / "killed"
    with Client(cluster.cluster_of(dask_cluster)) as client:
        client.register_plugin(KillOnce(str(marker)))
        try:
            summary = migrate(
                demo_pg, mongo_url, tmp_path, "run", batch_size=50, executor=dask_cluster
            )
        finally:
            client.unregister_worker_plugin(KillOnce.name)
    assert marker.exists(), "no worker was killed"
    tasks = summary.collections[0]
    assert summary.balanced and tasks.read == tasks.passed == 1000 and tasks.rejected == 0
    # range 3's documents were written before its worker died (and those of ranges whose
    # results it held): written again, they count unchanged, each document once
    assert tasks.updated == 0 and tasks.inserted + tasks.unchanged == 1000
    assert tasks.unchanged >= 50 and tasks.unchanged % 50 == 0
    assert mongo_db.tasks.count_documents({}) == 1000


def run_command(source: str, target: str, tmp_path: Path) -> list[str]:
    """`mapper run` of the tasks in ranges of 25 keys (40 in all), checkpointed in tmp_path."""
    return [
        "run",
        str(TASKS),
        "--source",
        source,
        "--target",
        target,
        "--batch-size",
        "25",
        "--state",
        str(tmp_path / "state.json"),
        "--rejects",
        str(tmp_path / "rejects.jsonl"),
        "--decimal-as",
        "string",
    ]


def ranges_done(state: Path) -> int:
    """The ranges a checkpoint of a cluster run has done (0 before its first)."""
    try:
        saved = json.loads(state.read_text())["collections"]["tasks"]
    except (OSError, ValueError, KeyError):
        return 0
    return saved["batches"] if saved.get("spans") else 0


@pytest.mark.integration
def test_a_killed_leader_resumes_with_only_the_missing_ranges(
    demo_pg, dask_cluster, mongo_url, mongo_db, tmp_path
):
    state = tmp_path / "state.json"
    common = run_command(demo_pg, mongo_url, tmp_path)
    leader = subprocess.Popen(
        [sys.executable, "-m", "mapper", *common, "--executor", "dask-local:2"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _wait_for(lambda: ranges_done(state) >= 3 or leader.poll() is not None, 120)
        assert leader.poll() is None, "the run ended before it could be killed"
        workers = _children(leader.pid)
    finally:
        leader.send_signal(signal.SIGKILL)
        leader.wait(timeout=30)
    done_before = ranges_done(state)
    assert 3 <= done_before < 40
    assert _wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), 30)

    resumed = mapper_cli(*common, "--executor", dask_cluster, "--resume", "-v", "--format", "json")
    assert resumed.returncode == 0, resumed.stderr
    ran = int(resumed.stderr.split("`tasks`: ")[1].split(" range tasks ran")[0])
    assert ran == 40 - done_before  # ranges of 25 keys: 40 in all
    result = json.loads(resumed.stdout)["collections"][0]
    assert result["read"] == result["written"] == 1000 and result["rejected"] == 0
    assert mongo_db.tasks.count_documents({}) == 1000
    assert not state.exists()


@pytest.mark.integration
def test_ctrl_c_stops_a_local_cluster_run_after_the_ranges_in_flight(demo_pg, mongo_url, tmp_path):
    """The terminal sends SIGINT to the whole process group: the workers ignore it, the
    leader stops after the ranges in flight, its checkpoint kept for --resume."""
    state = tmp_path / "state.json"
    leader = subprocess.Popen(
        [sys.executable, "-m", "mapper", *run_command(demo_pg, mongo_url, tmp_path)]
        + ["--executor", "dask-local:2"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert _wait_for(lambda: ranges_done(state) >= 2 or leader.poll() is not None, 120)
        os.killpg(leader.pid, signal.SIGINT)
        out, err = leader.communicate(timeout=120)
    finally:
        if leader.poll() is None:
            os.killpg(leader.pid, signal.SIGKILL)
    assert leader.returncode == EXIT_INTERRUPTED, err[-2000:]
    assert "interrupted after a complete range: resume with --resume" in out
    assert 2 <= ranges_done(state) < 40


@pytest.mark.integration
def test_workers_that_cannot_reach_the_source_fail_the_run_clearly(demo_pg, dask_cluster, tmp_path):
    """The leader reaches the source (its pooled connection, through a proxy that then stops
    accepting), the workers do not; the password reaches no message and no worker's log."""
    url = sa.make_url(sqlalchemy_url(demo_pg))
    proxy = Proxy((url.host, url.port))
    proxied = url.set(host="127.0.0.1", port=proxy.port, password="s3cret-pw")
    try:
        with api.prepare([TASKS], proxied.render_as_string(hide_password=False)) as prepared:
            proxy.refuse_new()  # the prepared engine keeps its connection; no new ones
            started = time.monotonic()
            with pytest.raises(SourceError) as raised:
                api.migrate(
                    prepared,
                    f"file:{tmp_path / 'out'}",
                    api.MigrateOptions(executor=dask_cluster, rejects=tmp_path / "r.jsonl"),
                )
    finally:
        proxy.close()
    message = str(raised.value)
    assert "on a Dask worker" in message and "cannot read the source" in message
    assert f"127.0.0.1:{proxy.port}" in message and "s3cret-pw" not in message
    assert time.monotonic() - started < 60
    with Client(cluster.cluster_of(dask_cluster)) as client:
        logs = json.dumps(client.get_worker_logs()) + json.dumps(client.get_scheduler_logs())
    assert "s3cret-pw" not in logs
    assert not (tmp_path / "out" / "tasks.jsonl").exists()


@pytest.mark.integration
def test_a_worker_that_cannot_reach_the_target_says_so(demo_pg):
    """What a worker's first task raises (run here, in this process, as a worker would)."""
    from mapper.compile import Compiler
    from mapper.engine.extract import Extractor, snapshot
    from mapper.errors import TargetError

    with api.prepare([TASKS], demo_pg) as prepared, snapshot(prepared.engine) as connection:
        snapshot_id = Extractor(connection, Compiler(prepared.catalog)).export_snapshot()
        job = cluster._Job(
            prepared.plan.collections[0],
            prepared.catalog,
            cluster.Secret(prepared.engine.url),
            cluster.Secret("mongodb://u:pw-secret@127.0.0.1:1/x?serverSelectionTimeoutMS=300"),
            snapshot_id,
        )
        try:
            with pytest.raises(TargetError) as raised:
                cluster._reach(job)
        finally:
            cluster._dispose()
    message = str(raised.value)
    assert message.startswith("cannot write the target mongodb://u:***@127.0.0.1:1/x")
    assert "from this worker" in message and "pw-secret" not in message


@pytest.mark.integration
def test_a_scheduler_that_cannot_be_reached_is_a_usage_error(demo_pg, tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_SECONDS", 1.0)  # the product's wait, not the test's
    result = mapper_cli(
        "run",
        str(TASKS),
        "--source",
        demo_pg,
        "--target",
        f"file:{tmp_path / 'out'}",
        "--executor",
        "dask://127.0.0.1:9",
    )
    assert result.returncode == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.stderr


@pytest.mark.integration
def test_a_one_machine_checkpoint_is_not_resumed_on_a_cluster(
    small_demo_pg, dask_cluster, mongo_url, tmp_path
):
    def stop_at_once(name: str, rows: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        migrate(small_demo_pg, mongo_url, tmp_path, "run", batch_size=50, progress=stop_at_once)
    with pytest.raises(UsageError, match="made with --executor local, not dask"):
        migrate(small_demo_pg, mongo_url, tmp_path, "run", executor=dask_cluster, resume=True)
