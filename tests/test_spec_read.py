"""Reading mapping files: safe YAML, positions, and every way a file can be unreadable."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from mapper.errors import SpecError
from mapper.spec import MappingFile, read_mapping

LAUGHS = (
    "\n".join(
        [f"l0: &l0 [{', '.join(['lol'] * 10)}]"]
        + [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 10)]
    )
    + "\n"
)

# (id, file contents, line, column, words expected in the message)
BAD_FILES = [
    (
        "malformed-flow",
        "version: 1\ncollections:\n  tasks: {table: tasks\n",
        4,
        1,
        ["malformed YAML", "expected ',' or '}'", "line 3"],
    ),
    (
        "malformed-indent",
        "version: 1\ncollections:\n  tasks:\n    table: tasks\n   fields: {}\n",
        5,
        4,
        ["malformed YAML", "block end"],
    ),
    ("tab-indent", "version: 1\ncollections:\n\ttasks: {}\n", 3, 1, ["malformed YAML", "'\\t'"]),
    (
        "duplicate-key",
        "version: 1\ncollections:\n  tasks:\n    table: a\n    table: b\n",
        5,
        5,
        ["duplicate key", "`table`", "lines 4 and 5"],
    ),
    (
        "duplicate-key-flow",
        "version: 1\ncollections: {t: {table: a, nulls: omit, table: b}}\n",
        2,
        42,
        ["duplicate key", "`table`", "lines 2 and 2"],
    ),
    (
        "duplicate-top-key",
        "version: 1\ncollections: {}\nversion: 1\n",
        3,
        1,
        ["duplicate key", "`version`", "lines 1 and 3"],
    ),
    (
        "python-name-key",
        "version: 1\n? !!python/name:os.system\n: x\n",
        2,
        3,
        ["unsupported YAML tag", "`!!python/name:os.system`"],
    ),
    ("local-tag", "version: !include other.yaml\n", 1, 10, ["unsupported YAML tag", "`!include`"]),
    (
        "binary-tag",
        "version: 1\ndata: !!binary aGVsbG8=\n",
        2,
        7,
        ["unsupported YAML tag", "`!!binary`"],
    ),
    ("set-tag", "version: 1\ncolumns: !!set {a, b}\n", 2, 10, ["unsupported YAML tag", "`!!set`"]),
    ("bad-explicit-int", "version: !!int one\n", 1, 10, ["`one`", "not a valid `int`"]),
    ("recursive-alias", "version: 1\ncollections: &c {t: *c}\n", 2, 14, ["recursive alias"]),
    ("recursive-list", "a: &a [1, [2, *a]]\n", 1, 4, ["recursive alias"]),
    ("recursive-merge", "a: &a {b: 1, <<: *a}\n", 1, 4, ["recursive alias"]),
    ("undefined-alias", "version: 1\ncollections: *nothing\n", 2, 14, ["undefined alias"]),
    ("merge-of-scalar", "a: {<<: 1}\n", 1, 9, ["merge key", "mapping"]),
    ("complex-key", "? [a, b]\n: 1\n", 1, 3, ["key", "plain name"]),
    ("top-level-list", "- version: 1\n", 1, 1, ["top level", "mapping"]),
    ("top-level-scalar", "# a comment\nversion\n", 2, 1, ["top level", "mapping"]),
    ("empty-file", "", 1, 1, ["empty"]),
    ("only-comments", "# nothing here\n", 1, 1, ["empty"]),
    ("two-documents", "version: 1\n---\nversion: 1\n", 2, 1, ["another document"]),
    ("nul-character", "version: 1\ncollections: {a\x00: 1}\n", 2, 16, ["U+0000"]),
    ("deep-nesting", "a: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", 1, 1, ["nested too deeply"]),
]


def _write(tmp_path: Path, text: str | bytes, name: str = "mapping.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _refusal(path: Path) -> SpecError:
    with pytest.raises(SpecError) as caught:
        read_mapping(path)
    return caught.value


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [case[1:] for case in BAD_FILES],
    ids=[case[0] for case in BAD_FILES],
)
def test_bad_file_is_one_problem_at_its_position(tmp_path, text, line, column, words) -> None:
    path = _write(tmp_path, text)
    [problem] = _refusal(path).problems
    assert (problem.file, problem.line, problem.column) == (str(path), line, column), problem
    for word in words:
        assert word in problem.message, problem


def test_python_tag_is_refused_and_never_run(tmp_path) -> None:
    canary = tmp_path / "pwned"
    path = _write(tmp_path, f'version: 1\nx: !!python/object/apply:os.system ["touch {canary}"]\n')
    [problem] = _refusal(path).problems
    assert (problem.line, problem.column) == (2, 4)
    assert "unsupported YAML tag" in problem.message
    assert "!!python/object/apply:os.system" in problem.message
    assert not canary.exists()


def test_every_problem_of_a_readable_file_is_reported(tmp_path) -> None:
    path = _write(
        tmp_path,
        (
            "version: 1\nversion: 1\ncollections:\n  t:\n    table: !!python/name:os.system\n"
            "    table: u\n    columns: [a, !secret b]\n"
        ),
    )
    problems = _refusal(path).problems
    assert [(problem.line, problem.column, problem.path) for problem in problems] == [
        (2, 1, ("version",)),
        (5, 12, ("collections", "t", "table")),
        (6, 5, ("collections", "t", "table")),
        (7, 18, ("collections", "t", "columns", 1)),
    ]
    assert ["duplicate key" in problem.message for problem in problems] == [
        True,
        False,
        True,
        False,
    ]


def test_billion_laughs_is_refused_quickly(tmp_path) -> None:
    path = _write(tmp_path, LAUGHS)
    started = time.perf_counter()
    [problem] = _refusal(path).problems
    assert time.perf_counter() - started < 1.0
    assert "aliases expand to more than" in problem.message
    assert problem.line <= 10


def test_non_utf8_file_names_the_bad_byte(tmp_path) -> None:
    path = _write(tmp_path, b"version: 1\ncollections: {caf\xe9: {table: t}}\n")
    [problem] = _refusal(path).problems
    assert (problem.line, problem.column) == (2, 18)
    assert "UTF-8" in problem.message


def test_missing_file_is_a_problem(tmp_path) -> None:
    [problem] = _refusal(tmp_path / "absent.yaml").problems
    assert "cannot read" in problem.message and problem.file.endswith("absent.yaml")


def test_scalars_follow_yaml_1_2_core(tmp_path) -> None:
    path = _write(
        tmp_path,
        (
            "on: yes\nno: off\ndate: 2024-01-01\noctal: 010\nhex: 0x1F\nsexagesimal: 1:20\n"
            "float: 1.5e3\ninf: -.inf\nnulls: [~, null, ]\nbools: [true, False]\nquoted: '12'\n"
            "under: 1_000\n"
        ),
    )
    assert read_mapping(path).data == {
        "on": "yes",
        "no": "off",
        "date": "2024-01-01",
        "octal": 10,
        "hex": 31,
        "sexagesimal": "1:20",
        "float": 1500.0,
        "inf": float("-inf"),
        "nulls": [None, None],
        "bools": [True, False],
        "quoted": "12",
        "under": "1_000",
    }


def test_positions_point_at_keys_and_items(tmp_path) -> None:
    path = _write(
        tmp_path,
        (
            "# header\nversion: 1\ncollections:\n  tasks:\n    table: tasks\n"
            "    exclude: [a,\n              b]\n"
        ),
    )
    mapping = read_mapping(path)
    assert mapping.path == str(path)
    assert mapping.positions[()] == (2, 1)
    assert mapping.positions[("collections", "tasks")] == (4, 3)
    assert mapping.positions[("collections", "tasks", "table")] == (5, 5)
    assert mapping.positions[("collections", "tasks", "exclude", 1)] == (7, 15)
    assert mapping.position(("collections", "tasks", "fields", "x")) == (4, 3)
    assert mapping.position(("nowhere",)) == (2, 1)


def test_mapping_file_is_frozen(tmp_path) -> None:
    mapping = read_mapping(_write(tmp_path, "version: 1\n"))
    assert isinstance(mapping, MappingFile)
    with pytest.raises(dataclasses.FrozenInstanceError):
        mapping.data = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        mapping.positions[("x",)] = (1, 1)  # type: ignore[index]


def test_aliases_and_merge_keys_expand(tmp_path) -> None:
    path = _write(
        tmp_path,
        (
            "base: &base {table: t, nulls: keep, columns: &cols [a, b]}\n"
            "other: &other {write: rebuild, nulls: omit}\n"
            "c:\n  <<: [*base, *other]\n  table: u\n  exclude: *cols\n"
        ),
    )
    mapping = read_mapping(path)
    assert mapping.data["c"] == {
        "table": "u",
        "nulls": "keep",
        "columns": ["a", "b"],
        "write": "rebuild",
        "exclude": ["a", "b"],
    }
    assert mapping.positions[("c", "table")] == (5, 3)
    assert mapping.positions[("c", "nulls")] == (1, 24)
    assert mapping.positions[("c", "write")] == (2, 16)


def test_a_bom_is_accepted(tmp_path) -> None:
    path = _write(tmp_path, "\ufeffversion: 1\n".encode())
    assert read_mapping(path).data == {"version": 1}
