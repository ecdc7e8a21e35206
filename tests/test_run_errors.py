"""Rejected rows, error policies, array limits and secrets, end to end through the CLI."""

from __future__ import annotations

import json
import textwrap
import tracemalloc
from pathlib import Path

import pytest
import sqlalchemy as sa
from bson import ObjectId
from conftest import Finished, both_targets, mapper_cli, sqlite_database
from test_views import SQLITE_SCHEMA as POSTS_SCHEMA

from mapper import api
from mapper.engine import duplicates
from mapper.engine.duplicates import SeenIds, unproven_id
from mapper.engine.executor import InProcess
from mapper.engine.load import Encoded, open_sink
from mapper.engine.rejects import RejectFile
from mapper.engine.run import RunOptions, run
from mapper.engine.state import Checkpoints, fingerprint
from mapper.errors import SourceError

ROOT = Path(__file__).resolve().parent.parent
ROW_CANARY = "CANARY-ROW-VALUE-7f3a"
PASSWORD_CANARY = "canary-pass-91bd"


@pytest.fixture
def source(tmp_path: Path) -> str:
    """Parents 1..6 with children; parents 2 and 5 hold JSON that BSON cannot take."""
    url = f"sqlite:///{tmp_path / 'source.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE parents (id INTEGER PRIMARY KEY, name TEXT, meta JSON)"
        )
        connection.exec_driver_sql(
            "CREATE TABLE kids (id INTEGER PRIMARY KEY, "
            "parent_id INTEGER REFERENCES parents(id), pos INTEGER)"
        )
        for key in range(1, 7):
            meta = {"bad.key": ROW_CANARY} if key in (2, 5) else {"ok": ROW_CANARY}
            connection.execute(
                sa.text("INSERT INTO parents VALUES (:id, :name, :meta)"),
                {"id": key, "name": ROW_CANARY, "meta": json.dumps(meta)},
            )
        for kid in range(1, 13):
            connection.execute(
                sa.text("INSERT INTO kids VALUES (:id, :parent, :pos)"),
                {"id": kid, "parent": 1 if kid <= 4 else 3, "pos": kid},
            )
    engine.dispose()
    return url


