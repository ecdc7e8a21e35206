"""`mapper init`: proposed mappings that lint clean, run and validate on the source they came
from; the decisions on small schemas made to force each one; never overwriting unasked.

Regenerate the golden files after an intended change with `MAPPER_UPDATE_GOLDEN=1 python -m
pytest tests/test_init.py`, and review the diff.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import ink, screenshot
from conftest import fresh_postgres_database, mapper_cli, sqlite_database

from mapper.demo import create_demo
from mapper.spec import read_mapping

GOLDEN = Path(__file__).parent / "golden"


def _init(source: str, out: Path, *args: str) -> dict[str, str]:
    result = mapper_cli("init", "--source", source, "--out", out, *args)
    assert result.returncode == 0, result.stderr
    return {path.name: path.read_text() for path in sorted(out.glob("*.yaml"))}


def _prose(text: str) -> str:
    """A file's comments as running text (wrapped lines joined)."""
    return re.sub(r"\n\s*#\s+", " ", text)


def _lint_strict(source: str, out: Path) -> None:
    result = mapper_cli("lint", "--strict", out, "--source", source)
    assert result.returncode == 0, result.stdout + result.stderr


def _collection(files: dict[str, str], tmp_path: Path, name: str) -> dict:
    path = tmp_path / f"{name}.read.yaml"
    path.write_text(files[f"{name}.yaml"])
    return read_mapping(path).data["collections"][name]


@pytest.fixture(scope="module")
def retail_sqlite(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The retail demo at scale 1, seed 42, in SQLite (read-only use)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('retail') / 'retail.db'}"
    create_demo(url, scale=1, seed=42, schema="retail")
    return url


@pytest.fixture(scope="module")
def retail_pg(postgres_server: str) -> Iterator[str]:
    """The retail demo at scale 1, seed 42, in PostgreSQL (read-only use)."""
    with fresh_postgres_database(postgres_server) as url:
        create_demo(url, scale=1, seed=42, schema="retail")
        yield url


TASKS = {"organizations", "projects", "tasks", "users"}
RETAIL = {"addresses", "categories", "countries", "customers", "employees", "events"}
RETAIL |= {"orders", "products", "stores", "tags"}


@pytest.mark.parametrize(
    ("source", "collections"),
    [
        ("small_demo_sqlite", TASKS),
        ("small_demo_pg", TASKS),
        pytest.param("small_demo_mysql", TASKS, marks=pytest.mark.integration),
        ("retail_sqlite", RETAIL),
        ("retail_pg", RETAIL),
    ],
)
def test_init_output_lints_runs_and_validates(
    source: str,
    collections: set[str],
    request: pytest.FixtureRequest,
    mongo_url: str,
    tmp_path: Path,
) -> None:
    url = request.getfixturevalue(source)
    out = tmp_path / "mappings"
    files = _init(url, out)
    assert set(files) == {f"{name}.yaml" for name in collections}
    if source == "retail_pg":  # events.product_id has a foreign key on each partition only
        assert "`product_id`, NULL in 20%; declared on its partitions only" in _prose(
            files["events.yaml"]
        )
    _lint_strict(url, out)
    common = ("--source", url, "--target", mongo_url, "--decimal-as", "string")
    ran = mapper_cli(
        "run", out, *common, "--rejects", tmp_path / "rejects.jsonl", "--state", tmp_path / "s"
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    checked = mapper_cli("validate", out, *common, "--full")
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("source", "schema"), [("small_demo_sqlite", "tasks"), ("retail_sqlite", "retail")]
)
def test_init_output_matches_golden(
    source: str, schema: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    files = _init(request.getfixturevalue(source), tmp_path)
    golden = GOLDEN / f"init-{schema}"
    if os.environ.get("MAPPER_UPDATE_GOLDEN"):
        golden.mkdir(exist_ok=True)
        for stale in golden.glob("*.yaml"):
            stale.unlink()
        for name, text in files.items():
            (golden / name).write_text(text)
    assert files == {path.name: path.read_text() for path in sorted(golden.glob("*.yaml"))}


def _posts(path: Path, counts: list[int]) -> str:
    """Posts with `counts[i]` comments each."""
    rows = []
    comment = 0
    for post, count in enumerate(counts, 1):
        rows.append(f"INSERT INTO posts VALUES ({post}, 'post {post}');")
        for _ in range(count):
            comment += 1
            rows.append(f"INSERT INTO comments VALUES ({comment}, {post}, 'text {comment}');")
    return sqlite_database(
        path,
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL);"
        "CREATE TABLE comments (id INTEGER PRIMARY KEY,"
        " post_id INTEGER NOT NULL REFERENCES posts (id), body TEXT NOT NULL);"
        "CREATE INDEX ix_comments_post_id ON comments (post_id);" + "".join(rows),
    )


