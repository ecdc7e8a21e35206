"""Rows → documents, following the plan's shapes. Pure functions: no I/O.

A batch of parent rows is built together: every array's child rows for the whole batch come
from one `fetch(children, keys)` call, so the number of queries grows with batches, not rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mapper import plan as p
from mapper.computed import render
from mapper.engine import convert

Row = Sequence[Any]
Fetch = Callable[[p.Children, list[tuple]], list[Row]]


class RowRejected(Exception):
    """A row whose document cannot be built; `reason` names the field, never the value."""

    def __init__(self, reason: str, stage: str = "build"):
        super().__init__(reason)
        self.reason = reason
        self.stage = stage


@dataclass
class Built:
    """Documents of one batch, the rows rejected while building, and arrays truncated."""

    documents: list[tuple[Row, dict]]
    rejected: list[tuple[Row, RowRejected]]
    truncated: int = 0


_NULL_LAST = (1,)


def _sort_key(value: Any) -> tuple:
    if value is None:
        return _NULL_LAST
    if hasattr(value, "tzinfo"):
        value = convert.to_datetime(value)
    elif not isinstance(value, str | int | float) and hasattr(value, "hex"):
        value = str(value)
    return (0, value)


@dataclass
class Group:
    """The built elements of one array for one parent key."""

    elements: list[Any]
    rejected: RowRejected | None = None


class Builder:
    """Builds the documents of one collection plan, batch by batch."""

    def __init__(self, collection: p.CollectionPlan, fetch: Fetch):
        self.collection = collection
        self.fetch = fetch
        self.truncated = 0

    def build_batch(self, rows: list[Row]) -> Built:
        arrays = self._arrays(self.collection.document, rows)
        built, rejected = [], []
        for row in rows:
            try:
                built.append((row, self._document(self.collection.document, row, arrays)))
            except RowRejected as error:
                rejected.append((row, error))
        truncated, self.truncated = self.truncated, 0
        return Built(built, rejected, truncated)

    # --- arrays --------------------------------------------------------------------------

    def _arrays(self, shape: p.SubDocument, rows: list[Row]) -> dict[p.Children, dict]:
        groups: dict[p.Children, dict] = {}
        for children in p.children_of(shape):
            keys = {tuple(row[i] for i in children.parent_key) for row in rows}
            keys.discard(None)
            keys = [key for key in keys if None not in key]
            groups[children] = self._group(children, self.fetch(children, keys) if keys else [])
        return groups

    def _group(self, children: p.Children, rows: list[Row]) -> dict[tuple, Group]:
        link = [children.query.selects.index(ref) for ref in children.query.link]
        element = children.element
        nested = self._arrays(element, rows) if isinstance(element, p.SubDocument) else {}
        for ordering in reversed(children.order):
            rows = sorted(rows, key=lambda row, i=ordering.index: _sort_key(row[i]),
                          reverse=ordering.descending)
        groups: dict[tuple, Group] = defaultdict(lambda: Group([]))
        for row in rows:
            group = groups[tuple(row[i] for i in link)]
            try:
                if isinstance(element, p.DocumentId):
                    group.elements.append(convert.document_id(element, row))
                else:
                    group.elements.append(self._document(element, row, nested))
            except RowRejected as error:
                group.rejected = group.rejected or error
        if children.limit is not None:
            for group in groups.values():
                if len(group.elements) > children.limit:
                    self._overflow(children, group)
        return groups

    def _overflow(self, children: p.Children, group: Group) -> None:
        name = ".".join(children.path)
        if children.overflow == "truncate":
            del group.elements[children.limit:]
            self.truncated += 1
        elif children.limit == 0:
            group.rejected = RowRejected(f"rows nested deeper than `max_depth` under `{name}`",
                                         "overflow")
        else:
            group.rejected = RowRejected(
                f"array `{name}` has {len(group.elements)} elements, more than its limit "
                f"{children.limit}", "overflow")

    # --- documents -----------------------------------------------------------------------

    def _document(self, shape: p.SubDocument, row: Row, arrays: dict) -> dict:
        document: dict[str, Any] = {}
        for field in shape.fields:
            value = self._field(field, row, arrays)
            if value is _OMIT:
                continue
            _put(document, field.path, value)
        return document

    def _field(self, field: p.Shape, row: Row, arrays: dict) -> Any:
        if isinstance(field, p.Value):
            raw = row[field.index]
            if raw is None:
                return None if field.keep_null else _OMIT
            try:
                return convert.get(field.conversion)(raw)
            except (convert.ConversionFailed, ValueError, TypeError, ArithmeticError) as error:
                raise RowRejected(f"cannot convert `{field.source}` to {field.conversion}: "
                                  f"{_reason(error)}", "convert") from None
        if isinstance(field, p.DocumentId):
            value = convert.document_id(field, row)
            return _OMIT if value is None and not field.keep_null else value
        if isinstance(field, p.SubDocument):
            if field.present_index is not None and row[field.present_index] is None:
                return None if field.keep_null else _OMIT
            return self._document(field, row, arrays)
        if isinstance(field, p.Children):
            group = arrays[field].get(tuple(row[i] for i in field.parent_key))
            if group is None:
                return []
            if group.rejected is not None:
                raise group.rejected
            return list(group.elements)
        if isinstance(field, p.Constant):
            return field.value
        if isinstance(field, p.Template):
            return self._template(field, row)
        raise TypeError(f"unknown shape {field!r}")

    def _template(self, field: p.Template, row: Row) -> Any:
        try:
            text = render(field.template, {name: row[i] for name, i in field.variables})
            return convert.get(field.conversion)(text)
        except Exception as error:  # noqa: BLE001 - template errors of any kind reject the row
            raise RowRejected(f"template `{'.'.join(field.path)}` failed: "
                              f"{type(error).__name__}", "template") from None

class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


_OMIT = _Omit()


def _reason(error: Exception) -> str:
    return str(error) if isinstance(error, convert.ConversionFailed) else type(error).__name__


def _put(document: dict, path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        document = document.setdefault(part, {})
    document[path[-1]] = value
