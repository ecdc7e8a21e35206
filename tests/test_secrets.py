"""No password and no row content in any output: a canary password in every URL form and a
canary row value, driven through the CLI against the test bed's servers on every path (success,
authentication failure, unreachable host, permission denied, encode error, duplicate key,
a write the server refuses, validation failure, malformed URLs); stdout, stderr (logs at
`-vv`), reports, reject and checkpoint files are searched for both."""

from __future__ import annotations

import json
import subprocess
import textwrap
import uuid
from pathlib import Path
from urllib.parse import quote

import pymongo
import pytest
import sqlalchemy as sa
from conftest import Finished, is_ferretdb, mapper_cli

from mapper import api
from mapper.errors import PermissionDenied

PASSWORD = "Canary-Pw-5e1f"  # every form of the password below holds it
SECRET = f"{PASSWORD}/@:x"  # `/`, `@` and `:` need percent-encoding in a URL
ROW = "Row-Canary-77c2"
MAPPING = """\
version: 1
collections:
  clean:
    table: people
    columns: [name]
  people:
    table: people
    _id: {column: email}
    columns: [name, meta]
"""


def mapper(*args: str, cwd: Path) -> Finished:
    return mapper_cli("-vv", *args, cwd=cwd)


@pytest.fixture
def role(pg_url: str):
    """(URL with the canary password, percent-encoded; URL without it; its name; an engine
    of the database's owner) of a login role that
    may read `people`, in a database where row 2 holds a JSON key BSON refuses, row 3 nested
    arrays (FerretDB refuses them) and row 4 repeats row 1's email (its `_id` in `people`)."""
    name = f"canary_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(pg_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE people (id int PRIMARY KEY, name text, email text, meta jsonb)"
        )
        for key, meta in (
            (1, '{"ok": "%s"}'),
            (2, '{"bad.key": "%s"}'),
            (3, '{"arr": [["%s"]]}'),
            (4, '{"ok": "%s"}'),
            (5, '{"ok": "%s"}'),
        ):
            connection.execute(
                sa.text("INSERT INTO people VALUES (:id, :name, :email, :meta)"),
                {"id": key, "name": ROW, "email": f"{ROW}-{key % 3}@x", "meta": meta % ROW},
            )
        connection.exec_driver_sql(f"CREATE ROLE {name} LOGIN PASSWORD '{SECRET}'")
        connection.exec_driver_sql(f"GRANT SELECT ON people TO {name}")
    url = sa.make_url(pg_url).set(drivername="postgresql", username=name)
    base = url.render_as_string(hide_password=False)
    with_password = base.replace(f"{name}@", f"{name}:{quote(SECRET, safe='')}@", 1)
    try:
        yield with_password, base, name, engine
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP OWNED BY {name}")
            connection.exec_driver_sql(f"DROP ROLE {name}")
        engine.dispose()


def _with_query(url: str, query: str) -> str:
    return url + ("&" if "?" in url else "?") + query


def _leaks(result: subprocess.CompletedProcess, work: Path) -> list[str]:
    """Where a canary shows: the password anywhere; the row value in the output or in a file
    of mapper's own (the documents and validate's report show values by design)."""
    found = [
        name
        for name, text in (("stdout", result.stdout), ("stderr", result.stderr))
        if PASSWORD in text or ROW in text
    ]
    for path in (p for p in work.rglob("*") if p.is_file() and p.name != "map.yaml"):
        text = path.read_text(errors="replace")
        if PASSWORD in text or (
            ROW in text and path.parent.name != "out" and path.name != "report.html"
        ):
            found.append(path.name)
    return found


