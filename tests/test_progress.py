"""What a run shows while it runs: bars on a terminal (read back from a terminal emulator),
log lines without one, and a resumed run's bar starting at what was done."""

from __future__ import annotations

import dataclasses
import fcntl
import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pyte
import pytest
from conftest import SMALL_DEMO_TASKS as TASKS
from conftest import mapper_cli

from mapper import api, progress

ROOT = Path(__file__).resolve().parent.parent
COLUMNS, LINES = 132, 50


def on_a_terminal(*args: str, cwd: Path) -> tuple[int, list[str]]:
    """`python -m mapper ARGS` with a pseudo-terminal as its standard streams: its exit code
    and the final screen, as a terminal emulator shows it."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "mapper", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        cwd=cwd,
        env={**os.environ, "TERM": "xterm", "PYTHONPATH": str(ROOT)},
    )
    os.close(follower)
    screen = pyte.Screen(COLUMNS, LINES)
    stream = pyte.ByteStream(screen)
    deadline = time.monotonic() + 120  # against a hung run only
    try:
        while time.monotonic() < deadline:
            if not select.select([leader], [], [], 1)[0]:
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the process ended and closed the terminal
                break
            if not chunk:
                break
            stream.feed(chunk)
        else:
            raise AssertionError("the run did not end within the deadline")
    finally:
        os.close(leader)
    return process.wait(timeout=60), [line.rstrip() for line in screen.display]


def summary_rows(screen: list[str]) -> dict[str, int]:
    """Collection → rows read, from the summary table on the screen."""
    start = next(i for i, line in enumerate(screen) if line.startswith("collection "))
    rows = {}
    for line in screen[start + 2 :]:
        if line.startswith("-"):
            break
        name, read = line.split()[:2]
        rows[name] = int(read.replace(",", ""))
    return rows


def test_a_run_on_a_terminal_shows_a_finished_bar_per_collection(small_demo_sqlite, tmp_path):
    code, screen = on_a_terminal(
        "run",
        str(ROOT / "mappings"),
        "--source",
        small_demo_sqlite,
        "--target",
        f"file:{tmp_path / 'out'}",
        "--rejects",
        str(tmp_path / "rejects.jsonl"),
        "--batch-size",
        "50",
        cwd=tmp_path,
    )
    text = "\n".join(screen)
    assert code == 0, text
    header = [line for line in screen if "collection" in line and "inserted" in line]
    assert header and header[0].startswith("collection "), text  # at column 0
    read = summary_rows(screen)
    assert read == {"organizations": 3, "projects": 15, "tasks": TASKS, "users": 60}, text
    for name, rows in read.items():
        [bar] = [line for line in screen if line.startswith(f"{name} ") and "%|" in line]
        assert " 100%|" in bar and f" {rows:,}/{rows:,} docs [" in bar, bar
        assert re.search(r"\d docs/s\]$", bar), bar  # a rate
    assert not re.search(r"(?<![\d,])0 docs", text), text  # no finished bar shows `0 docs`


def test_without_a_terminal_each_collection_logs_lines(small_demo_sqlite, tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "LOG_SECONDS", 0.0)  # a line after every batch
    arguments = ["run", str(ROOT / "mappings"), "--source", small_demo_sqlite, "--batch-size"]
    arguments += ["50", "--target", f"file:{tmp_path / 'out'}"]
    result = mapper_cli(*arguments, "--rejects", str(tmp_path / "rejects.jsonl"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for name, rows in {"organizations": 3, "projects": 15, "tasks": TASKS, "users": 60}.items():
        assert re.search(rf"^{name}: {rows:,} docs in [\d.]+ s \(", result.stderr, re.M), name
    assert f"tasks: 50/{TASKS} docs (17%), " in result.stderr
    assert "\r" not in result.stderr and "\x1b" not in result.stderr  # no terminal codes
    quiet = mapper_cli("-q", *arguments, "--rejects", str(tmp_path / "r.jsonl"), cwd=tmp_path)
    assert quiet.returncode == 0 and "docs in" not in quiet.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_starts_at_what_was_done_and_ends_at_its_total() -> None:
    screen = _Terminal()
    with progress.Display("docs", screen) as display:
        display.start("tasks", 300, 100)
        assert " 33%|" in screen.getvalue() and "100/300 docs" in screen.getvalue()
        display.advance("tasks", 150)
        display.finish("tasks")  # the filtered rows count as read: the bar ends full
    assert screen.getvalue().rstrip().splitlines()[-1].count("300/300 docs") == 1


class _Recording(progress.Progress):
    def __init__(self) -> None:
        self.started: dict[str, tuple[int | None, int]] = {}
        self.batches = 0

    def start(self, task: str, total: int | None, done: int = 0) -> None:
        self.started[task] = (total, done)

    def advance(self, task: str, count: int) -> None:
        self.batches += 1


@pytest.mark.integration
def test_a_resumed_run_starts_its_progress_at_what_was_written(
    small_demo_sqlite, mongo_url, tmp_path
) -> None:
    options = api.MigrateOptions(
        batch_size=50, rejects=tmp_path / "rejects.jsonl", state=tmp_path / "state.json"
    )
    first, again = _Recording(), _Recording()
    tasks, strings = ROOT / "mappings" / "tasks.yaml", api.DocumentOptions(decimal_as="string")
    with api.prepare([tasks], small_demo_sqlite, strings) as prepared:
        stopped = api.migrate(
            prepared, mongo_url, options, progress=first, stop_requested=lambda: first.batches > 1
        )
        assert stopped.stopped and first.started == {"tasks": (TASKS, 0)}
        resumed = api.migrate(
            prepared,
            mongo_url,
            dataclasses.replace(options, resume=True),
            progress=again,
        )
    assert resumed.stopped is None
    assert again.started == {"tasks": (TASKS, 100)}  # the two batches written before the stop


def test_demo_validate_and_init_log_their_progress_too(small_demo_sqlite, tmp_path) -> None:
    demo = mapper_cli("demo", "--source", f"sqlite:///{tmp_path / 'demo.db'}", "--scale", "0.05")
    assert demo.returncode == 0, demo.stderr
    assert re.search(r"^tasks: 50 rows in [\d.]+ s", demo.stderr, re.M), demo.stderr
    out = ["--target", f"file:{tmp_path / 'out'}", "--rejects", str(tmp_path / "rejects.jsonl")]
    tasks = [str(ROOT / "mappings" / "tasks.yaml"), "--source", small_demo_sqlite]
    assert mapper_cli("run", *tasks, *out, cwd=tmp_path).returncode == 0
    validate = mapper_cli("validate", *tasks, *out[:2], cwd=tmp_path)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert re.search(rf"^tasks: {TASKS} rows in [\d.]+ s", validate.stderr, re.M), validate.stderr
    init = mapper_cli("init", "--source", small_demo_sqlite, "--out", str(tmp_path / "proposed"))
    assert init.returncode == 0, init.stderr
    assert re.search(r"^statistics: \d+ queries in [\d.]+ s", init.stderr, re.M), init.stderr