def write_mapping(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "parents.yaml"
    path.write_text(
        "version: 1\ncollections:\n  parents:\n    table: parents\n"
        + textwrap.indent(textwrap.dedent(extra), "    ")
    )
    return path


def mapper(*args: str, cwd: Path) -> Finished:
    return mapper_cli(*args, cwd=cwd)


def read_rejects(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_bad_rows_are_rejected_with_their_keys_and_the_rest_loads(source, tmp_path) -> None:
    mapping = write_mapping(tmp_path)
    result = mapper("run", str(mapping), "--source", source, "--target", "file:out", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    rejects = read_rejects(tmp_path / "mapper-rejects.jsonl")
    assert sorted(r["key"] for r in rejects) == ["2", "5"]
    assert {r["stage"] for r in rejects} == {"convert"}
    assert all("parents.meta" in r["reason"] for r in rejects)
    assert len((tmp_path / "out" / "parents.jsonl").read_text().splitlines()) == 4
    assert "every row accounted for" in result.stdout
    for text in (result.stdout, result.stderr, (tmp_path / "mapper-rejects.jsonl").read_text()):
        assert ROW_CANARY not in text


class DiesOnBatch:
    """The null sink, until the process "dies" (raises) writing batch `fatal`: after that
    batch's rejects were listed, before its checkpoint."""

    def __init__(self, fatal: int):
        self.inner, self.fatal, self.batches = open_sink("null:"), fatal, 0

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def write(self, collection, batch):
        self.batches += 1
        if self.batches == self.fatal:
            raise SystemExit("killed")
        return self.inner.write(collection, batch)


def test_a_resumed_run_lists_each_rejected_row_once(source, tmp_path) -> None:
    prepared = api.prepare([write_mapping(tmp_path)], source)
    plan, engine, catalog = prepared.plan, prepared.engine, prepared.catalog
    rejects_path, state = tmp_path / "rejects.jsonl", tmp_path / "state.json"
    rejects_path.write_text('{"from": "an earlier run"}\n')  # a new run starts afresh
    batches = InProcess(batch_size=2)  # (1, 2) (3, 4) (5, 6); 2 and 5 are rejected

    with pytest.raises(SystemExit):  # dies writing (5, 6), after listing 5
        run(
            plan,
            engine,
            catalog,
            DiesOnBatch(3),
            RejectFile(rejects_path),
            RunOptions(),
            batches,
            checkpoints=Checkpoints(state, fingerprint(plan, "null:")),
        )
    assert [r.get("key") for r in read_rejects(rejects_path)] == ["2", "5"]

    checkpoints = Checkpoints(state, fingerprint(plan, "null:"))
    checkpoints.load()
    summary = run(
        plan,
        engine,
        catalog,
        open_sink("null:"),
        RejectFile(rejects_path),
        RunOptions(),
        batches,
        checkpoints=checkpoints,
    )
    assert [r.get("key") for r in read_rejects(rejects_path)] == ["2", "5"]
    assert summary.balanced and summary.collections[0].rejected == 2
    assert summary.collections[0].written == 4


def test_a_new_run_starts_the_reject_file_afresh(source, tmp_path) -> None:
    mapping = write_mapping(tmp_path)
    for _ in range(2):  # the second run's file lists its own rejects, as its summary counts
        result = mapper(
            "run", str(mapping), "--source", source, "--target", "file:out", cwd=tmp_path
        )
        assert result.returncode == 1 and "2 rejected rows" in result.stdout
        assert sorted(r["key"] for r in read_rejects(tmp_path / "mapper-rejects.jsonl")) == [
            "2",
            "5",
        ]


def test_rewinding_to_a_checkpoint_leaves_another_reject_file_alone(tmp_path) -> None:
    listed = RejectFile(tmp_path / "rejects.jsonl")
    listed.add("parents", (1,), "convert", "bad")
    mark = listed.mark()
    listed.add("parents", (2,), "convert", "bad")
    listed.close()
    other = tmp_path / "elsewhere.jsonl"
    other.write_text('{"kept": true}\n' * 40)
    RejectFile(other).rewind(mark)  # a resume pointed at another file
    assert other.read_text() == '{"kept": true}\n' * 40
    RejectFile(listed.path).rewind(mark)
    assert [r["key"] for r in read_rejects(listed.path)] == ["1"]


def test_on_error_stop_stops_and_says_so(source, tmp_path) -> None:
    mapping = write_mapping(tmp_path)
    result = mapper(
        "run",
        str(mapping),
        "--source",
        source,
        "--target",
        "file:out",
        "--on-error",
        "stop",
        "--batch-size",
        "1",
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "stopped after a rejected row" in result.stdout
    assert len(read_rejects(tmp_path / "mapper-rejects.jsonl")) == 1
    [row] = [line.split() for line in result.stdout.splitlines()[2:3]]  # the table's row
    assert (row[1], row[2], row[7]) == ("2", "1", "1")  # read so far, written, rejected


def test_max_errors_aborts_past_the_limit(source, tmp_path) -> None:
    mapping = write_mapping(tmp_path)
    result = mapper(
        "run",
        str(mapping),
        "--source",
        source,
        "--target",
        "null:",
        "--max-errors",
        "1",
        "--batch-size",
        "1",
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "more than --max-errors 1" in result.stdout


@pytest.mark.parametrize(("overflow", "code", "documents"), [("reject", 1, 5), ("truncate", 0, 6)])
def test_array_limit_is_never_a_silent_truncation(
    source, tmp_path, overflow, code, documents
) -> None:
    mapping = write_mapping(
        tmp_path,
        f"""
        exclude: [meta]
        fields:
          kids: {{embed: kids, order_by: [pos], limit: 5, overflow: {overflow}}}
        """,
    )
    result = mapper("run", str(mapping), "--source", source, "--target", "file:out", cwd=tmp_path)
    assert result.returncode == code, result.stdout + result.stderr
    lines = (tmp_path / "out" / "parents.jsonl").read_text().splitlines()
    assert len(lines) == documents
    if overflow == "truncate":
        assert "arrays of `parents` truncated" in result.stdout
        assert max(len(json.loads(line)["kids"]) for line in lines) == 5
    else:
        assert (
            sum(r["stage"] == "overflow" for r in read_rejects(tmp_path / "mapper-rejects.jsonl"))
            == 1
        )


def test_bad_mapping_writes_nothing(source, tmp_path) -> None:
    mapping = write_mapping(tmp_path, "columns: [nmae]\n")
    result = mapper("run", str(mapping), "--source", source, "--target", "file:out", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown column `nmae`" in result.stdout
    assert not (tmp_path / "out").exists()


def test_passwords_never_printed(postgres_server: str, tmp_path) -> None:
    url = sa.make_url(postgres_server).set(password=PASSWORD_CANARY)
    source = url.render_as_string(hide_password=False)
    mapping = write_mapping(tmp_path)
    target = f"mongodb://admin:{PASSWORD_CANARY}@127.0.0.1:1/db?serverSelectionTimeoutMS=300"
    for args in (
        ("run", str(mapping), "--source", source, "--target", target),
        (
            "run",
            str(mapping),
            "--source",
            source.replace("127.0.0.1", "127.0.0.2").replace(str(url.port), "1"),
        ),
    ):
        result = mapper(*args, cwd=tmp_path)
        assert result.returncode in (2, 3), result.stdout + result.stderr
        assert PASSWORD_CANARY not in result.stdout + result.stderr


@both_targets
def test_duplicate_ids_are_rejected_not_overwritten(tmp_path, mongo_url, mongo_db) -> None:
    """Two rows mapping to one `_id` (a non-unique `_id: {column}`): the second is rejected
    with its key, in the same batch or in a later one."""
    url = f"sqlite:///{tmp_path / 'dups.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT)")
        connection.exec_driver_sql(
            "INSERT INTO people VALUES (1, 'a@x'), (2, 'b@x'), (3, 'a@x'), (4, 'c@x'), (5, 'b@x')"
        )
    engine.dispose()
    path = tmp_path / "people.yaml"
    path.write_text(
        "version: 1\ncollections:\n  people:\n    table: people\n"
        "    _id: {column: email}\n    columns: [id]\n"
    )
    for batch_size in ("1", "100"):
        mongo_db.people.drop()
        (tmp_path / "mapper-rejects.jsonl").unlink(missing_ok=True)
        result = mapper(
            "run",
            str(path),
            "--source",
            url,
            "--target",
            mongo_url,
            "--batch-size",
            batch_size,
            cwd=tmp_path,
        )
        assert result.returncode == 1, result.stdout + result.stderr
        rejects = read_rejects(tmp_path / "mapper-rejects.jsonl")
        assert sorted(r["key"] for r in rejects) == ["3", "5"], batch_size
        assert mongo_db.people.count_documents({}) == 3
        assert {d["id"] for d in mongo_db.people.find()} == {1, 2, 4}


def _ids_kept(proven: bool, documents: int) -> int:
    """The bytes that `SeenIds` allocated and still holds after `documents` documents in
    batches of 500 (traced allocations made in its module: a count, not a timing, and none of
    another thread's)."""
    seen = SeenIds(proven=proven)
    tracemalloc.start()
    try:
        for batch in range(documents // 500):
            seen.new([Encoded((f"key-{batch}-{n}",), ObjectId(), b"") for n in range(500)])
        held = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(True, duplicates.__file__)]
        )
        return sum(statistic.size for statistic in held.statistics("filename"))
    finally:
        tracemalloc.stop()


def test_a_proven_id_keeps_nothing_of_the_ids_written(small_demo_sqlite) -> None:
    """An `_id` the source's keys prove unique cannot repeat: the run keeps none of the `_id`s
    it wrote (about 230 bytes a document, 2.3 GB for ten million rows), where an unproven one
    is remembered to reject the repeats (above). The shipped mappings' `_id`s are proven."""
    assert _ids_kept(proven=False, documents=10_000) > 200_000
    assert _ids_kept(proven=True, documents=10_000) < 1_000  # at most an object left on a free list
    with api.prepare([ROOT / "mappings"], small_demo_sqlite) as prepared:
        for collection in prepared.plan.collections:
            table = prepared.catalog.table(collection.table)
            assert unproven_id(collection, table) is None, collection.name


@pytest.mark.parametrize("option", ["--rejects", "--state"])
def test_unwritable_reject_or_checkpoint_file_stops_before_any_row(
    source, tmp_path, option, mongo_url, mongo_db
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = mapper(
        "run",
        str(write_mapping(tmp_path)),
        "--source",
        source,
        "--target",
        mongo_url,
        option,
        str(blocker / "file.json"),
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot write the" in result.stderr and "Traceback" not in result.stderr
    assert mongo_db.list_collection_names() == []


# the posts of `test_views`, with a view that fails on the comments after the first
FAILING_VIEW = (
    POSTS_SCHEMA
    + """CREATE VIEW checked_comments AS SELECT id, post_id,
    CASE WHEN id > 1 THEN json_extract(body, '$') ELSE body END AS body FROM comments;"""
)
EMBEDDED_VIEW = """
version: 1
collections:
  posts:
    table: posts
    fields:
      comments: {embed: checked_comments, on: {id: post_id}, key: [id], _id: false}
"""


def test_a_row_the_source_fails_to_give_midway_is_a_source_error(tmp_path: Path) -> None:
    """SQLite computes a view's rows as they are fetched: the second child row's error comes
    after the statement began, and must still name what was being read (the engine takes
    the driver's rows itself where no type converts them)."""
    source = sqlite_database(tmp_path / "posts.db", FAILING_VIEW)
    mapping = tmp_path / "posts.yaml"
    mapping.write_text(EMBEDDED_VIEW)
    with api.prepare([mapping], source) as prepared, pytest.raises(SourceError) as raised:
        api.migrate(prepared, "null:", api.MigrateOptions(rejects=tmp_path / "r.jsonl"))
    assert str(raised.value).startswith(
        "reading `checked_comments` for `comments` failed: malformed JSON"
    )
