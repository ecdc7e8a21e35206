"""`mapper validate`: a clean run validates; every kind of tampering is caught and named.

One module-scoped run of the shipped mappings (demo at scale 1, PostgreSQL → the MongoDB-wire
server, decimals as strings for FerretDB); each tampering test changes one thing, validates,
and puts the document back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from browser import ink, screenshot
from bson import Decimal128, Int64, ObjectId
from conftest import SMALL_DEMO_TASKS

from mapper.cli import main
from mapper.validation.values import MISSING, at, canon, diff, type_ok

MAPPINGS = str(Path(__file__).parents[1] / "mappings")


# --- pure helpers (no servers) ------------------------------------------------------------


def test_canon_keeps_types_apart_and_ignores_sub_millisecond_digits():
    moment = dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
    assert canon(moment) == canon(moment.replace(microsecond=678000))
    assert canon("1") != canon(1) != canon(1.0)
    assert canon(True) != canon(1)
    assert canon(Int64(5)) == canon(5)
    assert canon(Decimal128("3.50")) != canon(Decimal128("3.5"))
    assert canon({"a": 1, "b": [1, 2]}) == canon({"b": [1, 2], "a": 1})


def test_diff_names_paths_inside_documents_and_arrays():
    expected = {"a": 1, "b": {"c": "x"}, "d": [1, 2, 3]}
    actual = {"a": 1, "b": {"c": "y"}, "d": [1, 2], "e": True}
    assert list(diff(expected, actual)) == [
        ("b.c", "x", "y"),
        ("d[2]", 3, MISSING),
        ("e", MISSING, True),
    ]


def test_at_walks_arrays():
    document = {"m": [{"u": 1}, {"u": 2}, {}], "x": {"y": 3}}
    assert list(at(document, ("m", "*", "u"))) == [("m[0].u", 1), ("m[1].u", 2)]
    assert list(at(document, ("x", "y"))) == [("x.y", 3)]


def test_type_promises():
    assert type_ok("int", 3) and not type_ok("int", Int64(3)) and not type_ok("int", True)
    assert type_ok("long", Int64(3)) and type_ok("long", 3)
    assert type_ok("string", "x") and not type_ok("string", 4)
    assert type_ok("decimal128", Decimal128("1.5")) and not type_ok("decimal128", 1.5)
    assert type_ok("datetime", dt.datetime.now(dt.UTC)) and type_ok("uuid", uuid.uuid4())
    assert not type_ok("double", "1.5")


# --- against real servers -----------------------------------------------------------------


TASKS = SMALL_DEMO_TASKS  # a smaller demo: the tampering tests validate it ~25 times


@pytest.fixture(scope="module")
def target(small_demo_pg, mongodb_server, mongo_client, tmp_path_factory):
    """(source URL, target URI, database) after one clean run of the shipped mappings."""
    name = f"mapper_validate_{uuid.uuid4().hex[:12]}"
    base = mongodb_server.split("?", 1)
    uri = base[0].rstrip("/") + "/" + name + (f"?{base[1]}" if len(base) > 1 else "")
    rejects = tmp_path_factory.mktemp("validate") / "rejects.jsonl"
    assert (
        main(
            [
                "run",
                MAPPINGS,
                "--source",
                small_demo_pg,
                "--target",
                uri,
                "--decimal-as",
                "string",
                "--rejects",
                str(rejects),
                "--state",
                str(rejects.with_name("s")),
            ]
        )
        == 0
    )
    yield small_demo_pg, uri, mongo_client[name]
    mongo_client.drop_database(name)


def validate(target, capsys, *extra: str) -> tuple[int, str]:
    source, uri, _ = target
    capsys.readouterr()
    code = main(
        [
            "validate",
            MAPPINGS,
            "--source",
            source,
            "--target",
            uri,
            "--decimal-as",
            "string",
            *extra,
        ]
    )
    return code, capsys.readouterr().out


def failures(target, capsys, *extra: str) -> tuple[int, dict]:
    """Exit code and the JSON report."""
    code, out = validate(target, capsys, "--format", "json", *extra)
    return code, json.loads(out)


def failed_checks(report: dict, collection: str) -> set[str]:
    result = next(c for c in report["collections"] if c["name"] == collection)
    return {name for name, tally in result["checks"].items() if tally["failed"]}


@contextlib.contextmanager
def tampered(database, collection: str, change, query: dict | None = None):
    """Change one document (`change(document)` mutates it), then put the original back."""
    original = database[collection].find_one(query or {}, sort=[("_id", 1)])
    document = {**original}
    change(document)
    database[collection].replace_one({"_id": original["_id"]}, document)
    try:
        yield original
    finally:
        database[collection].replace_one({"_id": original["_id"]}, original)


def test_clean_run_validates(target, capsys):
    code, out = validate(target, capsys)
    assert code == 0, out
    assert "OK: the target matches the source" in out
    for name in (
        "organizations",
        "projects",
        "tasks",
        "users",
        "counts",
        "arrays",
        "references",
        "denormalized",
        "types",
        "equality",
    ):
        assert name in out


def test_clean_run_validates_in_full(target, capsys):
    code, report = failures(target, capsys, "--full")
    assert code == 0, report["differences"][:5]
    tasks = next(c for c in report["collections"] if c["name"] == "tasks")
    assert tasks["checks"]["equality"]["checked"] == tasks["source_rows"] == TASKS
    assert tasks["checks"]["arrays"]["checked"] == 3 * TASKS


def test_deleted_document_is_missing(target, capsys):
    database = target[2]
    original = database.tasks.find_one(sort=[("_id", 1)])
    database.tasks.delete_one({"_id": original["_id"]})
    try:
        code, report = failures(target, capsys, "--only", "tasks")
    finally:
        database.tasks.insert_one(original)
    assert code == 1
    assert failed_checks(report, "tasks") == {"counts"}
    (item,) = report["differences"]
    assert item["id"] == str(original["_id"])
    assert "no document" in item["message"] and item["key"]


def test_missing_documents_leave_every_other_document_compared(target, capsys):
    """With k documents missing, exactly those k are reported and every other document is
    compared in full (the expected documents were once limited to the number present, so
    the last k source rows were reported as building none, and never compared)."""
    database = target[2]
    removed = list(database.tasks.find(sort=[("_id", 1)]).limit(3))
    database.tasks.delete_many({"_id": {"$in": [document["_id"] for document in removed]}})
    try:
        code, report = failures(target, capsys, "--only", "tasks", "--full")
    finally:
        database.tasks.insert_many(removed)
    assert code == 1
    assert failed_checks(report, "tasks") == {"counts"}
    assert sorted(d["id"] for d in report["differences"]) == sorted(
        str(document["_id"]) for document in removed
    )
    assert all("no document" in d["message"] for d in report["differences"])
    tasks = next(c for c in report["collections"] if c["name"] == "tasks")
    assert tasks["checks"]["equality"] == {"checked": TASKS - 3, "passed": TASKS - 3, "failed": 0}


def test_extra_document_is_reported(target, capsys):
    database = target[2]
    extra = ObjectId()
    database.users.insert_one({"_id": extra, "email": "ghost@example.com"})
    try:
        code, report = failures(target, capsys, "--only", "users")
    finally:
        database.users.delete_one({"_id": extra})
    assert code == 1
    assert "counts" in failed_checks(report, "users")
    assert any(
        d["check"] == "counts" and str(extra) in d["id"] and "no source row" in d["message"]
        for d in report["differences"]
    )


def test_changed_nested_field_fails_deep_equality(target, capsys):
    def change(document):
        document["labels"] = [dict(label) for label in document["labels"]]
        document["labels"][0]["color"] = "#000000"

    with tampered(target[2], "organizations", change, {"labels.0": {"$exists": True}}):
        code, report = failures(target, capsys, "--only", "organizations")
    assert code == 1
    assert failed_checks(report, "organizations") == {"equality"}
    (item,) = report["differences"]
    assert item["path"] == "labels[0].color" and item["actual"] == '"#000000"'


def test_dropped_array_element_is_caught(target, capsys):
    def change(document):
        document["comments"] = document["comments"][:-1]

    with tampered(target[2], "tasks", change, {"comments.1": {"$exists": True}}):
        code, report = failures(target, capsys, "--only", "tasks")
    assert code == 1
    assert {"arrays", "denormalized"} <= failed_checks(report, "tasks")
    assert any(d["check"] == "arrays" and d["path"] == "comments" for d in report["differences"])


def test_duplicated_array_element_is_caught(target, capsys):
    def change(document):
        document["labels"] = [*document["labels"], document["labels"][0]]

    with tampered(target[2], "tasks", change, {"labels.0": {"$exists": True}}):
        code, report = failures(target, capsys, "--only", "tasks")
    assert code == 1
    assert "arrays" in failed_checks(report, "tasks")
    item = next(d for d in report["differences"] if d["check"] == "arrays")
    assert item["path"] == "labels"
    assert int(item["actual"].split()[0]) == int(item["expected"].split()[0]) + 1


def test_broken_reference_in_an_array(target, capsys):
    def change(document):
        document["project_ids"] = [ObjectId(), *document["project_ids"][1:]]

    with tampered(target[2], "organizations", change, {"project_ids.0": {"$exists": True}}):
        code, report = failures(target, capsys, "--only", "organizations")
    assert code == 1
    assert "references" in failed_checks(report, "organizations")
    assert any(
        d["check"] == "references" and d["path"] == "project_ids[0]" for d in report["differences"]
    )


def test_broken_reference_field(target, capsys):
    def change(document):
        document["created_by"] = ObjectId()

    with tampered(target[2], "projects", change, {"created_by": {"$exists": True}}):
        code, report = failures(target, capsys, "--only", "projects")
    assert code == 1
    assert failed_checks(report, "projects") >= {"references"}
    assert {d["path"] for d in report["differences"] if d["check"] == "references"} == {
        "created_by"
    }


def test_changed_denormalized_copy(target, capsys):
    def change(document):
        document["project"] = {**document["project"], "name": "tampered name"}

    with tampered(target[2], "tasks", change):
        code, report = failures(target, capsys, "--only", "tasks")
    assert code == 1
    assert "denormalized" in failed_checks(report, "tasks")
    item = next(d for d in report["differences"] if d["check"] == "denormalized")
    assert item["path"] == "project.name" and item["actual"] == '"tampered name"'


def test_changed_count_of_an_array(target, capsys):
    """`comment_count` is the length of `comments` (no SQL aggregate): still checked against
    the source's rows, in every document."""

    def change(document):
        document["comment_count"] += 1

    with tampered(target[2], "tasks", change):
        code, report = failures(target, capsys, "--only", "tasks", "--sample", "0")
    assert code == 1
    assert failed_checks(report, "tasks") == {"denormalized"}
    item = next(d for d in report["differences"] if d["check"] == "denormalized")
    assert item["path"] == "comment_count"
    assert int(item["actual"]) == int(item["expected"]) + 1


