"""The commands as a user runs them: help, preview, .env settings, indexes, --drop."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from bson import json_util
from conftest import Finished, both_targets, mapper_cli

from mapper import pipeline

ROOT = Path(__file__).resolve().parent.parent


def mapper(*args: str, cwd: Path = ROOT) -> Finished:
    return mapper_cli(*args, cwd=cwd)


def test_a_driverless_postgresql_url_uses_psycopg2(postgres_server: str) -> None:
    # SQLAlchemy 2.1 gives `postgresql://` the psycopg 3 driver, which mapper does not ship.
    url = sa.make_url(postgres_server).set(drivername="postgresql")
    engine = pipeline.connect(url.render_as_string(hide_password=False))
    assert engine.dialect.driver == "psycopg2"
    engine.dispose()


def test_help_lists_every_command() -> None:
    result = mapper("--help")
    assert result.returncode == 0
    for command in ("demo", "lint", "plan", "preview", "run", "validate"):
        assert command in result.stdout
    for command in ("lint", "plan", "preview", "run", "validate"):
        assert mapper(command, "--help").returncode == 0


def test_preview_prints_documents_and_writes_nothing(demo_sqlite: str, tmp_path: Path) -> None:
    result = mapper(
        "preview",
        str(ROOT / "mappings" / "tasks.yaml"),
        "--source",
        demo_sqlite,
        "-n",
        "2",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    blocks = result.stdout.split("// tasks\n")[1:]
    assert len(blocks) == 2
    document = json_util.loads(blocks[0])
    assert {"_id", "title", "project", "labels", "comments", "comment_count"} <= set(document)
    assert list(tmp_path.iterdir()) == []


def test_settings_come_from_a_dotenv_file(demo_sqlite: str, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"MAPPER_SOURCE_URL={demo_sqlite}\nMAPPER_TARGET_URL=file:{tmp_path / 'from-env'}\n"
    )
    result = mapper("run", str(ROOT / "mappings" / "users.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len((tmp_path / "from-env" / "users.jsonl").read_text().splitlines()) == 200
    assert "demo source" not in result.stdout
    deeper = tmp_path / "project" / "sub"  # a subfolder finds the `.env` above it
    deeper.mkdir(parents=True)
    (tmp_path / "from-env" / "users.jsonl").unlink()
    again = mapper("run", str(ROOT / "mappings" / "users.yaml"), cwd=deeper)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len((tmp_path / "from-env" / "users.jsonl").read_text().splitlines()) == 200


@both_targets
def test_indexes_are_created_and_drop_rebuilds(
    demo_sqlite: str, mongo_url: str, mongo_db, tmp_path: Path
) -> None:
    mapping = str(ROOT / "mappings" / "organizations.yaml")
    mongo_db.organizations.insert_one({"_id": "stale", "name": "not from the source"})
    first = mapper("run", mapping, "--source", demo_sqlite, "--target", mongo_url, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert mongo_db.organizations.count_documents({}) == 11
    indexes = mongo_db.organizations.index_information()
    assert any(info["key"] == [("slug", 1)] and info.get("unique") for info in indexes.values())
    dropped = mapper(
        "run", mapping, "--source", demo_sqlite, "--target", mongo_url, "--drop", cwd=tmp_path
    )
    assert dropped.returncode == 0, dropped.stdout + dropped.stderr
    assert mongo_db.organizations.count_documents({}) == 10
    assert mongo_db.organizations.find_one({"_id": "stale"}) is None


def test_lint_json_lists_positions(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\ncollections:\n  x:\n    tabel: x\n")
    result = mapper("lint", "--offline", "--format", "json", str(path))
    assert result.returncode == 2
    problems = json.loads(result.stdout)
    assert problems and all({"file", "line", "column", "message"} <= set(p) for p in problems)


def test_a_target_without_a_source_is_an_error_never_the_demo(
    mongo_url: str, mongo_db, demo_sqlite: str, tmp_path: Path
) -> None:
    """A typo in the source variable's name, with a real target configured by the
    environment, `.env` or `--target`: exit 2 naming the three places, nothing written."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MAPPER_")}
    environment.update(HOME=str(tmp_path / "home"), MAPPER_SORCE_URL=demo_sqlite)
    mappings = str(ROOT / "mappings")
    (tmp_path / "dotenv").mkdir()
    (tmp_path / "dotenv" / ".env").write_text(f"MAPPER_TARGET_URL={mongo_url}\n")
    cases = [
        (("run", mappings), {"MAPPER_TARGET_URL": mongo_url}, tmp_path),
        (("validate", mappings), {"MAPPER_TARGET_URL": mongo_url}, tmp_path),
        (("run", mappings), {}, tmp_path / "dotenv"),
        (("run", mappings, "--target", mongo_url), {}, tmp_path),
    ]
    for arguments, extra, cwd in cases:
        result = mapper_cli(*arguments, cwd=cwd, env={**environment, **extra})
        assert result.returncode == 2, (arguments, result.stdout + result.stderr)
        for place in ("--source", "MAPPER_SOURCE_URL", ".env", "MAPPER_SORCE_URL"):
            assert place in result.stderr, (arguments, result.stderr)
        assert mongo_db.list_collection_names() == []
        assert not (tmp_path / "home").exists()  # no demo database made