def test_no_canary_on_any_path(
    role, mongo_url: str, mongo_db, mongo_client: pymongo.MongoClient, tmp_path: Path
) -> None:
    source, bare, name, _ = role
    (tmp_path / "map.yaml").write_text(MAPPING)
    target_host = pymongo.uri_parser.parse_uri(mongo_url)["nodelist"][0]
    host = f"{target_host[0]}:{target_host[1]}"
    database = mongo_db.name
    ignored = mongo_url  # FerretDB has no authentication: the target's canary is elsewhere
    refused = f"mongodb://someone:{quote(SECRET, safe='')}@{host}/{database}?authSource=admin"
    unreachable = (
        f"mongodb://someone:{quote(SECRET, safe='')}@127.0.0.1:1/{database}"
        "?authSource=admin&serverSelectionTimeoutMS=100"
    )
    engine = sa.make_url(bare)
    no_role = source.replace(f"{name}:", "no_such_role:", 1)
    unreachable_source = source.replace(f"@{engine.host}:{engine.port}/", "@127.0.0.1:1/", 1)
    common = ("map.yaml", "--source")
    cases = [  # (arguments, exit codes)
        (("run", *common, source, "--target", ignored, "--only", "clean"), {0}),
        (
            (
                "run",
                *common,
                _with_query(bare, f"password={quote(SECRET, safe='')}"),
                "--target",
                "file:out",
                "--only",
                "clean",
            ),
            {0},
        ),
        (("validate", *common, source, "--target", ignored, "--only", "clean", "--full"), {0}),
        (("run", *common, source, "--target", refused), {2}),
        (("run", *common, no_role, "--target", ignored), {2, 3}),
        (("run", *common, unreachable_source, "--target", ignored), {3}),
        (("run", *common, source, "--target", unreachable, "--only", "clean"), {3}),
        (("run", *common, source, "--target", ignored, "--rejects", "rejects.jsonl"), {1}),
        (
            (
                "run",
                *common,
                source,
                "--target",
                ignored,
                "--on-error",
                "stop",
                "--batch-size",
                "1",
                "--state",
                "state.json",
                "--rejects",
                "stopped.jsonl",
            ),
            {1},
        ),
        (("run", *common, source, "--target", "file:out"), {1}),
        (
            (
                "run",
                *common,
                f"postgresql://{name}:{SECRET}@{engine.host}:{engine.port}/db",
                "--target",
                "null:",
            ),
            {2, 3},
        ),
        (("run", *common, source, "--target", f"mongodb://u:{SECRET}@{host}/{database}"), {2, 3}),
        (
            ("run", *common, source, "--target", f"mongodb://u:{PASSWORD}/x@{host}/{database}"),
            {2, 3},
        ),
        (("run", *common, source, "--target", _with_query(mongo_url, f"password={PASSWORD}")), {2}),
    ]
    for arguments, codes in cases:
        result = mapper(*arguments, cwd=tmp_path)
        assert result.returncode in codes, (arguments, result.stdout + result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        assert _leaks(result, tmp_path) == [], (arguments, result.stdout + result.stderr)
    rejects = {line["key"]: line for line in map(json.loads, (tmp_path / "rejects.jsonl").open())}
    assert rejects["2"]["stage"] == "convert" and "`people.meta`" in rejects["2"]["reason"]
    assert rejects["4"]["stage"] == "duplicate"
    if is_ferretdb(mongo_client):  # FerretDB refuses nested arrays, quoting them
        assert rejects["3"]["reason"] == "server error 2 at `meta.arr`", rejects
    assert (tmp_path / "state.json").exists()

    mongo_db.clean.update_one({}, {"$set": {"name": "changed"}})
    report = mapper(
        "validate",
        *common,
        source,
        "--target",
        ignored,
        "--only",
        "clean",
        "--full",
        "--format",
        "html",
        "--output",
        "report.html",
        cwd=tmp_path,
    )
    assert report.returncode == 1, report.stdout + report.stderr
    assert _leaks(report, tmp_path) == []


def test_permission_denied_names_the_table_and_the_grant(role, tmp_path: Path) -> None:
    source, _, name, owner = role
    with owner.begin() as connection:
        connection.exec_driver_sql(f"REVOKE SELECT ON people FROM {name}")
    (tmp_path / "map.yaml").write_text(MAPPING)
    result = mapper("run", "map.yaml", "--source", source, "--target", "file:out", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("mapper run:")]
    assert "`people`" in line and f"GRANT SELECT ON people TO {name}" in line, line
    assert "Traceback" not in result.stderr and _leaks(result, tmp_path) == []
    assert not (tmp_path / "out").exists()

    with pytest.raises(PermissionDenied) as denied:  # the error, as the API raises it
        api.prepare([tmp_path / "map.yaml"], source)
    assert (denied.value.table, denied.value.tables) == ("people", ("people",))
    assert denied.value.grant == f"GRANT SELECT ON people TO {name}"
    assert denied.value.exit_code == 2


def test_of_several_tables_only_the_unreadable_are_named(role, tmp_path: Path) -> None:
    """The tables are tried all at once first: a denial is then traced to its own tables."""
    source, _, name, owner = role
    with owner.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE pets (id int PRIMARY KEY, owner int)")
        connection.exec_driver_sql("CREATE TABLE toys (id int PRIMARY KEY, pet int)")
        connection.exec_driver_sql(f"GRANT SELECT ON pets, toys TO {name}")
    (tmp_path / "map.yaml").write_text(
        MAPPING + "  pets:\n    table: pets\n    columns: [owner]\n"
        "  toys:\n    table: toys\n    columns: [pet]\n"
    )
    with api.prepare([tmp_path / "map.yaml"], source):
        pass  # every table readable
    with owner.begin() as connection:
        connection.exec_driver_sql(f"REVOKE SELECT ON people, toys FROM {name}")
    with pytest.raises(PermissionDenied) as denied:
        api.prepare([tmp_path / "map.yaml"], source)
    assert denied.value.tables == ("people", "toys")
    assert denied.value.grant == f"GRANT SELECT ON people, toys TO {name}"


def test_a_rejected_write_keeps_the_code_and_the_path_not_the_values() -> None:
    from bson import encode

    from mapper.engine.server_errors import write_error

    document = encode({"_id": 1, "name": ROW, "meta": {"arr": [[ROW]]}})
    failure = {
        "index": 0,
        "code": 2,
        "errmsg": f'invalid value: {{ "arr": [ [ "{ROW}" ] ] }} (nested arrays are not supported)',
    }
    assert write_error(failure, document) == "server error 2 at `meta.arr`"
    duplicate = {
        "code": 11000,
        "errmsg": f'E11000 dup key: {{ email: "{ROW}" }}',
        "keyPattern": {"email": 1},
        "keyValue": {"email": ROW},
    }
    assert write_error(duplicate, document) == "server error 11000 at `email`"
    invalid = {
        "code": 121,
        "errmsg": "Document failed validation",
        "errInfo": {
            "details": {
                "schemaRulesNotSatisfied": [
                    {
                        "operatorName": "properties",
                        "propertiesNotSatisfied": [
                            {
                                "propertyName": "meta",
                                "details": [
                                    {
                                        "operatorName": "properties",
                                        "propertiesNotSatisfied": [
                                            {
                                                "propertyName": "arr",
                                                "details": [{"consideredValue": ROW}],
                                            }
                                        ],
                                    }
                                ],
                            }
                        ],
                    }
                ]
            }
        },
    }
    assert write_error(invalid, document) == "server error 121 at `meta.arr`"


def test_redact_hides_every_form_of_a_password() -> None:
    from mapper.config import redact

    encoded = quote(SECRET, safe="")
    urls = [
        f"postgresql://u:{encoded}@h:5432/db",
        f"postgresql://u:{PASSWORD}/x@h/db",
        f"postgresql://u:{SECRET}@h/db",
        f"postgresql://u@h/db?password={encoded}",
        f"postgresql://u@h/db?sslmode=require&sslpassword={PASSWORD}",
        f"mongodb://u:{encoded}@h1:1,h2/db?authSource=admin&replicaSet=rs",
        f"mongodb+srv://u:{encoded}@cluster.example.com/db?retryWrites=true",
        f"mongodb://u:{SECRET}@h/db",
        f"mongodb://h/db?authMechanismProperties=AWS_SESSION_TOKEN:{PASSWORD}",
    ]
    for url in urls:
        shown = redact(url)
        assert PASSWORD not in shown and "***" in shown, (url, shown)
        assert shown.split("://")[0] == url.split("://")[0]
    assert (
        redact(f"mongodb://u:{encoded}@h1:1,h2/db?authSource=admin")
        == "mongodb://u:***@h1:1,h2/db?authSource=admin"
    )
    assert redact("sqlite:///x.db") == "sqlite:///x.db"
    message = textwrap.dedent(f"""\
        connection to server failed: password {PASSWORD} rejected
        at {encoded} (mongodb://u:***@h/db)""")
    assert PASSWORD not in redact(message) and "(mongodb://u:***@h/db)" in redact(message)
