"""`mapper plan --format json|mermaid|html`: the plan as data, and each collection's document
tree drawn (sub-documents, arrays, references between collections)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
import yaml
from browser import ink, screenshot
from conftest import mapper_cli

ROOT = Path(__file__).resolve().parent.parent
MAPPINGS = ROOT / "mappings"
# the shipped mappings' references: (collection, node holding the field, field, collection)
REFERENCES = {
    ("organizations", "organizations", "project_ids", "projects"),
    ("organizations", "members", "user_id", "users"),
    ("projects", "projects", "created_by", "users"),
    ("projects", "organization", "_id", "organizations"),
    ("tasks", "project", "_id", "projects"),
    ("tasks", "organization", "_id", "organizations"),
    ("tasks", "created_by", "_id", "users"),
    ("tasks", "assignees", "_id", "users"),
    ("tasks", "author", "_id", "users"),
    ("users", "memberships", "organization_id", "organizations"),
}


def _plan(demo_sqlite: str, *options: str | Path) -> str:
    result = mapper_cli("plan", MAPPINGS, "--source", demo_sqlite, *options)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _mapped() -> dict[str, dict]:
    """Each shipped mapping's collections, as their YAML says."""
    collections: dict[str, dict] = {}
    for path in sorted(MAPPINGS.glob("*.yaml")):
        collections.update(yaml.safe_load(path.read_text())["collections"])
    return collections


def _references(node: dict, holder: str, collection: str) -> set[tuple[str, str, str, str]]:
    found = set()
    for field in node.get("fields", []):
        if "refers_to" in field:
            found.add((collection, holder, field["name"], field["refers_to"]))
        found |= _references(field, field["name"], collection)
    return found


def test_the_json_plan_parses_and_matches_the_mappings(demo_sqlite: str) -> None:
    plan = json.loads(_plan(demo_sqlite, "--format", "json"))
    mapped = _mapped()
    by_name = {collection["name"]: collection for collection in plan["collections"]}
    assert set(by_name) == set(mapped)
    references = set()
    for name, spec in mapped.items():
        collection = by_name[name]
        document = collection["document"]
        assert (collection["table"], document["kind"]) == (spec["table"], "document")
        assert (
            collection["root_query"].startswith("SELECT")
            and spec["table"] in (collection["root_query"])
        )
        fields = {field["name"]: field for field in document["fields"]}
        assert fields["_id"]["kind"] == "id" and "refers_to" not in fields["_id"]
        assert set(spec["columns"]) | set(spec.get("fields", {})) <= set(fields)
        arrays = {n for n, field in fields.items() if field["kind"] in ("array", "id_array")}
        assert {query["path"] for query in collection["child_queries"]} >= arrays
        for query in collection["child_queries"]:
            assert query["sql"].startswith("SELECT") and query["table"] in query["sql"]
        references |= _references(document, name, name)
    assert references == REFERENCES
    tasks = {field["name"]: field for field in by_name["tasks"]["document"]["fields"]}
    assert (tasks["comments"]["kind"], tasks["comments"]["table"]) == ("array", "comments")
    assert (tasks["project"]["kind"], tasks["priority"]["type"]) == ("document", "int")
    assert [index["keys"] for index in by_name["users"]["indexes"]] == [{"email": 1}]


def test_the_json_plan_says_what_the_text_plan_says(demo_sqlite: str) -> None:
    text = _plan(demo_sqlite)
    plan = json.loads(_plan(demo_sqlite, "--format", "json"))

    def details(node: dict) -> list[str]:
        return [
            item for field in node.get("fields", []) for item in (field["detail"], *details(field))
        ]

    for collection in plan["collections"]:
        for detail in filter(None, details(collection["document"])):
            assert detail in text, detail
        for query in collection["child_queries"]:
            assert f"child query for `{query['path']}`" in text


def test_the_mermaid_flowchart_draws_every_tree_and_reference(demo_sqlite: str) -> None:
    chart = _plan(demo_sqlite, "--format", "mermaid")
    lines = chart.splitlines()
    assert lines[0] == "flowchart LR"
    nodes = dict(re.findall(r'^ {4}(\w+)\[\[?"(.*?)"\]?\]$', chart, re.M))
    titles = {name: re.match(r"<b>(\w+)", label).group(1) for name, label in nodes.items()}
    roots = {title: name for name, title in titles.items() if re.fullmatch(r"c\d+", name)}
    assert set(roots) == set(_mapped())
    assert chart.count("subgraph ") == chart.count("\n  end") == len(roots)
    tree = re.findall(r"^ {4}(\w+) --> (\w+)$", chart, re.M)
    assert {child for _, child in tree} == set(nodes) - set(roots.values())
    assert all(parent in nodes for parent, _ in tree)
    assert ("c2", "c2_5") in tree and titles["c2_5"] == "comments"  # tasks' comments array
    assert '[["<b>comments [ ] from comments</b>' in chart  # an array: double-bordered
    drawn = {
        (collection, titles[source], field, target)
        for source, field, target in re.findall(r"^  (\w+) -\.->\|(\w+)\| (\w+)$", chart, re.M)
        for collection, root in roots.items()
        if source == root or source.startswith(root + "_")
    }
    assert drawn == {(c, h, f, roots[t]) for c, h, f, t in REFERENCES}


