"""Bad source data never stops the run: each value that Python cannot hold, or that a driver
cannot read, rejects its row naming table, column and key (never the value), and the other
rows are written; `out_of_range: clamp` writes the nearest representable date instead."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from bson import json_util
from conftest import Finished, mapper_cli, postgres_database, sqlite_database

from mapper import api
from mapper import plan as p
from mapper.compile import Compiler
from mapper.engine.extract import Extractor, snapshot

SCHEMA = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'Zen', 'calm');
CREATE TABLE events (id integer PRIMARY KEY, at timestamp, at_tz timestamptz, day date,
                     clock time, span interval, days date[]);
INSERT INTO events (id) VALUES (1), (20);
INSERT INTO events (id, at) VALUES (2, 'infinity'), (3, '10000-01-01 00:00');
INSERT INTO events (id, at_tz) VALUES (4, '-infinity'), (5, '0001-01-01 00:00+00 BC');
INSERT INTO events (id, day) VALUES (6, '0044-03-15 BC'), (7, '10000-01-01'), (8, 'infinity');
INSERT INTO events (id, clock) VALUES (9, '24:00:00');
INSERT INTO events (id, span) VALUES (10, '100000000 years'), (11, '-2147483647 days');
INSERT INTO events (id, days) VALUES (12, '{2020-01-01,infinity}');
INSERT INTO events (id, at, day, span) VALUES (13, '2024-02-29 12:00', '2024-02-29', '1 day');
CREATE TABLE moods (feeling mood PRIMARY KEY, note text);
INSERT INTO moods VALUES ('sad', 's'), ('ok', 'o'), ('happy', 'h'), ('Zen', 'z'), ('calm', 'c');
CREATE TABLE notes (id integer PRIMARY KEY, feeling mood REFERENCES moods, body text);
INSERT INTO notes VALUES (1, 'happy', 'one'), (2, 'happy', 'two'), (3, 'Zen', 'three');
CREATE TABLE days (day date PRIMARY KEY, n integer);
INSERT INTO days VALUES ('infinity', 1), ('2020-01-01', 2), ('-infinity', 3), ('10000-01-01', 4);
CREATE TABLE visits (id integer PRIMARY KEY, day date REFERENCES days, who text);
INSERT INTO visits VALUES (1, 'infinity', 'a'), (2, '2020-01-01', 'b'), (3, 'infinity', 'c'),
    (4, '10000-01-01', 'd');
CREATE TABLE loose (code text, note text);
INSERT INTO loose VALUES ('a', 'x'), (NULL, 'y'), ('b', 'z');
"""
# the source text of every bad value: none may appear in a reject's reason
BAD_TEXTS = ("10000", "0044", "0001-01-01", "24:00", "100000000", "2147483647", " BC")
BAD_COLUMNS = {
    "2": "events.at",
    "3": "events.at",
    "4": "events.at_tz",
    "5": "events.at_tz",
    "6": "events.day",
    "7": "events.day",
    "8": "events.day",
    "9": "events.clock",
    "10": "events.span",
    "11": "events.span",
    "12": "events.days",
}


@pytest.fixture(scope="module")
def source(postgres_server: str) -> str:
    with postgres_database(postgres_server, SCHEMA) as url:
        yield url


def mapper(*args: str, cwd: Path) -> Finished:
    return mapper_cli(*args, cwd=cwd)


def write(folder: Path, name: str, text: str) -> str:
    (folder / name).write_text("version: 1\ncollections:\n" + text)
    return str(folder / name)


def documents(path: Path) -> dict:
    options = json_util.JSONOptions(tz_aware=True, tzinfo=dt.UTC)
    lines = path.read_text().splitlines()
    return {d["_id"]: d for d in (json_util.loads(line, json_options=options) for line in lines)}