def test_changed_copy_inside_array_elements(target, capsys):
    def change(document):
        document["members"] = [
            {**document["members"][0], "full_name": "Someone Else"},
            *document["members"][1:],
        ]

    with tampered(target[2], "organizations", change, {"members.0": {"$exists": True}}):
        code, report = failures(target, capsys, "--only", "organizations")
    assert code == 1
    assert "denormalized" in failed_checks(report, "organizations")
    item = next(d for d in report["differences"] if d["check"] == "denormalized")
    assert item["path"] == "members" and "Someone Else" in item["actual"]


@pytest.mark.parametrize(
    ("field", "value", "query"),
    [
        ("title", 42, {}),
        ("estimate_hours", 12.5, {"estimate_hours": {"$exists": True}}),
    ],
)
def test_changed_type(target, capsys, field, value, query):
    def change(document):
        document[field] = value

    with tampered(target[2], "tasks", change, query):
        code, report = failures(target, capsys, "--only", "tasks")
    assert code == 1
    assert "types" in failed_checks(report, "tasks")
    item = next(d for d in report["differences"] if d["check"] == "types")
    assert item["path"] == field and item["expected"] == "string"


FILTERED = """\
version: 1
collections:
  active_projects:
    table: projects
    filter: {status: active}
    _id: key
    columns: [name, status]
    fields:
      slug: {denormalize: organizations.slug}
      greeting: {template: "{{ name }}!"}
      open_tasks:
        embed: tasks
        filter: {status: {ne: done}}
        columns: [title]
        fields:
          hours: {column: estimate_hours, nulls: keep}
          author: {denormalize: users.full_name, on: {created_by: id}}
        order_by: [created_at, id]
        limit: 5
        overflow: truncate
"""