def test_mermaid_labels_escape_what_mermaid_parses(demo_sqlite: str, tmp_path: Path) -> None:
    mapping = tmp_path / "odd.yaml"
    mapping.write_text(
        "version: 1\ncollections:\n  odd:\n    table: users\n    columns: [email]\n"
        "    fields:\n      note: {value: 'say \"hi\" <b>#1|2</b>'}\n"
    )
    result = mapper_cli("plan", mapping, "--source", demo_sqlite, "--format", "mermaid")
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if "note" in line]
    label = line.split('["', 1)[1].rsplit('"]', 1)[0]
    assert "#quot;hi#quot;" in label and "#lt;b#gt;#35;1#124;2" in label
    assert not re.search(r'["|]|<(?!/?b>|br/>)', label)


def test_the_html_diagram_renders_in_a_browser(demo_sqlite: str, tmp_path: Path) -> None:
    page = tmp_path / "plan.html"
    result = mapper_cli(
        "plan", MAPPINGS, "--source", demo_sqlite, "--format", "html", "--output", page
    )
    assert result.returncode == 0, result.stderr
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html and "http" not in html.replace(
        "http://www.w3.org/2000/svg", ""
    )  # self-contained: nothing to fetch, nothing to run
    svg = ElementTree.fromstring(html[html.index("<svg") : html.index("</svg>") + 6])
    namespace = "{http://www.w3.org/2000/svg}"
    groups = svg.findall(f"{namespace}g")
    assert {group.get("id") for group in groups} == {f"collection-{n}" for n in _mapped()}
    arrows = svg.findall(f"{namespace}path[@class='arrow']")
    assert len(arrows) == len(REFERENCES)
    titles = {arrow.find(f"{namespace}title").text for arrow in arrows}
    assert {
        "projects.created_by refers to users",
        "tasks.comments.author._id refers to users",
        "organizations.project_ids refers to projects",
    } <= titles
    picture = screenshot(page, tmp_path / "plan.png", width=1600, height=1300)
    assert 0.03 < ink(picture) < 0.6, "the diagram renders blank (or as one block of colour)"


def test_no_arrow_crosses_a_card(demo_sqlite: str) -> None:
    from mapper import api, diagram

    with api.prepare([MAPPINGS], demo_sqlite) as prepared:
        drawn = diagram.drawing(prepared.plan)
    assert len(drawn.arrows) == len(REFERENCES)
    for arrow in drawn.arrows:
        moves = arrow.path.split()
        x, y = float(moves[1]), float(moves[2])
        for move, value in zip(moves[3::2], map(float, moves[4::2]), strict=True):
            end = (value, y) if move == "H" else (x, value)
            for card in drawn.cards:  # no segment passes through a card's inside
                inside_x = max(x, end[0]) > card.x + 1 and min(x, end[0]) < card.x + card.width - 1
                inside_y = max(y, end[1]) > card.y + 1 and min(y, end[1]) < card.y + card.height - 1
                assert not (inside_x and inside_y), (arrow.title, card.name)
            x, y = end
        target = next(card for card in drawn.cards if arrow.title.endswith(f" {card.name}"))
        assert target.x < x < target.x + target.width and y == pytest.approx(target.y - 2)


def test_the_diagrams_show_an_arrays_limit(demo_sqlite: str, tmp_path: Path) -> None:
    mapping = tmp_path / "limited.yaml"
    mapping.write_text(
        "version: 1\ncollections:\n  people:\n    table: users\n    columns: [email]\n"
        "    fields:\n      tasks:\n        embed: tasks\n        on: {id: created_by}\n"
        "        columns: [title]\n        limit: 3\n        overflow: truncate\n"
    )
    for form in ("mermaid", "html"):
        result = mapper_cli("plan", mapping, "--source", demo_sqlite, "--format", form)
        assert result.returncode == 0, result.stderr
        assert "tasks [ ] from tasks, limit 3 (truncate)" in result.stdout, form