def test_every_bad_value_rejects_its_row_and_the_run_goes_on(source: str, tmp_path) -> None:
    events = write(tmp_path, "events.yaml", "  events:\n    table: events\n    _id: key\n")
    loose = write(tmp_path, "loose.yaml", "  loose:\n    table: loose\n    _id: {column: code}\n")
    result = mapper(
        "run",
        events,
        loose,
        "--source",
        source,
        "--target",
        "file:out",
        "--on-error",
        "skip",
        "--batch-size",
        "3",
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    rejects = [
        json.loads(line) for line in (tmp_path / "mapper-rejects.jsonl").read_text().splitlines()
    ]
    by_key = {r["key"]: r for r in rejects if r["collection"] == "events"}
    assert set(by_key) == set(BAD_COLUMNS)
    for key, column in BAD_COLUMNS.items():
        assert f"`{column}`" in by_key[key]["reason"], by_key[key]
        assert by_key[key]["stage"] == "convert"
    text = (tmp_path / "mapper-rejects.jsonl").read_text()
    assert not [bad for bad in BAD_TEXTS if bad in text]
    assert [(r["collection"], r["stage"]) for r in rejects if r["collection"] == "loose"] == [
        ("loose", "build")
    ]
    assert sorted(documents(tmp_path / "out" / "events.jsonl")) == [1, 13, 20]
    good = documents(tmp_path / "out" / "events.jsonl")[13]
    assert good["at"] == dt.datetime(2024, 2, 29, 12, tzinfo=dt.UTC)
    assert good["day"] == dt.datetime(2024, 2, 29, tzinfo=dt.UTC)
    assert sorted(d["code"] for d in documents(tmp_path / "out" / "loose.jsonl").values()) == [
        "a",
        "b",
    ]


def test_clamp_writes_the_nearest_date_instead(source: str, tmp_path) -> None:
    events = write(
        tmp_path,
        "events.yaml",
        "  events:\n    table: events\n    _id: key\n    out_of_range: clamp\n",
    )
    result = mapper("run", events, "--source", source, "--target", "file:out", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr  # intervals never clamp
    rejects = [
        json.loads(line) for line in (tmp_path / "mapper-rejects.jsonl").read_text().splitlines()
    ]
    assert sorted(r["key"] for r in rejects) == ["10", "11"]
    written = documents(tmp_path / "out" / "events.jsonl")
    latest = dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=dt.UTC)
    earliest = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
    assert written[2]["at"] == written[3]["at"] == latest
    assert written[4]["at_tz"] == written[5]["at_tz"] == earliest
    assert written[6]["day"] == earliest
    assert written[7]["day"] == written[8]["day"] == dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
    assert written[9]["clock"] == "23:59:59.999999"
    assert written[12]["days"] == [
        dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, tzinfo=dt.UTC),
    ]


def test_a_root_table_without_a_primary_key_is_a_lint_error(source: str, tmp_path) -> None:
    loose = write(tmp_path, "loose.yaml", "  loose:\n    table: loose\n")
    for command in ("lint", "run"):
        result = (
            mapper(command, loose, "--source", source, "--target", "null:", cwd=tmp_path)
            if command == "run"
            else mapper(command, loose, "--source", source, cwd=tmp_path)
        )
        assert result.returncode == 2, result.stdout + result.stderr
        assert "table `loose` has no primary key" in result.stdout
        assert "Traceback" not in result.stderr
    keyed = write(tmp_path, "keyed.yaml", "  loose:\n    table: loose\n    _id: {column: code}\n")
    result = mapper("lint", keyed, "--source", source, cwd=tmp_path)
    assert "`loose.code` is nullable" in result.stdout, result.stdout


