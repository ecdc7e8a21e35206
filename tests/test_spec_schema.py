"""Linting mapping files: the JSON Schema, credentials, and the shipped mappings and schema."""

from __future__ import annotations

import json
import os
from importlib.resources import files
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from mapper.errors import Problem, SpecError
from mapper.spec import check_schema, check_secrets, load_offline, read_mapping

ROOT = Path(__file__).resolve().parents[1]
HEAD = "version: 1\ncollections:\n  tasks:\n    table: tasks\n"
_SCHEMA = ROOT / "schemas" / "mapping.schema.json"


def _fields(text: str) -> str:
    """A valid file whose `tasks` collection has these fields (lines 6 and on)."""
    return HEAD + "    fields:\n" + "".join(f"      {line}\n" for line in text.splitlines())


# (id, file contents, line, column, words expected in the message of a problem found there)
BAD_MAPPINGS = [
    ("unknown-key", HEAD + "    colums: [a]\n", 5, 5, ["unknown key `colums`", "collection"]),
    (
        "unknown-top-key",
        "version: 1\ndatabse: app\ncollections: {t: {table: t}}\n",
        2,
        1,
        ["unknown key `databse`"],
    ),
    (
        "missing-table",
        "version: 1\ncollections:\n  tasks:\n    columns: all\n",
        3,
        3,
        ["missing required key `table`", "`tasks`"],
    ),
    ("missing-collections", "version: 1\n", 1, 1, ["missing required key `collections`"]),
    ("missing-version", "collections: {t: {table: t}}\n", 1, 1, ["`version`"]),
    ("wrong-version", "version: 2\ncollections: {t: {table: t}}\n", 1, 1, ["`version`", "`1`"]),
    ("version-as-text", "version: '1'\ncollections: {t: {table: t}}\n", 1, 1, ["`version`"]),
    ("no-collections", "version: 1\ncollections: {}\n", 2, 1, ["`collections`", "empty"]),
    (
        "field-without-kind",
        _fields("title: {type: string}"),
        6,
        7,
        ["`title`", "exactly one kind key", "`column`"],
    ),
    (
        "field-with-two-kinds",
        _fields("title: {column: title, value: x}"),
        6,
        7,
        ["`title`", "2 kind keys", "`column`", "`value`"],
    ),
    ("field-not-a-mapping", _fields("title: 12"), 6, 7, ["`title`", "column name"]),
    (
        "limit-without-overflow",
        _fields("labels: {embed: labels, limit: 10}"),
        6,
        31,
        ["`limit` needs `overflow`", "`labels`"],
    ),
    (
        "unknown-embed-key",
        _fields("labels: {embed: labels, order: [name]}"),
        6,
        31,
        ["unknown key `order`", "`embed` field"],
    ),
    (
        "key-of-another-kind",
        _fields("title: {column: title, limit: 3}"),
        6,
        30,
        ["unknown key `limit`", "`column` field"],
    ),
    ("empty-field-name", _fields("'': title"), 6, 7, ["not a valid field name"]),
    ("whitespace-field-name", _fields("' title': title"), 6, 7, ['`" title"`', "field name"]),
    ("trailing-space-name", _fields("'title ': title"), 6, 7, ["field name"]),
    ("dollar-segment", _fields("meta.$x: title"), 6, 7, ["`meta.$x`", "field name"]),
    ("dollar-name", _fields("$where: title"), 6, 7, ["`$where`", "field name"]),
    ("empty-segment", _fields("a..b: title"), 6, 7, ["`a..b`", "field name"]),
    ("leading-dot", _fields(".a: title"), 6, 7, ["`.a`", "field name"]),
    ("nul-in-name", _fields('"a\\0b": title'), 6, 7, ["field name"]),
    (
        "bad-filter-operator",
        HEAD + "    filter: {status: {nex: archived}}\n",
        5,
        23,
        ["unknown key `nex`", "filter comparison", "`status`"],
    ),
    (
        "null-filter-value",
        HEAD + "    filter: {deleted_at: null}\n",
        5,
        14,
        ["`deleted_at`", "is_null"],
    ),
    (
        "list-filter-value",
        HEAD + "    filter: {plan: [a, b]}\n",
        5,
        14,
        ["`plan`", "`{in: [...]}`"],
    ),
    ("empty-in", HEAD + "    filter: {plan: {in: []}}\n", 5, 21, ["`in`", "empty"]),
    ("or-not-a-list", HEAD + "    filter: {or: {a: 1}}\n", 5, 14, ["`or`", "a list"]),
    (
        "bad-nested-filter",
        HEAD + "    filter:\n      or:\n        - {a: {is_nul: true}}\n",
        7,
        16,
        ["unknown key `is_nul`"],
    ),
    ("bad-id-rule", HEAD + "    _id: uuid\n", 5, 5, ["`_id`", "`oid`", "`key`"]),
    ("id-false-on-root", HEAD + "    _id: false\n", 5, 5, ["`_id`"]),
    ("bad-enum", HEAD + "    write: replace\n", 5, 5, ["`write`", "`upsert`", "`rebuild`"]),
    ("bad-type", _fields("due: {column: due, type: integer}"), 6, 26, ["`type`", "`int`"]),
    ("bad-columns", HEAD + "    columns: some\n", 5, 5, ["`columns`", "`all`"]),
    ("bad-nulls", HEAD + "    nulls: drop\n", 5, 5, ["`nulls`", "`omit`", "`keep`"]),
    ("validator-yes", HEAD + "    validator: yes\n", 5, 5, ["`validator`", "`true` or `false`"]),
    (
        "denormalize-needs-column",
        _fields("org: {denormalize: organizations}"),
        6,
        13,
        ["`denormalize`", "`TABLE.COLUMN`"],
    ),
    (
        "bad-via-hop",
        _fields("org: {embed: organizations, via: [{tabel: projects}]}"),
        6,
        42,
        ["unknown key `tabel`", "did you mean"],
    ),
    ("bad-table-name", "version: 1\ncollections: {t: {table: 'a..b'}}\n", 2, 19, ["`table`"]),
    ("bad-index-direction", HEAD + "    indexes: [{keys: {a: 2}}]\n", 5, 23, ["`a`", "`-1`"]),
    (
        "unknown-index-key",
        HEAD + "    indexes: [{keys: {a: 1}, uniq: true}]\n",
        5,
        30,
        ["unknown key `uniq`", "index"],
    ),
    (
        "system-collection",
        "version: 1\ncollections: {system.users: {table: t}}\n",
        2,
        15,
        ["`system.users`", "collection name"],
    ),
    (
        "max-depth-zero",
        _fields("parent: {embed: tasks, max_depth: 0}"),
        6,
        30,
        ["`max_depth`", "at least 1"],
    ),
]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _lint(path: Path) -> list[Problem]:
    mapping = read_mapping(path)
    return sorted([*check_schema(mapping), *check_secrets(mapping)])


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [case[1:] for case in BAD_MAPPINGS],
    ids=[case[0] for case in BAD_MAPPINGS],
)
def test_bad_mapping_is_reported_at_its_position(tmp_path, text, line, column, words) -> None:
    problems = _lint(_write(tmp_path, text))
    here = [problem for problem in problems if (problem.line, problem.column) == (line, column)]
    assert here, f"nothing at {line}:{column}: {[str(problem) for problem in problems]}"
    message = " ".join(f"{problem.message} {problem.hint}" for problem in here)
    for word in words:
        assert word in message, here