def test_a_few_parents_over_the_threshold_get_a_limit(tmp_path: Path) -> None:
    url = _posts(tmp_path / "s.db", [1500] + [1] * 200)
    files = _init(url, tmp_path / "out")
    comments = _collection(files, tmp_path, "posts")["fields"]["comments"]
    assert (comments["limit"], comments["overflow"]) == (10, "truncate")
    assert "comments.yaml" in files  # every comment is still in a collection of its own
    assert "max 1,500, p99 1," in _prose(files["posts.yaml"])
    _lint_strict(url, tmp_path / "out")


def test_a_fan_out_too_large_to_embed_is_counted_and_a_collection(tmp_path: Path) -> None:
    url = _posts(tmp_path / "s.db", [1100, 1100])
    files = _init(url, tmp_path / "out")
    fields = _collection(files, tmp_path, "posts")["fields"]
    assert fields == {"comment_count": {"count": "comments"}}
    post = _collection(files, tmp_path, "comments")["fields"]["post"]
    assert post == {"embed": "posts", "columns": ["title"]}
    _lint_strict(url, tmp_path / "out")


SHOP = """
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE groups (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE memberships (user_id INTEGER NOT NULL REFERENCES users (id),
  group_id INTEGER NOT NULL REFERENCES groups (id), role TEXT NOT NULL,
  PRIMARY KEY (user_id, group_id));
CREATE TABLE messages (id INTEGER PRIMARY KEY, body TEXT NOT NULL,
  sender_id INTEGER NOT NULL REFERENCES users (id),
  recipient_id INTEGER NOT NULL REFERENCES users (id));
CREATE TABLE employees (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
  manager_id INTEGER REFERENCES employees (id));
CREATE TABLE visits (id INTEGER PRIMARY KEY, user_id INTEGER, page TEXT NOT NULL);
CREATE INDEX ix_memberships_group_id ON memberships (group_id);
CREATE INDEX ix_messages_sender_id ON messages (sender_id);
CREATE INDEX ix_messages_recipient_id ON messages (recipient_id);
CREATE INDEX ix_employees_manager_id ON employees (manager_id);
CREATE INDEX ix_visits_user_id ON visits (user_id);
INSERT INTO users VALUES (1, 'ann'), (2, 'bob'), (3, 'eve');
INSERT INTO visits VALUES (1, 1, '/'), (2, NULL, '/a'), (3, 99, '/b');
INSERT INTO groups VALUES (1, 'admins'), (2, 'staff');
INSERT INTO memberships VALUES (1, 1, 'owner'), (1, 2, 'member'), (2, 2, 'member');
INSERT INTO messages VALUES (1, 'hi', 1, 2), (2, 'yo', 2, 1), (3, 'hey', 1, 3), (4, 'x', 3, 3);
INSERT INTO employees VALUES (1, 'ceo', NULL), (2, 'cto', 1), (3, 'dev', 2), (4, 'intern', 3);
"""


@pytest.fixture
def shop(tmp_path: Path) -> tuple[str, dict[str, str]]:
    url = sqlite_database(tmp_path / "shop.db", SHOP)
    return url, _init(url, tmp_path / "out")


def test_a_join_table_gives_many_to_many_via(shop, tmp_path: Path) -> None:
    url, files = shop
    assert "memberships.yaml" not in files
    groups = _collection(files, tmp_path, "users")["fields"]["groups"]
    assert groups["via"] == ["memberships"]
    assert groups["fields"] == {"role": {"column": "memberships.role"}}
    users = _collection(files, tmp_path, "groups")["fields"]["users"]
    assert (users["embed"], users["via"]) == ("users", ["memberships"])
    _lint_strict(url, tmp_path / "out")


def test_two_foreign_keys_to_one_table_give_explicit_on(shop, tmp_path: Path) -> None:
    _, files = shop
    fields = _collection(files, tmp_path, "users")["fields"]
    owned = next(f for f in fields.values() if isinstance(f, dict) and f.get("embed") == "messages")
    assert owned["on"] in ({"id": "sender_id"}, {"id": "recipient_id"})
    other = next(iter(owned["fields"].values()))
    assert other["reference"] == "users" and list(other["on"].values()) == ["id"]


def test_a_self_reference_embeds_its_chain_with_max_depth(shop, tmp_path: Path) -> None:
    _, files = shop
    manager = _collection(files, tmp_path, "employees")["fields"]["manager"]
    assert manager == {
        "embed": "employees",
        "on": {"manager_id": "id"},
        "columns": ["name"],
        "max_depth": 3,
    }
    assert "longest chain has 3 levels" in _prose(files["employees.yaml"])


