"""The README tells the truth: its mapping examples lint clean, its first command works."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mapper.api import lint

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "docs" / "mapping-language.md"]


def yaml_examples(path: Path) -> list[str]:
    """Complete mapping files (with `version:`) in the ```yaml blocks of a document."""
    blocks = re.findall(r"```yaml\n(.*?)```", path.read_text(), flags=re.DOTALL)
    return [
        block
        for block in blocks
        if re.search(r"^version:", block, flags=re.MULTILINE) and "{...}" not in block
    ]


EXAMPLES = [
    (path.name, index, text) for path in DOCS for index, text in enumerate(yaml_examples(path))
]


def test_the_readme_has_examples() -> None:
    assert any(name == "README.md" for name, _, _ in EXAMPLES)


@pytest.mark.parametrize(
    ("name", "index", "text"), EXAMPLES, ids=[f"{name}-{index}" for name, index, _ in EXAMPLES]
)
def test_examples_lint_clean(
    demo_sqlite: str, tmp_path: Path, name: str, index: int, text: str
) -> None:
    path = tmp_path / "example.yaml"
    path.write_text(text)
    assert lint([path], None) == []
    assert lint([path], demo_sqlite) == []


def test_first_command_makes_the_tasks_documents(tmp_path: Path) -> None:
    """`python -m mapper run mappings/` with nothing configured: demo SQLite → out/."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MAPPER_")}
    environment["HOME"] = str(tmp_path / "home")
    work = tmp_path / "work"
    work.mkdir()
    (work / "mappings").symlink_to(ROOT / "mappings")
    result = subprocess.run(
        [sys.executable, "-m", "mapper", "run", "mappings/"],
        cwd=work,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tasks = (work / "out" / "tasks.jsonl").read_text().splitlines()
    assert len(tasks) == 1000
    assert "--source URL" in result.stdout


def python_examples(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)


def test_the_api_example_runs(
    demo_sqlite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's Python example, as written, on the demo database: it migrates and
    validates (its own `assert`), and writes the tasks."""
    [example] = python_examples(ROOT / "README.md")
    (tmp_path / "mappings").symlink_to(ROOT / "mappings")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MAPPER_SOURCE_URL", demo_sqlite)
    exec(compile(example, "README.md", "exec"), {})  # noqa: S102 - the example is the test
    assert len((tmp_path / "out" / "tasks.jsonl").read_text().splitlines()) == 1000