def test_filters_keys_and_truncated_arrays(demo_pg, mongo_url, mongo_db, tmp_path, capsys):
    mapping = tmp_path / "filtered.yaml"
    mapping.write_text(FILTERED, encoding="utf-8")
    common = [str(mapping), "--source", demo_pg, "--target", mongo_url, "--decimal-as", "string"]
    assert main(["run", *common, "--rejects", str(tmp_path / "rejects.jsonl")]) == 0
    capsys.readouterr()
    assert main(["validate", *common, "--full", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (result,) = report["collections"]
    assert result["source_rows"] == result["documents"] == 35  # archived projects filtered out
    assert result["checks"]["arrays"]["checked"] == 35

    full = mongo_db.active_projects.find_one(
        {"open_tasks.5": {"$exists": False}, "open_tasks.4": {"$exists": True}}
    )
    mongo_db.active_projects.update_one({"_id": full["_id"]}, {"$pop": {"open_tasks": 1}})
    assert main(["validate", *common, "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    item = next(d for d in report["differences"] if d["check"] == "arrays")
    assert (item["path"], item["expected"], item["actual"]) == (
        "open_tasks",
        "5 elements",
        "4 elements",
    )


NESTED = """\
version: 1
collections:
  orgs_nested:
    table: organizations
    columns: [name]
    fields:
      projects:
        embed: projects
        columns: [name]
        order_by: [created_at, id]
        fields:
          tasks: {embed: tasks, columns: [title], order_by: [created_at, id]}
"""


def test_arrays_inside_array_elements(demo_pg, mongo_url, mongo_db, tmp_path, capsys):
    mapping = tmp_path / "nested.yaml"
    mapping.write_text(NESTED, encoding="utf-8")
    common = [str(mapping), "--source", demo_pg, "--target", mongo_url]
    assert main(["run", *common, "--rejects", str(tmp_path / "rejects.jsonl")]) == 0
    capsys.readouterr()
    assert main(["validate", *common, "--sample", "0", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["collections"][0]["checks"]["arrays"]["checked"] == 20

    document = mongo_db.orgs_nested.find_one({"projects.0.tasks.0": {"$exists": True}})
    mongo_db.orgs_nested.update_one({"_id": document["_id"]}, {"$pop": {"projects.0.tasks": 1}})
    assert main(["validate", *common, "--sample", "0", "--format", "json"]) == 1
    (item,) = json.loads(capsys.readouterr().out)["differences"]
    assert (item["check"], item["path"]) == ("arrays", "projects[].tasks")


def test_the_same_rows_in_sqlite_validate_the_target(target, small_demo_sqlite, capsys):
    code, out = validate((small_demo_sqlite, *target[1:]), capsys, "--sample", "50")
    assert code == 0, out


def test_the_same_rows_in_mariadb_validate_the_target_in_full(target, small_demo_mysql, capsys):
    code, out = validate((small_demo_mysql, *target[1:]), capsys, "--full")
    assert code == 0, out

    def change(document):
        document["title"] += "!"

    with tampered(target[2], "tasks", change):
        code, report = failures(
            (small_demo_mysql, *target[1:]), capsys, "--only", "tasks", "--full"
        )
    assert code == 1 and failed_checks(report, "tasks"), report


def test_html_report_has_the_tables_and_escapes_values(target, capsys, tmp_path):
    def change(document):
        document["title"] = "<script>alert(1)</script>"

    output = tmp_path / "report.html"
    with tampered(target[2], "tasks", change):
        code, _ = validate(
            target, capsys, "--only", "tasks", "--full", "--format", "html", "--output", str(output)
        )
    assert code == 1
    page = output.read_text(encoding="utf-8")
    assert '<table id="summary">' in page and '<table id="differences">' in page
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "equality" in page and "title" in page
    picture = screenshot(output, tmp_path / "report.png")  # what a reader's browser shows
    assert 0.01 < ink(picture) < 0.9, "the report renders blank (or as one block of colour)"


@pytest.mark.parametrize("form", ["text", "json", "html"])
def test_no_values_shows_paths_and_types_only(target, capsys, tmp_path, form):
    canary = "canary-row-value-7f3e"

    def change(document):
        document["title"] = canary
        document["priority"] = 74321

    output = tmp_path / f"report.{form}"
    with tampered(target[2], "tasks", change) as original:
        code, _ = validate(
            target,
            capsys,
            "--only",
            "tasks",
            "--full",
            "--no-values",
            "--format",
            form,
            "--output",
            str(output),
        )
    assert code == 1
    page = output.read_text(encoding="utf-8")
    assert "title" in page and "priority" in page and "values hidden" in page
    for value in (canary, original["title"], "74321"):
        assert value not in page
    if form == "json":
        items = {d["path"]: d for d in json.loads(page)["differences"]}
        assert (items["title"]["expected"], items["title"]["actual"]) == ("string", "string")
        assert (items["priority"]["expected"], items["priority"]["actual"]) == ("int", "int")


def test_no_password_in_any_output(target, capsys, tmp_path):
    source, uri, _ = target
    secret = "canary-secret"
    with_password = sa.make_url(source).set(password=secret).render_as_string(hide_password=False)
    assert secret in with_password
    for form in ("text", "json", "html"):
        capsys.readouterr()
        code = main(
            [
                "validate",
                MAPPINGS,
                "--source",
                with_password,
                "--target",
                uri,
                "--decimal-as",
                "string",
                "--sample",
                "5",
                "--only",
                "users",
                "--format",
                form,
            ]
        )
        captured = capsys.readouterr()
        assert code == 0, captured.err
        assert secret not in captured.out + captured.err
        assert "***" in captured.out


def test_bad_mapping_and_missing_target_exit_2(target, capsys, tmp_path, monkeypatch):
    source, uri, _ = target
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ncollections: {x: {tabel: nope}}\n", encoding="utf-8")
    assert main(["validate", str(bad), "--source", source, "--target", uri]) == 2
    monkeypatch.delenv("MAPPER_TARGET_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["validate", MAPPINGS, "--source", source]) == 2
    assert main(["validate", MAPPINGS, "--source", source, "--target", "file:out"]) == 2
    assert "no such directory out" in capsys.readouterr().err
    assert main(["validate", MAPPINGS, "--source", source, "--target", "null:"]) == 2


def test_unreachable_target_is_a_fault(target, capsys):
    source = target[0]
    with socket_free_port() as port:
        code = main(
            [
                "validate",
                MAPPINGS,
                "--source",
                source,
                "--target",
                f"mongodb://127.0.0.1:{port}/x?serverSelectionTimeoutMS=300",
            ]
        )
    assert code == 3
    assert "target failed" in capsys.readouterr().err


@contextlib.contextmanager
def socket_free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield port


def test_library_api_reports_the_same(target):
    from mapper import api

    source, uri, _ = target
    with api.prepare([MAPPINGS], source, api.DocumentOptions(decimal_as="string")) as prepared:
        report = api.validate(prepared, uri, api.ValidateOptions(sample=3, seed=1))
    render = api.render
    assert report.ok and [c.name for c in report.collections] == [
        "organizations",
        "projects",
        "tasks",
        "users",
    ]
    assert all(c.checks["equality"].checked == 3 for c in report.collections)
    assert "matches" in render(report, "text")
    with pytest.raises(ValueError):
        render(report, "xml")


def test_a_composite_key_collection_of_many_rows_validates_in_sqlite(tmp_path):
    """More than a thousand composite keys in one batch: SQLite refuses an OR of them as one
    expression (its tree would be deeper than 1000), so validate looks them up in parts."""
    from conftest import mapper_cli, sqlite_database

    rows = ",".join(f"({n // 10}, {n % 10}, 'r{n}')" for n in range(1500))
    url = sqlite_database(
        tmp_path / "s.db",
        "CREATE TABLE readings (station INTEGER NOT NULL, slot INTEGER NOT NULL, "
        f"value TEXT NOT NULL, PRIMARY KEY (station, slot)); INSERT INTO readings VALUES {rows};",
    )
    mapping = tmp_path / "readings.yaml"
    mapping.write_text("version: 1\ncollections:\n  readings:\n    table: readings\n")
    out = tmp_path / "out"
    common = ("--source", url, "--target", f"file:{out}")
    ran = mapper_cli("run", mapping, *common, "--rejects", tmp_path / "rejects.jsonl")
    assert ran.returncode == 0, ran.stderr
    checked = mapper_cli("validate", mapping, *common, "--full")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1,500" in checked.stdout


def test_a_target_collection_is_opened_once_whatever_names_its_database() -> None:
    """Asked for with the mapping's database (None: the URL's) or the URL's by name, one
    collection object: its duplicates and its index are kept once (no server needed)."""
    from mapper.validation.targets import Targets

    targets = Targets("mongodb://127.0.0.1:1/shop?serverSelectionTimeoutMS=100")
    try:
        first = targets.collection("orders", None)
        assert targets.collection("orders", None) is first
        assert targets.collection("orders", "shop") is first
        assert targets.collection("orders", "other") is not first
    finally:
        targets.close()
