"""A collection's document tree as plain nodes: what the plan's text, JSON and diagrams draw.

Each field of a document shape becomes a `Node` with its name, its kind and a one-line
description; sub-documents and arrays of documents hold their fields, and an `_id` made from
another collection's table says which collection it refers to.

    for collection in plan.collections:
        root = outline(collection, references(plan))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mapper import plan as p

Kind = Literal[
    "document",  # a collection's document, or a sub-document
    "array",  # an array of documents built from child rows
    "id_array",  # an array of ids built from child rows
    "value",
    "constant",
    "template",
    "id",
    "length",
    "depth_guard",
]


@dataclass(frozen=True)
class Node:
    """One field (or the whole document, at the root) of a collection's document tree."""

    name: str
    kind: Kind
    detail: str  # e.g. `tasks.title as string`; for an array `from `comments``
    fields: tuple[Node, ...] = ()
    table: str | None = None  # the table whose rows make it: the root, an array, an id
    type: str | None = None  # the conversion of a value, a template, a length, a constant
    refers_to: str | None = None  # the collection whose `_id` an id (or id array) holds

    @property
    def nested(self) -> bool:
        """Whether the node holds fields of its own (a document or an array of documents)."""
        return self.kind in ("document", "array")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the node's non-empty attributes, its fields nested."""
        data: dict[str, Any] = {"name": self.name, "kind": self.kind, "detail": self.detail}
        for key in ("table", "type", "refers_to"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.nested:
            data["fields"] = [field.as_dict() for field in self.fields]
        return data


def references(plan: p.Plan) -> dict[tuple[str, str], str]:
    """(table, id rule) → the collection whose `_id` is made so from that table's rows: an id
    made the same way elsewhere holds that collection's `_id`."""
    found: dict[tuple[str, str], str] = {}
    for collection in plan.collections:
        for field in collection.document.fields:
            if field.path == ("_id",) and isinstance(field, p.DocumentId):
                found.setdefault((field.table, field.rule), collection.name)
    return found


def outline(collection: p.CollectionPlan, ids: Mapping[tuple[str, str], str]) -> Node:
    """The collection's document as a tree of nodes; `ids` as made by `references`."""
    return Node(
        collection.name,
        "document",
        f"from `{collection.table}`",
        _fields(collection.document, ids, own_id=True),
        table=collection.table,
    )


def _fields(
    shape: p.SubDocument, ids: Mapping[tuple[str, str], str], own_id: bool = False
) -> tuple[Node, ...]:
    return tuple(_node(field, ids, own_id and field.path == ("_id",)) for field in shape.fields)


def _id(field: p.DocumentId, ids: Mapping[tuple[str, str], str], own_id: bool) -> Node:
    return Node(
        _name(field),
        "id",
        f"{field.rule}({field.table}: {', '.join(field.columns)})",
        table=field.table,
        refers_to=None if own_id else ids.get((field.table, field.rule)),
    )


def _array(field: p.Children, ids: Mapping[tuple[str, str], str], own_id: bool) -> Node:
    limit = f", limit {field.limit} ({field.overflow})" if field.limit is not None else ""
    element = field.element
    if isinstance(element, p.DocumentId):
        return Node(
            _name(field),
            "id_array",
            f"[{element.rule}({element.table})]{limit}",
            table=element.table,
            refers_to=ids.get((element.table, element.rule)),
        )
    detail = f"from `{field.query.table}`{limit}"
    return Node(_name(field), "array", detail, _fields(element, ids), table=field.query.table)


def _name(field: p.Shape) -> str:
    return ".".join(field.path)


# a field's node, by its kind: (field, ids, whether it is the collection's own `_id`)
_node = p.by_kind(
    {
        p.Value: lambda field, ids, own_id: Node(
            _name(field), "value", f"{field.source} as {field.conversion}", type=field.conversion
        ),
        p.Length: lambda field, ids, own_id: Node(
            _name(field),
            "length",
            f"{field.source} as {field.conversion}, the length of `{'.'.join(field.array)}`",
            type=field.conversion,
        ),
        p.Constant: lambda field, ids, own_id: Node(
            _name(field), "constant", repr(field.value), type=field.conversion
        ),
        p.Template: lambda field, ids, own_id: Node(
            _name(field), "template", f"template {field.template!r}", type=field.conversion
        ),
        p.DepthGuard: lambda field, ids, own_id: Node(
            _name(field), "depth_guard", f"not unfolded (max_depth; deeper rows: {field.policy})"
        ),
        p.SubDocument: lambda field, ids, own_id: Node(
            _name(field), "document", "", _fields(field, ids)
        ),
        p.DocumentId: _id,
        p.Children: _array,
    }
)