def test_an_enum_key_orders_and_links_as_text(source: str, tmp_path) -> None:
    """An enum primary key sorts by its labels' code points (as SQLite's text would), key
    ranges compare the same way, and children link to it."""
    moods = write(
        tmp_path,
        "moods.yaml",
        "  moods:\n    table: moods\n    _id: key\n"
        "    fields:\n      notes: {embed: notes, columns: [body], _id: false,"
        " order_by: [body]}\n",
    )
    result = mapper(
        "run", moods, "--source", source, "--target", "file:out", "--batch-size", "2", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = (tmp_path / "out" / "moods.jsonl").read_text().splitlines()
    written = [json.loads(line) for line in lines]
    assert [d["_id"] for d in written] == ["Zen", "calm", "happy", "ok", "sad"]
    assert [d["notes"] for d in written][:3] == [
        [{"body": "three"}],
        [],
        [{"body": "one"}, {"body": "two"}],
    ]
    with api.prepare([moods], source) as prepared:
        collection = prepared.plan.collections[0]
        with snapshot(prepared.engine) as connection:
            rows = Extractor(connection, Compiler(prepared.catalog)).rows(
                p.in_key_range(collection, ("calm",), ("ok",)), "moods"
            )
    assert [row[collection.source_key[0]] for row in rows] == ["happy", "ok"]


def test_sqlite_values_its_driver_cannot_read_reject_their_row(tmp_path) -> None:
    url = sqlite_database(
        tmp_path / "bad.db",
        """
        CREATE TABLE things (id INTEGER PRIMARY KEY, day DATE, at DATETIME, doc JSON,
                             amount NUMERIC(10, 2), flag BOOLEAN, name TEXT);
        INSERT INTO things VALUES (1, '2024-02-29', '2024-02-29 12:00:00', '{"a": 1}', 1.5, 1,
                                   'ok');
        INSERT INTO things (id, day) VALUES (2, '10000-01-01'), (3, 'not a date'), (4, 7);
        INSERT INTO things (id, at) VALUES (5, 'infinity'), (6, '2024-13-45 99:00:00');
        INSERT INTO things (id, doc) VALUES (7, '{"unclosed": ');
        INSERT INTO things (id, amount) VALUES (8, 'lots');
        INSERT INTO things (id, name) VALUES (10, CAST(x'61ff62' AS TEXT));
        INSERT INTO things VALUES (9, '2020-01-01', NULL, '[]', 2, 0, 'fine');
        CREATE TABLE labels (code TEXT PRIMARY KEY);
        INSERT INTO labels VALUES ('a'), (CAST(x'62ff' AS TEXT)), ('c');
    """,
    )
    things = write(
        tmp_path,
        "things.yaml",
        "  things:\n    table: things\n    _id: key\n  labels:\n    table: labels\n",
    )
    result = mapper("run", things, "--source", url, "--target", "file:out", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    rejects = {
        (r["collection"], r["key"]): r
        for r in (
            json.loads(line)
            for line in (tmp_path / "mapper-rejects.jsonl").read_text().splitlines()
        )
    }
    columns = {
        "2": "`things.day`",
        "3": "`things.day`",
        "4": "`things.day`",
        "5": "`things.at`",
        "6": "`things.at`",
        "7": "`things.doc`",
        "8": "`things.amount`",
        "10": "field `name`",
    }
    assert set(rejects) == {("things", key) for key in columns} | {("labels", "b\udcff")}
    for key, column in columns.items():
        assert column in rejects["things", key]["reason"], rejects["things", key]
    text = (tmp_path / "mapper-rejects.jsonl").read_text()
    assert not [
        bad for bad in ("10000", "not a date", "unclosed", "lots", "2024-13") if bad in text
    ]
    assert sorted(documents(tmp_path / "out" / "things.jsonl")) == [1, 9]
    assert len((tmp_path / "out" / "labels.jsonl").read_text().splitlines()) == 2


def test_keys_past_year_9999_link_children_and_bound_batches(source: str, tmp_path) -> None:
    """A date key that Python cannot hold is sent back to the source as its own text: its
    children are found and batches after it are read (batch size 1)."""
    days = write(
        tmp_path,
        "days.yaml",
        "  days:\n    table: days\n    out_of_range: clamp\n"
        "    fields:\n      visits: {embed: visits, columns: [who], _id: false}\n",
    )
    result = mapper(
        "run", days, "--source", source, "--target", "file:out", "--batch-size", "1", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    written = {d["n"]: d for d in documents(tmp_path / "out" / "days.jsonl").values()}
    assert {n: [v["who"] for v in d["visits"]] for n, d in written.items()} == {
        1: ["a", "c"],
        2: ["b"],
        3: [],
        4: ["d"],
    }
    assert written[1]["day"] == written[4]["day"] == dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
    assert len({d["_id"] for d in written.values()}) == 4  # ids from the keys' own text


def test_a_key_past_year_9999_is_checkpointed_as_its_text(tmp_path) -> None:
    from mapper.engine.state import Checkpoints
    from mapper.types import unrepresentable

    saved = Checkpoints(tmp_path / "state.json", "f")
    saved.save("days", {}, (unrepresentable("date", "10000-01-01"), 7), {})
    loaded = Checkpoints(tmp_path / "state.json", "f")
    loaded.load()
    assert loaded.last_key("days") == ("10000-01-01", 7)  # bound as that text on resume
