"""`mapper lint` against a live source: names, joins, cycles, collisions, templates, types.

Table-driven: each case names its mapping, the exit code and the words of its message. The
source is a small SQLite schema (no server needed); the shipped mappings lint clean against the
demo in SQLite, PostgreSQL and offline.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import Finished, mapper_cli, sqlite_database

from mapper.api import lint

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = """
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
CREATE TABLE messages (id INTEGER PRIMARY KEY, body TEXT,
    sender_id INTEGER REFERENCES users(id), recipient_id INTEGER REFERENCES users(id));
CREATE TABLE categories (id INTEGER PRIMARY KEY, name TEXT,
    parent_id INTEGER REFERENCES categories(id));
CREATE INDEX ix_categories_parent_id ON categories (parent_id);
CREATE TABLE notes (body TEXT);
CREATE TABLE badges (id INTEGER PRIMARY KEY, user_ref TEXT REFERENCES users(id), label TEXT);
"""


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> str:
    return sqlite_database(tmp_path_factory.mktemp("lint") / "source.db", SCHEMA)


def mapping(body: str) -> str:
    return "version: 1\ncollections:\n" + textwrap.indent(textwrap.dedent(body).lstrip("\n"), "  ")


CASES = [
    (
        "unknown-table",
        mapping("""
        people:
          table: userz
        """),
        "4:5",
        ["unknown table `userz`", "did you mean `users`"],
    ),
    (
        "unknown-column",
        mapping("""
        users:
          table: users
          columns: [name, emial]
        """),
        "5:21",
        ["unknown column `emial`", "did you mean `email`"],
    ),
    (
        "identifier-injection",
        mapping("""
        users:
          table: "users; DROP TABLE messages"
        """),
        "4:5",
        ["unknown table `users; DROP TABLE messages`"],
    ),
    (
        "ambiguous-join",
        mapping("""
        users:
          table: users
          fields:
            inbox: {embed: messages}
        """),
        "6:15",
        [
            "ambiguous join",
            "`users.id` = `messages.sender_id`",
            "`users.id` = `messages.recipient_id`",
        ],
    ),
    (
        "self-reference-without-depth",
        mapping("""
        categories:
          table: categories
          fields:
            children: {embed: categories, on: {id: parent_id}}
        """),
        "6:18",
        ["embed cycle: categories → categories", "max_depth"],
    ),
    (
        "cycle-through-another-table",
        mapping("""
        messages:
          table: messages
          fields:
            sender:
              embed: users
              on: {sender_id: id}
              fields:
                sent: {embed: messages, on: {id: sender_id}}
        """),
        "10:18",
        ["embed cycle: messages → users → messages"],
    ),
    (
        "field-collision",
        mapping("""
        users:
          table: users
          fields:
            name: {value: x}
        """),
        "6:7",
        ["field `name` collides with `name`", "exclude"],
    ),
    (
        "id-twice",
        mapping("""
        users:
          table: users
          fields:
            _id: {column: email}
        """),
        "6:7",
        ["field `_id` collides with `_id`"],
    ),
    (
        "nested-path-collision",
        mapping("""
        users:
          table: users
          columns: [name]
          fields:
            contact: {column: email}
            contact.email: {column: email}
        """),
        "8:7",
        ["field `contact.email` collides with `contact`"],
    ),
    (
        "template-undefined",
        mapping("""
        users:
          table: users
          fields:
            label: {template: "{{ nmae }} <{{ email }}>"}
        """),
        "6:15",
        ["undefined name `nmae`", "did you mean `name`"],
    ),
    (
        "template-sandbox-escape",
        mapping("""
        users:
          table: users
          fields:
            label: {template: "{{ name.__class__.__mro__ }}"}
        """),
        "6:15",
        ["private attribute", "sandbox"],
    ),
    (
        "impossible-conversion",
        mapping("""
        users:
          table: users
          fields:
            n: {column: name, type: int}
        """),
        "6:25",
        ["cannot convert `users.name`", "to `int`"],
    ),
    (
        "no-primary-key",
        mapping("""
        notes:
          table: notes
        """),
        "4:5",
        ["table `notes` has no primary key"],
    ),
    (
        "denormalize-one-to-many",
        mapping("""
        users:
          table: users
          fields:
            last_body: {denormalize: messages.body, on: {id: sender_id}}
        """),
        "6:19",
        ["many-to-one path", "one-to-many"],
    ),
    (
        "array-linked-by-another-type",
        mapping("""
        users:
          table: users
          fields:
            badges: {embed: badges}
        """),
        "6:7",
        [
            "cannot join `users.id` (INTEGER) to `badges.user_ref` (TEXT)",
            "never match",
            "same type",
        ],
    ),
    (
        "unknown-join-column",
        mapping("""
        users:
          table: users
          fields:
            sent: {embed: messages, on: {id: author_id}}
        """),
        "6:36",
        ["unknown column `author_id` in table `messages`"],
    ),
]


@pytest.mark.parametrize(("name", "text", "where", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_mapping_is_reported(
    source: str, tmp_path: Path, name: str, text: str, where: str, words: list[str]
) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    problems = [p for p in lint([path], source) if p.severity == "error"]
    assert problems, f"no problem reported for {name}"
    first = str(problems[0])
    assert first.startswith(f"{path}:{where}:"), first
    for word in words:
        assert word in first, first


def test_every_problem_is_reported_at_once(source: str, tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(
        mapping("""
        users:
          table: users
          columns: [nmae, emial]
          fields:
            x: {embed: messages}
        """)
    )
    problems = lint([path], source)
    assert len(problems) == 3
    assert problems == sorted(problems)


def test_injection_leaves_the_source_unchanged(source: str, tmp_path: Path) -> None:
    path = tmp_path / "inject.yaml"
    path.write_text(CASES[2][1])
    lint([path], source)
    assert "messages" in sa.inspect(sa.create_engine(source)).get_table_names()


def test_self_reference_with_max_depth_resolves(source: str, tmp_path: Path) -> None:
    path = tmp_path / "tree.yaml"
    path.write_text(
        mapping("""
        categories:
          table: categories
          fields:
            children: {embed: categories, on: {id: parent_id}, max_depth: 2}
        """)
    )
    assert lint([path], source) == []


def _lint_cli(*args: str) -> Finished:
    return mapper_cli("lint", *args)


def test_shipped_mappings_lint_clean_offline() -> None:
    result = _lint_cli("--offline", *sorted(str(p) for p in (ROOT / "mappings").glob("*.yaml")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_shipped_mappings_lint_clean_on_sqlite(demo_sqlite: str) -> None:
    result = _lint_cli("--source", demo_sqlite, "mappings/")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems" in result.stdout


def test_shipped_mappings_lint_clean_on_postgres(demo_pg: str) -> None:
    result = _lint_cli("--source", demo_pg, "mappings/")
    assert result.returncode == 0, result.stdout + result.stderr


def test_lint_exit_code_and_json_format(source: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CASES[0][1])
    result = _lint_cli("--source", source, "--format", "json", str(path))
    assert result.returncode == 2
    assert '"message": "unknown table `userz`"' in result.stdout


@pytest.fixture
def crowded(tmp_path: Path) -> str:
    """Category 1 has 5 children of 4 MiB names each: a 20 MiB document when embedded."""
    url = f"sqlite:///{tmp_path / 'crowded.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE categories (id INTEGER PRIMARY KEY, name TEXT, "
            "parent_id INTEGER REFERENCES categories(id))"
        )
        connection.exec_driver_sql("INSERT INTO categories VALUES (1, 'root', NULL)")
        for child in range(2, 7):
            connection.execute(
                sa.text("INSERT INTO categories VALUES (:id, :name, 1)"),
                {"id": child, "name": "x" * (4 * 2**20)},
            )
    engine.dispose()
    return url


def test_unbounded_and_oversized_arrays_are_found_in_the_data(crowded: str, tmp_path: Path) -> None:
    path = tmp_path / "tree.yaml"
    path.write_text(
        mapping("""
        categories:
          table: categories
          fields:
            children: {embed: categories, on: {id: parent_id}, max_depth: 1}
        """)
    )
    problems = lint([path], crowded, max_children=3)
    warning = next(p for p in problems if "unbounded" in p.message)
    assert "array `children` of `categories` is unbounded" in warning.message
    assert "key `1`" in warning.message and "5 elements" in warning.message
    assert (warning.line, warning.column) == (6, 7)
    error = next(p for p in problems if p.severity == "error")
    assert "over MongoDB's 16 MiB limit" in error.message and "key `1`" in error.message
