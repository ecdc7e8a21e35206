"""The proposal as mapping files: YAML written as text, each decision's reason a comment
beside its key; and writing them without ever overwriting a file unasked."""

from __future__ import annotations

import difflib
import json
import re
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from mapper.proposal.propose import CollectionProposal, Node, On, Proposal, Relation, singular

WIDTH = 100
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
# words YAML 1.1 reads as something other than a string
_SPECIAL = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"}


def scalar(text: str) -> str:
    """A string as YAML: plain when it reads back as itself, else double-quoted."""
    if _PLAIN.match(text) and text.lower() not in _SPECIAL:
        return text
    return json.dumps(text, ensure_ascii=False)


def _flow_list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(scalar(item) for item in items) + "]"


def _flow_on(on: On) -> str:
    return "{" + ", ".join(f"{scalar(a)}: {scalar(b)}" for a, b in on) + "}"


def _comment(text: str, indent: int) -> list[str]:
    pad = " " * indent
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=pad + "# ",
        subsequent_indent=pad + "#   ",
        break_on_hyphens=False,
    )


def yaml_files(proposal: Proposal) -> dict[str, str]:
    """File name (`COLLECTION.yaml`) → the text of its mapping file."""
    return {
        f"{collection.name}.yaml": collection_yaml(collection, proposal)
        for collection in proposal.collections
    }


def collection_yaml(collection: CollectionProposal, proposal: Proposal) -> str:
    lines = [
        f"# Proposed by `mapper init` from a {proposal.dialect} source: review each decision",
        "# (the comments give the reasons and numbers), then check it with `mapper lint --strict`.",
        *_comment(f"`{collection.name}`: {collection.reason}.", 0),
        *_comment(
            f"Documents: about {collection.largest_bytes:,} bytes at most, "
            f"{collection.p99_bytes:,} at the 99th percentile (estimated).",
            0,
        ),
        "version: 1",
        "collections:",
        f"  {scalar(collection.name)}:",
        f"    table: {scalar(collection.node.table)}",
    ]
    node = collection.node
    if node.id_rule not in (None, "oid"):
        lines.append(f"    _id: {{column: {scalar(node.id_rule)}}}")
    lines += _node_body(node, 4)
    if collection.indexes:
        lines.append("    indexes:")
        for index in collection.indexes:
            keys = "{" + ", ".join(f"{scalar(key)}: 1" for key in index.keys) + "}"
            unique = ", unique: true" if index.unique else ""
            lines.append(f"      - {{keys: {keys}{unique}}}  # {index.reason}")
    return "\n".join(lines) + "\n"


def _wrapped(key: str, items: tuple[str, ...], indent: int) -> list[str]:
    """`key: [a, b, ...]` as a flow list, continued on more lines (after a comma) where it
    is long."""
    lines = [" " * indent + f"{key}: ["]
    for number, item in enumerate(items):
        text = scalar(item) + (", " if number < len(items) - 1 else "")
        if len(lines[-1]) + len(text.rstrip()) >= WIDTH and not lines[-1].endswith("["):
            lines[-1] = lines[-1].rstrip()
            lines.append(" " * (indent + len(key) + 3))
        lines[-1] += text
    lines[-1] += "]"
    return lines


def _node_body(node: Node, indent: int) -> list[str]:
    pad = " " * indent
    lines = _wrapped("columns", node.columns, indent)
    if node.fields:
        lines.append(f"{pad}fields:")
        for relation in node.fields:
            lines += _comment(relation.reason, indent + 2)
            lines += _relation(relation, indent + 2)
    return lines


def _relation(relation: Relation, indent: int) -> list[str]:
    pad, inner = " " * indent, " " * (indent + 2)
    name, table = scalar(relation.name), scalar(relation.table)
    on = f", on: {_flow_on(relation.on)}" if relation.explicit else ""
    if relation.kind == "count":
        return [f"{pad}{name}: {{count: {table}{on}}}"]
    if relation.kind == "reference":
        return [f"{pad}{name}: {{reference: {table}{on}}}"]
    if relation.kind == "references":
        order = f", order_by: {_flow_list(relation.order_by)}"
        return [f"{pad}{name}: {{reference: {table}{on}{order}}}"]
    lines = [f"{pad}{name}:", f"{inner}embed: {table}"]
    if relation.via is not None:
        via = scalar(relation.via)
        if relation.via_on:
            via = f"{{table: {via}, on: {_flow_on(relation.via_on)}}}"
        lines.append(f"{inner}via: [{via}]")
    if relation.explicit:
        lines.append(f"{inner}on: {_flow_on(relation.on)}")
    assert relation.node is not None, "an embed holds a node"
    if relation.node.id_rule is None:
        lines.append(f"{inner}_id: false")
    lines += _node_body(relation.node, indent + 2)
    if relation.via_columns:
        if not relation.node.fields:
            lines.append(f"{inner}fields:")
        for column in relation.via_columns:
            field = (
                column
                if column not in relation.node.columns
                else f"{singular(relation.via or '')}_{column}"
            )
            lines.append(
                f"{inner}  {scalar(field)}: {{column: {scalar(f'{relation.via}.{column}')}}}"
            )
    if relation.order_by:
        lines.append(f"{inner}order_by: {_flow_list(relation.order_by)}")
    if relation.limit is not None:
        lines += [f"{inner}limit: {relation.limit}", f"{inner}overflow: truncate"]
    if relation.max_depth is not None:
        lines.append(f"{inner}max_depth: {relation.max_depth}")
    return lines


@dataclass(frozen=True)
class Written:
    """What `write` did: the files it wrote, those already as proposed, and the existing
    files it refused to overwrite (then it wrote nothing), each with the diff it would make."""

    written: tuple[Path, ...] = ()
    unchanged: tuple[Path, ...] = ()
    refused: tuple[tuple[Path, str], ...] = ()


def write(files: Mapping[str, str], out: Path, force: bool = False) -> Written:
    """Write `files` into `out`; without `force`, an existing file that differs stops
    everything (nothing is written) and its diff is returned."""
    paths = {out / name: text for name, text in files.items()}
    changed = {path: text for path, text in paths.items() if _current(path) != text}
    unchanged = tuple(path for path in paths if path not in changed)
    refused = tuple(
        (path, _diff(path, text)) for path, text in changed.items() if path.exists() and not force
    )
    if refused:
        return Written(unchanged=unchanged, refused=refused)
    out.mkdir(parents=True, exist_ok=True)
    for path, text in changed.items():
        path.write_text(text, encoding="utf-8")
    return Written(tuple(changed), unchanged)


def _current(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


def _diff(path: Path, text: str) -> str:
    lines: Iterator[str] = difflib.unified_diff(
        (_current(path) or "").splitlines(keepends=True),
        text.splitlines(keepends=True),
        f"{path} (existing)",
        f"{path} (proposed)",
    )
    return "".join(lines)