@pytest.mark.parametrize(
    ("arguments", "option", "minimum"),
    [
        (("run", "--batch-size", "0"), "--batch-size", 1),
        (("run", "--batch-size", "-1"), "--batch-size", 1),
        (("run", "--max-errors", "-1"), "--max-errors", 0),
        (("run", "--batch-size", "many"), "--batch-size", 1),
        (("preview", "-n", "0"), "-n", 1),
        (("validate", "--sample", "-3"), "--sample", 0),
        (("lint", "--max-children", "-1"), "--max-children", 0),
    ],
)
def test_numbers_out_of_range_exit_2_naming_the_option(
    arguments: tuple[str, ...], option: str, minimum: int, tmp_path: Path
) -> None:
    """Checked when parsed: `--batch-size 0` crashed, `-1` ran an empty migration and exited 0."""
    command, *rest = arguments
    result = mapper(command, "mappings/tasks.yaml", *rest, "--source", "sqlite://", cwd=ROOT)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"argument {option}" in result.stderr
    assert f"{minimum} or more" in result.stderr


def test_the_api_refuses_the_same_numbers() -> None:
    from mapper import api
    from mapper.errors import UsageError

    for options in ({"batch_size": 0}, {"workers": 0}, {"max_errors": -1}):
        with pytest.raises(UsageError) as refused:
            api.MigrateOptions(**options)
        assert refused.value.setting == "--" + next(iter(options)).replace("_", "-")


def test_an_unknown_only_lists_the_collections(demo_sqlite: str, tmp_path: Path) -> None:
    result = mapper("preview", "mappings/", "--source", demo_sqlite, "--only", "task", cwd=ROOT)
    assert result.returncode == 2
    assert "unknown collections: task (" in result.stderr
    assert "organizations, projects, tasks, users" in result.stderr