def test_did_you_mean_and_path(tmp_path) -> None:
    [problem] = _lint(_write(tmp_path, HEAD + "    colums: [a]\n"))
    assert problem.path == ("collections", "tasks", "colums")
    assert problem.hint == "did you mean `columns`?"
    assert str(problem).startswith(f"{tmp_path / 'mapping.yaml'}:5:5: error: unknown key")


def test_every_violation_is_reported(tmp_path) -> None:
    text = HEAD + "    colums: [a]\n    write: replace\n" + "    fields:\n      '': x\n"
    problems = _lint(_write(tmp_path, text))
    assert [(problem.line, problem.column) for problem in problems] == [(5, 5), (6, 5), (8, 7)]


SECRETS = [
    (
        "url-password",
        "version: 1\nsource: postgresql://app:Hunter2Canary@db:5432/app\n"
        "collections: {t: {table: t}}\n",
        2,
        1,
        ["`source`", "URL with a password"],
    ),
    (
        "url-in-filter",
        HEAD + "    filter: {link: 'https://bob:Hunter2Canary@example.com/x'}\n",
        5,
        14,
        ["`link`", "URL with a password"],
    ),
    ("password-key", HEAD + "    password: Hunter2Canary\n", 5, 5, ["`password`", "credential"]),
    (
        "top-level-token",
        "version: 1\napi_token: Hunter2Canary\ncollections: {t: {table: t}}\n",
        2,
        1,
        ["`api_token`", "credential"],
    ),
    (
        "camel-case-key",
        "version: 1\ndbPassword: Hunter2Canary\ncollections: {t: {table: t}}\n",
        2,
        1,
        ["`dbPassword`", "credential"],
    ),
    (
        "secret-constant-field",
        _fields("client_secret: {value: Hunter2Canary}"),
        6,
        23,
        ["`client_secret`", "credential"],
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [case[1:] for case in SECRETS],
    ids=[case[0] for case in SECRETS],
)
def test_credentials_are_refused_without_echo(tmp_path, text, line, column, words) -> None:
    mapping = read_mapping(_write(tmp_path, text))
    problems = list(check_secrets(mapping))
    assert [(problem.line, problem.column) for problem in problems] == [(line, column)]
    for word in words:
        assert word in problems[0].message
    everything = [*problems, *check_schema(mapping)]
    assert all("Hunter2Canary" not in json.dumps(problem.as_dict()) for problem in everything)
    assert all(problem.severity == "error" for problem in problems)


@pytest.mark.parametrize(
    ("field", "refused"),
    [
        ("password_policy: {value: strict}", False),  # names that only contain a secret's word
        ("token_type: {value: bearer}", False),
        ("secret_key: {value: Hunter2Canary}", True),
        ("stripe: {value: sk_live_4eC39HqLyjWDarjtT1zdp7dcXq}", True),  # a generated token
        ("checksum: {value: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b, not_secret: true}", False),
        ("tenant: {value: 550e8400-e29b-41d4-a716-446655440000, type: uuid}", False),
        ("motto: {value: a long sentence that is plainly no secret at all 2024}", False),
    ],
)
def test_values_that_look_like_secrets_are_refused_not_names(tmp_path, field, refused) -> None:
    mapping = read_mapping(_write(tmp_path, _fields(field)))
    problems = list(check_secrets(mapping))
    assert bool(problems) is refused, problems
    assert list(check_schema(mapping)) == []
    if refused:
        assert "not_secret: true" in problems[0].hint
        assert "Canary" not in str(problems[0]) and "sk_live" not in str(problems[0])


def test_columns_named_like_secrets_are_fine(tmp_path) -> None:
    text = _fields(
        "password_hash: password_hash\napi_token: {column: api_token}\n"
        "token_expires: {column: token_expires_at}"
    )
    text += "    filter: {password: {is_null: false}}\n"
    mapping = read_mapping(_write(tmp_path, text))
    assert list(check_secrets(mapping)) == []
    assert list(check_schema(mapping)) == []


def test_url_with_password_in_a_key_is_not_echoed(tmp_path) -> None:
    mapping = read_mapping(_write(tmp_path, HEAD + "    'mongodb://u:Hunter2Canary@h/db': 1\n"))
    problems = [*check_secrets(mapping), *check_schema(mapping)]
    assert len(problems) == 2
    assert all("Hunter2Canary" not in json.dumps(problem.as_dict()) for problem in problems)


@pytest.mark.parametrize("path", sorted((ROOT / "mappings").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_mappings_are_clean(path: Path) -> None:
    assert _lint(path) == []


def test_load_offline_reads_directories_and_never_raises(tmp_path) -> None:
    (tmp_path / "b.yml").write_text(HEAD + "    colums: [a]\n", encoding="utf-8")
    (tmp_path / "a.yaml").write_text("version: [\n", encoding="utf-8")
    (tmp_path / "c.yaml").write_text(HEAD, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("version: 1\n", encoding="utf-8")
    (tmp_path / "empty").mkdir()
    mappings, problems = load_offline([tmp_path, tmp_path / "empty", tmp_path / "absent.yaml"])
    assert [Path(mapping.path).name for mapping in mappings] == ["b.yml", "c.yaml"]
    assert [(Path(problem.file).name, problem.line) for problem in problems] == [
        ("a.yaml", 2),
        ("absent.yaml", 1),
        ("b.yml", 5),
        ("empty", 1),
    ]
    assert load_offline(ROOT / "mappings")[1] == []


def test_every_schema_property_is_described() -> None:
    schema = json.loads((ROOT / "schemas" / "mapping.schema.json").read_text(encoding="utf-8"))
    undescribed, count = [], 0

    def walk(node: Any, where: str) -> None:
        nonlocal count
        if isinstance(node, dict):
            for name, prop in node.get("properties", {}).items():
                count += 1
                if not (isinstance(prop, dict) and str(prop.get("description", "")).strip()):
                    undescribed.append(f"{where}/properties/{name}")
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{where}/{index}")

    walk(schema, "#")
    assert count > 50 and undescribed == []


def test_schema_is_valid_and_packaged() -> None:
    source = (ROOT / "schemas" / "mapping.schema.json").read_text(encoding="utf-8")
    packaged = (files("mapper") / "schemas" / "mapping.schema.json").read_text(encoding="utf-8")
    assert packaged == source
    Draft202012Validator.check_schema(json.loads(source))


LANGUAGE_KEYS = [
    "version",
    "database",
    "collections",
    "table",
    "key",
    "filter",
    "_id",
    "nulls",
    "columns",
    "exclude",
    "fields",
    "indexes",
    "validator",
    "write",
    "column",
    "value",
    "template",
    "embed",
    "reference",
    "denormalize",
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "type",
    "on",
    "via",
    "order_by",
    "limit",
    "overflow",
    "max_depth",
    "keys",
    "unique",
    "name",
    "sparse",
    "and",
    "or",
    "eq",
    "ne",
    "in",
    "is_null",
    "password",
    "<<",
    "",
    " ",
    "a..b",
    "$x",
]
LANGUAGE_VALUES = [
    "all",
    "oid",
    "key",
    "omit",
    "keep",
    "upsert",
    "rebuild",
    "reject",
    "truncate",
    "int",
    "tasks",
    "users.email",
    "postgres://u:p@h/d",
    "-name",
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.sampled_from(LANGUAGE_VALUES)
    | st.text(max_size=12)
)
KEYS = st.sampled_from(LANGUAGE_KEYS) | st.text(max_size=8)
NODES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=40,
)
DOCUMENTS = NODES | st.fixed_dictionaries(
    {
        "version": st.sampled_from([1, 2, "1"]),
        "collections": st.dictionaries(KEYS, st.dictionaries(KEYS, NODES, max_size=6), max_size=3),
    }
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=DOCUMENTS)
def test_lint_reports_and_never_raises(tmp_path_factory, document: Any) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "mapping.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    try:
        mapping = read_mapping(path)
    except SpecError as error:
        problems = error.problems
    else:
        problems = [*check_schema(mapping), *check_secrets(mapping)]
    assert all(
        isinstance(problem, Problem)
        and problem.line >= 1
        and problem.column >= 1
        and problem.message
        for problem in problems
    )
    if not problems:
        assert not (isinstance(document, dict) and document.get("version") != 1)
    assert load_offline([path])[1] == sorted(problems)


def _passes_kept(cache: Path) -> list[Path]:
    folder = cache / "schema-passed"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_a_pass_is_remembered_and_not_checked_again(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MAPPER_CACHE_DIR", str(tmp_path / "cache"))
    good = read_mapping(_write(tmp_path, HEAD))
    assert list(check_schema(good)) == [] and len(_passes_kept(tmp_path / "cache")) == 1

    def no_validator() -> None:
        raise AssertionError("the schema was checked again")

    monkeypatch.setattr("mapper.spec.schema._validator", no_validator)
    assert list(check_schema(read_mapping(_write(tmp_path, HEAD)))) == []
    other = read_mapping(_write(tmp_path, HEAD + "    columns: all\n"))
    with pytest.raises(AssertionError, match="checked again"):
        list(check_schema(other))


def test_failures_are_never_remembered(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MAPPER_CACHE_DIR", str(tmp_path / "cache"))
    bad = read_mapping(_write(tmp_path, HEAD + "    colums: [a]\n"))
    first, second = list(check_schema(bad)), list(check_schema(bad))
    assert first == second and first and _passes_kept(tmp_path / "cache") == []


def test_a_pass_does_not_cover_the_same_text_of_another_type(tmp_path, monkeypatch) -> None:
    """`version: 1` passes; `version: '1'` (a string) must still fail once the first is kept."""
    monkeypatch.setenv("MAPPER_CACHE_DIR", str(tmp_path / "cache"))
    assert list(check_schema(read_mapping(_write(tmp_path, HEAD)))) == []
    quoted = read_mapping(_write(tmp_path, HEAD.replace("version: 1", "version: '1'")))
    assert [problem.path for problem in check_schema(quoted)] == [("version",)]


def test_an_unusable_cache_folder_only_costs_the_check(tmp_path, monkeypatch) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("MAPPER_CACHE_DIR", str(tmp_path / "a-file"))
    assert list(check_schema(read_mapping(_write(tmp_path, HEAD)))) == []
    assert list(check_schema(read_mapping(_write(tmp_path, HEAD + "    colums: [a]\n"))))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents=st.lists(DOCUMENTS, min_size=2, max_size=4))
def test_remembered_passes_agree_with_jsonschema(tmp_path_factory, documents: list[Any]) -> None:
    """Oracle: jsonschema's own verdict on each file's data, with passes of the files before
    it (and of itself, checked twice) in the cache."""
    folder = tmp_path_factory.mktemp("cache")
    validator = Draft202012Validator(json.loads(_SCHEMA.read_text(encoding="utf-8")))
    with mock.patch.dict(os.environ, {"MAPPER_CACHE_DIR": str(folder)}):
        for document in [yaml.safe_load(HEAD), *documents, *documents]:
            path = folder.parent / "mapping.yaml"
            path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
            try:
                mapping = read_mapping(path)
            except SpecError:
                continue
            assert (list(check_schema(mapping)) == []) == validator.is_valid(mapping.data)


def test_the_passes_kept_are_bounded_and_the_last_used_stay(tmp_path, monkeypatch) -> None:
    """Past `PASSES_KEPT` passes, those used longest ago are forgotten; a pass recalled is
    used again, and a new one is kept."""
    monkeypatch.setenv("MAPPER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr("mapper.spec.schema.PASSES_KEPT", 10)
    recalled = read_mapping(_write(tmp_path, HEAD))
    assert list(check_schema(recalled)) == []
    [recalled_mark] = _passes_kept(tmp_path / "cache")
    for age, name in enumerate(f"{n:064x}" for n in range(10)):
        stale = tmp_path / "cache" / "schema-passed" / name
        stale.touch()
        os.utime(stale, (1_000_000 + age, 1_000_000 + age))
    os.utime(recalled_mark, (0, 0))  # the oldest of all, until recalled
    assert list(check_schema(recalled)) == []  # recalled: used now
    newest = read_mapping(_write(tmp_path, HEAD + "    columns: all\n"))
    assert list(check_schema(newest)) == []  # the eleventh pass: five are kept
    kept = _passes_kept(tmp_path / "cache")
    assert len(kept) == 5 and recalled_mark in kept
    assert {path.name for path in kept} >= {f"{n:064x}" for n in (7, 8, 9)}
