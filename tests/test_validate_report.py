"""The HTML validation report as a reader sees it: a roll-up per collection, numbers with
thousands separators, ids that stay on one line and copy on click, and what it ran against."""

from __future__ import annotations

import json
import platform
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser import ink, rendered, screenshot
from conftest import mapper_cli

import mapper

ROOT = Path(__file__).resolve().parent.parent
MAPPINGS = ROOT / "mappings"


class _Cells(HTMLParser):
    """The text of each row of each table, by the table's id."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = ""
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr":
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def report(demo_sqlite: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A run into `file:`, one tasks document removed and one changed, then validated."""
    out = tmp_path_factory.mktemp("out")
    done = mapper_cli("run", MAPPINGS, "--source", demo_sqlite, "--target", f"file:{out}")
    assert done.returncode == 0, done.stderr
    tasks = out / "tasks.jsonl"
    lines = tasks.read_text().splitlines()
    changed = json.loads(lines[1])
    changed["title"] = "changed"
    lines[1] = json.dumps(changed)
    removed = json.loads(lines.pop(7))["_id"]["$oid"]
    tasks.write_text("\n".join(lines) + "\n")
    page = out.parent / "report.html"
    done = mapper_cli(
        "validate", MAPPINGS, "--source", demo_sqlite, "--target", f"file:{out}", "--full",
        "--format", "html", "--output", page,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    return page, removed


def test_the_roll_up_has_a_row_per_collection_and_a_total(report: tuple[Path, str]) -> None:
    parser = _Cells()
    parser.feed(report[0].read_text(encoding="utf-8"))
    header, *rows = parser.tables["rollup"]
    assert header[:3] == ["collection", "source rows", "documents"]
    by_name = {row[0]: row for row in rows}
    assert set(by_name) == {"organizations", "projects", "tasks", "users", "total"}
    assert by_name["tasks"][1:3] == ["1,000", "999"]  # thousands separators
    assert (by_name["tasks"][-1], by_name["users"][-1], by_name["total"][-1]) == (
        "FAILED",
        "OK",
        "FAILED",
    )
    assert by_name["total"][1:3] == ["1,260", "1,259"]
    checks = parser.tables["summary"]
    assert len(checks) == 1 + 4 * 7  # a row per collection and check
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*", cell) for row in checks[1:] for cell in row[2:])


def test_the_report_says_what_it_ran_against(report: tuple[Path, str]) -> None:
    page = report[0].read_text(encoding="utf-8")
    run = page[page.index('<dl class="run"') : page.index("</dl>")]
    assert re.search(r"\(sqlite \d+\.\d+", run)  # the source's server and version
    assert "(Extended JSON files)" in run
    assert f"{mapper.__version__} (Python {platform.python_version()})" in run
    started = datetime.fromisoformat(re.search(r'datetime="([^"]+)"', run).group(1))
    assert timedelta(0) <= datetime.now(UTC) - started < timedelta(hours=1)
    assert re.search(r"<dd>\d+\.\d s</dd>", run)  # the duration


def test_ids_stay_on_one_line_and_copy_on_click(report: tuple[Path, str], tmp_path: Path) -> None:
    page, removed = report
    html = page.read_text(encoding="utf-8")
    assert re.search(r"code\.token \{ white-space: nowrap;", html)
    assert f'<code class="token copy" title="click to copy">{removed}</code>' in html
    # a click, as a reader's: the id is copied, or (where the browser refuses the clipboard,
    # as headless Chromium does) selected for Ctrl-C
    probe = tmp_path / "click.html"
    probe.write_text(
        html.replace(
            "</body>",
            "<script>const id = document.querySelector('code.copy'); id.click();"
            "setTimeout(() => { document.body.dataset.probe = id.className + '|' + "
            "getSelection(); }, 500);</script></body>",
        ),
        encoding="utf-8",
    )
    classes, selected = re.search(r'data-probe="([^"|]*)\|([^"]*)"', rendered(probe)).groups()
    first = re.search(r'<code class="token copy" title="click to copy">([^<]+)<', html).group(1)
    assert "copied" in classes.split() or selected == first


def test_the_report_renders_in_a_browser(report: tuple[Path, str], tmp_path: Path) -> None:
    picture = screenshot(report[0], tmp_path / "report.png", width=1300, height=1400)
    assert 0.03 < ink(picture) < 0.6, "the report renders blank (or as one block of colour)"


def test_the_json_report_has_the_run_details(demo_sqlite: str, tmp_path: Path) -> None:
    done = mapper_cli(
        "run", MAPPINGS / "users.yaml", "--source", demo_sqlite, "--target", f"file:{tmp_path}"
    )
    assert done.returncode == 0, done.stderr
    done = mapper_cli(
        "validate", MAPPINGS / "users.yaml", "--source", demo_sqlite,
        "--target", f"file:{tmp_path}", "--format", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["versions"]) == {"mapper", "python", "source", "target"}
    assert report["seconds"] > 0 and report["started"].endswith("+00:00")


def test_the_report_names_the_servers_and_their_versions(
    small_demo_pg: str, mongo_url: str
) -> None:
    files = (MAPPINGS / "users.yaml",)
    done = mapper_cli("run", *files, "--source", small_demo_pg, "--target", mongo_url)
    assert done.returncode == 0, done.stderr
    done = mapper_cli(
        "validate", *files, "--source", small_demo_pg, "--target", mongo_url, "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    versions = json.loads(done.stdout)["versions"]
    assert re.fullmatch(r"postgresql \d+(\.\d+)*", versions["source"])
    assert re.search(r"MongoDB \d+\.\d+", versions["target"])