def test_preview_as_json_and_json_lines_parses(demo_sqlite: str, tmp_path: Path) -> None:
    common = ("preview", str(ROOT / "mappings"), "--source", demo_sqlite, "-n", "2")
    whole = mapper(*common, "--format", "json", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    grouped = json_util.loads(whole.stdout)
    assert sorted(grouped) == ["organizations", "projects", "tasks", "users"]
    assert all(len(documents) == 2 for documents in grouped.values())
    lines = mapper(*common, "--format", "jsonl", cwd=tmp_path)
    assert lines.returncode == 0, lines.stderr
    parsed = [json_util.loads(line) for line in lines.stdout.splitlines()]
    assert len(parsed) == 8 and {p["collection"] for p in parsed} == set(grouped)
    assert [p["document"] for p in parsed if p["collection"] == "tasks"] == grouped["tasks"]


def _run_the_mappings(source: str, tmp_path: Path, *extra: str) -> Finished:
    """`mapper run` of every shipped mapping into `null:`."""
    rejects = str(tmp_path / "rejects.jsonl")
    return mapper(
        "run",
        str(ROOT / "mappings"),
        "--source",
        source,
        "--target",
        "null:",
        "--rejects",
        rejects,
        *extra,
        cwd=tmp_path,
    )


def test_run_summary_as_json_balances(demo_sqlite: str, tmp_path: Path) -> None:
    result = _run_the_mappings(demo_sqlite, tmp_path, "--format", "json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)  # nothing but the JSON on stdout
    assert summary["exit_status"] == 0 and summary["balanced"] and summary["stopped"] is None
    for counts in (*summary["collections"], summary["total"]):
        assert counts["read"] == counts["written"] + counts["filtered"] + counts["rejected"]
    assert summary["total"]["written"] == 1000 + 200 + 50 + 10
    assert {c["name"] for c in summary["collections"]} == {
        "organizations",
        "projects",
        "tasks",
        "users",
    }


def test_the_text_summary_has_a_total_row(demo_sqlite: str, tmp_path: Path) -> None:
    result = _run_the_mappings(demo_sqlite, tmp_path)
    assert result.returncode == 0, result.stderr
    [total] = [line for line in result.stdout.splitlines() if line.startswith("total ")]
    assert total.split()[1:3] == ["1,260", "1,260"]


@pytest.mark.parametrize(
    ("source", "hint"),
    [
        ("postgresq://u@localhost/db", "did you mean `postgresql://`"),
        ("mssql+pymssql://u@127.0.0.1:1/db", "pip install pymssql"),
        ("sqlite:////no/such/folder/x.db", "unable to open database file"),
    ],
)
def test_source_configuration_mistakes_exit_2_with_a_hint(source: str, hint: str) -> None:
    result = mapper("plan", "mappings/tasks.yaml", "--source", source)
    assert result.returncode == 2, result.stdout + result.stderr
    assert hint in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["plan", "demo"])
def test_a_mysql_source_without_its_driver_says_which_extra_to_install(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "MySQLdb", None)  # as if mysqlclient were not installed
    arguments = ["mappings/tasks.yaml"] if command == "plan" else []
    result = mapper(command, *arguments, "--source", "mysql://u:secret@127.0.0.1:1/db")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "`mysqlclient`" in result.stderr
    assert "pip install 'mapper-migrate[mysql]'" in result.stderr
    assert "secret" not in result.stderr and "Traceback" not in result.stderr


def test_a_wrong_database_name_exits_2(postgres_server: str) -> None:
    url = sa.make_url(postgres_server).set(database="no_such_database_here")
    result = mapper("plan", "mappings/tasks.yaml", "--source", url.render_as_string(False))
    assert result.returncode == 2, result.stdout + result.stderr
    assert 'database "no_such_database_here" does not exist' in result.stderr


def test_an_unreachable_source_is_still_a_fault() -> None:
    result = mapper("plan", "mappings/tasks.yaml", "--source", "postgresql://u@127.0.0.1:1/db")
    assert result.returncode == 3 and "cannot connect to the source" in result.stderr


@pytest.mark.parametrize(
    ("flags", "logged"),
    [
        (("-vv", "plan"), True),
        (("plan", "-vv"), True),
        (("--log-level", "debug", "plan"), True),
        (("plan", "--log-level", "debug"), True),
        (("-vv", "plan", "-q"), False),
        (("plan",), False),
    ],
)
def test_log_flags_work_before_or_after_the_command(
    flags: tuple[str, ...], logged: bool, demo_sqlite: str
) -> None:
    """`-vv` logs each phase with its time and the plan, as --help promises."""
    *before, _ = flags[: flags.index("plan") + 1]
    after = flags[flags.index("plan") + 1 :]
    result = mapper(*before, "plan", "mappings/users.yaml", "--source", demo_sqlite, *after)
    assert result.returncode == 0, result.stderr
    assert ("reflected the source in" in result.stderr) is logged
    assert ("DEBUG mapper.api: the plan:" in result.stderr) is logged