def test_a_key_without_a_constraint_is_inferred_from_its_name(shop, tmp_path: Path) -> None:
    _, files = shop
    visits = _collection(files, tmp_path, "visits")
    assert visits["fields"]["user"] == {
        "embed": "users",
        "on": {"user_id": "id"},
        "columns": ["name"],
    }
    assert "user_id" in visits["columns"]  # kept: visit 3's user 99 has no row
    assert "inferred from the column's name: no constraint" in _prose(files["visits.yaml"])


def test_existing_files_are_diffed_not_overwritten_without_force(shop, tmp_path: Path) -> None:
    url, files = shop
    out = tmp_path / "out"
    again = mapper_cli("init", "--source", url, "--out", out)
    assert again.returncode == 0 and "unchanged" in again.stdout
    edited = out / "users.yaml"
    edited.write_text(files["users.yaml"].replace("columns: [id, name]", "columns: [name]"))
    refused = mapper_cli("init", "--source", url, "--out", out)
    assert refused.returncode == 2
    assert str(edited) in refused.stderr and "--force" in refused.stderr
    assert "-    columns: [name]" in refused.stdout and "+    columns: [id, name]" in refused.stdout
    assert "columns: [name]" in edited.read_text()
    forced = mapper_cli("init", "--source", url, "--out", out, "--force")
    assert forced.returncode == 0, forced.stderr
    assert edited.read_text() == files["users.yaml"]


def test_the_html_report_shows_every_collection(shop, tmp_path: Path) -> None:
    url, files = shop
    result = mapper_cli("init", "--source", url, "--out", tmp_path / "html", "--format", "html")
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "html" / "init-report.html").read_text()
    for name in files:
        assert f'id="collection-{name.removesuffix(".yaml")}"' in page
    assert "max_depth 3" in page and "through <code>memberships</code>" in page
    assert "http" not in page and "<script" not in page  # self-contained


def test_unknown_tables_are_refused(shop, tmp_path: Path) -> None:
    url, _ = shop
    result = mapper_cli("init", "--source", url, "--tables", "userz", "--out", tmp_path / "x")
    assert result.returncode == 2 and "`userz`" in result.stderr and "`users`" in result.stderr


def test_big_postgresql_tables_are_estimated_and_sampled(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sqlalchemy as sa

    from mapper import api
    from mapper.proposal import stats

    create_demo(pg_url, scale=0.3, seed=42)
    engine = sa.create_engine(pg_url)
    with engine.connect() as connection:
        connection.execute(sa.text("ANALYZE"))
        connection.commit()
    engine.dispose()
    monkeypatch.setattr(stats, "SAMPLE_ABOVE", 100)  # every table but the smallest is "big"
    monkeypatch.setattr(stats, "SAMPLE_ROWS", 150)  # and sampled at about half
    proposal = api.init(pg_url)
    assert any("reltuples" in note for note in proposal.notes)
    assert any("TABLESAMPLE" in note for note in proposal.notes)
    tasks = next(c for c in proposal.collections if c.name == "tasks")
    assert tasks.estimated_rows and tasks.rows == 300  # ANALYZE read every row of a small table
    comments = next(r for r in tasks.node.fields if r.name == "comments")
    assert comments.fanout is not None and comments.fanout.sample is not None
    assert "sample" in comments.reason


def test_a_spent_time_budget_leaves_numbers_unknown_and_says_so(shop, tmp_path: Path) -> None:
    url, _ = shop
    out = tmp_path / "unmeasured"
    result = mapper_cli("init", "--source", url, "--out", out, "--time-budget", "0")
    assert result.returncode == 0, result.stderr
    assert "not measured (time budget spent)" in result.stderr
    users = read_mapping(out / "users.yaml").data["collections"]["users"]
    assert "message_count" in users["fields"]  # not embedded without numbers: only counted
    _lint_strict(url, out)


def test_the_html_report_renders_in_a_browser(retail_sqlite: str, tmp_path: Path) -> None:
    """The retail demo's report as headless Chromium shows it: a page, not a blank."""
    result = mapper_cli(
        "init", "--source", retail_sqlite, "--out", tmp_path / "html", "--format", "html"
    )
    assert result.returncode == 0, result.stderr
    picture = screenshot(tmp_path / "html" / "init-report.html", tmp_path / "init-report.png")
    assert 0.01 < ink(picture) < 0.9, "the report renders blank (or as one block of colour)"
