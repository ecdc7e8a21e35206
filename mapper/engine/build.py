"""Rows → documents, following the plan's shapes. Pure functions: no I/O.

A batch of parent rows is built together: every array's child rows for the whole batch come
from one `fetch(children, keys)` call, so the number of queries grows with batches, not rows.
Each shape is compiled once into small closures, so that building a document does no dispatch
on shape types and no lookups by plan objects.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from mapper import plan as p
from mapper.computed import render
from mapper.engine import convert
from mapper.engine.codegen import flat, generate
from mapper.ids import oid

Row = Sequence[Any]
Document = dict[str, Any]
Fetch = Callable[[p.Children, list[Any] | p.Span], list[Row]]  # by parent keys, or key span
ByRange = Callable[[p.CollectionPlan, p.Children], bool]  # an array read by a batch's range
# per array: its groups by parent key (a value, or a tuple of several: `key_getter`)
Arrays = dict[int, dict[Any, "Group"]]
Fetched = dict[int, tuple[list[Row], "Fetched"]]  # per array: child rows, nested arrays
Getter = Callable[[Row, Arrays], Any]


# ObjectIds kept per table from batch to batch: rows that repeat (users, projects) are hashed
# once, and memory stays bounded for tables whose rows do not (a cache past this is emptied).
OID_CACHE_SIZE = 5_000


class RowRejected(Exception):
    """A row whose document cannot be built; `reason` names the field, never the value."""

    def __init__(self, reason: str, stage: str = "build"):
        super().__init__(reason)
        self.reason = reason
        self.stage = stage


@dataclass
class Built:
    """Documents of one batch, the rows rejected while building, and arrays truncated."""

    documents: list[tuple[Row, Document]]
    rejected: list[tuple[Row, RowRejected]]
    truncated: int = 0


@dataclass
class Group:
    """The built elements of one array for one parent key."""

    elements: list[Any]
    rejected: RowRejected | None = None


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT = _Omit()


class Builder:
    """Builds the documents of one collection plan, batch by batch."""

    def __init__(
        self,
        collection: p.CollectionPlan,
        fetch: Fetch,
        generated: bool = True,
        by_range: ByRange = p.read_by_range,
    ):
        """`generated=False` keeps to the per-field closures (the generated code's reference);
        `by_range` says which arrays a batch's key range reads (`Extractor.by_range`)."""
        self.collection = collection
        self.fetch = fetch
        self.generated = generated
        self.truncated = 0
        self._oids: dict[str, dict[Any, Any]] = {}
        self._by_range = {
            id(children)
            for children in p.children_of(collection.document, guards=True)
            if by_range(collection, children)
        }
        self._elements: dict[int, Getter] = {}
        self._arrays_of: dict[int, tuple[p.Children, ...]] = {}
        self._getters: dict[int, Getter] = {}  # of every field compiled, for generated code
        self._compile: Callable[[p.Shape, p.SubDocument | None], Getter] = p.by_kind(
            {
                p.Value: lambda field, _: _compile_value(field),
                p.Constant: lambda field, _: _compile_constant(field),
                p.Template: lambda field, _: _compile_template(field),
                p.DocumentId: lambda field, _: self._compile_id(field),
                p.SubDocument: lambda field, _: self._compile_subdocument(field),
                p.Children: lambda field, _: _compile_children(field),
                p.Length: _compile_length,  # of an array of its document
                p.DepthGuard: lambda field, _: self._compile_depth_guard(field),
            }
        )
        self._document = self._compile_document(collection.document)

    def fetch_batch(self, rows: list[Row], span: p.Span | None = None) -> Fetched:
        """The child rows of every array of a batch, nested arrays included (all the I/O).
        `span`: the root keys the batch covers when it holds every root row in them; the
        arrays that `plan.read_by_range` allows are then read by that range."""
        return self._fetch(self.collection.document, rows, span)

    def build_batch(self, rows: list[Row], fetched: Fetched | None = None) -> Built:
        """The documents of a batch, from its child rows (fetched now unless given)."""
        each, truncated = self.build_each(rows, fetched)
        built: list[tuple[Row, Document]] = []
        rejected: list[tuple[Row, RowRejected]] = []
        for row, result in each:
            if isinstance(result, RowRejected):
                rejected.append((row, result))
            else:
                built.append((row, result))
        return Built(built, rejected, truncated)

    def build_each(
        self, rows: list[Row], fetched: Fetched | None = None
    ) -> tuple[Iterator[tuple[Row, Document | RowRejected]], int]:
        """Each row's document (or why it is rejected), built only when asked for, so that
        a document can be encoded and dropped before the next is built; and the number of
        arrays truncated. The iterator must be used up before the next batch is built."""
        if fetched is None:
            fetched = self.fetch_batch(rows)
        for cache in self._oids.values():
            if len(cache) > OID_CACHE_SIZE:
                cache.clear()
        arrays = self._arrays(self.collection.document, fetched)
        truncated, self.truncated = self.truncated, 0
        return self._each(rows, arrays), truncated

    def _each(
        self, rows: list[Row], arrays: Arrays
    ) -> Iterator[tuple[Row, Document | RowRejected]]:
        build = self._document
        for row in rows:
            try:
                yield row, build(row, arrays)
            except RowRejected as error:
                yield row, error.with_traceback(None)
            except Exception as error:  # noqa: BLE001 - whatever fails one row rejects it
                yield row, _unexpected(error)

    # --- arrays --------------------------------------------------------------------------

    def _fetch(self, shape: p.SubDocument, rows: list[Row], span: p.Span | None = None) -> Fetched:
        fetched: Fetched = {}
        for children in self._children_of(shape):
            if span is not None and rows and id(children) in self._by_range:
                child_rows = self.fetch(children, span)
            else:
                keys = [
                    key
                    for key in set(map(key_getter(children.parent_key), rows))
                    if not _has_null(key)
                ]
                child_rows = self.fetch(children, keys) if keys else []
            element = children.element
            fetched[id(children)] = (
                child_rows,
                self._fetch(element, child_rows) if isinstance(element, p.SubDocument) else {},
            )
        return fetched

    def _arrays(self, shape: p.SubDocument, fetched: Fetched) -> Arrays:
        return {
            id(children): self._group(children, *fetched[id(children)])
            for children in self._children_of(shape)
        }

    def _children_of(self, shape: p.SubDocument) -> tuple[p.Children, ...]:
        """The arrays the rows of `shape` feed (depth guards' included), walked once."""
        found = self._arrays_of.get(id(shape))
        if found is None:
            found = self._arrays_of[id(shape)] = p.children_of(shape, guards=True)
        return found

    def _group(self, children: p.Children, rows: list[Row], fetched: Fetched) -> dict[Any, Group]:
        link = key_getter([children.query.selects.index(ref) for ref in children.query.link])
        element = children.element
        nested = self._arrays(element, fetched) if isinstance(element, p.SubDocument) else {}
        build = self._compiled_element(children)
        groups: dict[Any, Group] = defaultdict(lambda: Group([]))
        for row in rows:
            group = groups[link(row)]
            try:
                group.elements.append(build(row, nested))
            except RowRejected as error:
                group.rejected = group.rejected or error.with_traceback(None)
            except Exception as error:  # noqa: BLE001 - whatever fails one row rejects it
                group.rejected = group.rejected or _unexpected(error)
        if children.limit is not None:
            for group in groups.values():
                if len(group.elements) > children.limit:
                    self._overflow(children, group)
        return groups

    def _compiled_element(self, children: p.Children) -> Getter:
        if id(children) not in self._elements:
            self._elements[id(children)] = self._compile(children.element, None)
        return self._elements[id(children)]

    def _overflow(self, children: p.Children, group: Group) -> None:
        name = ".".join(children.path)
        if children.overflow == "truncate":
            del group.elements[children.limit :]
            self.truncated += 1
        else:
            group.rejected = RowRejected(
                f"array `{name}` has {len(group.elements)} elements, more than its limit "
                f"{children.limit}",
                "overflow",
            )

    # --- compiling shapes into closures --------------------------------------------------

    def _compile_document(self, shape: p.SubDocument) -> Getter:
        fields = [(field.path, self._compile(field, shape)) for field in shape.fields]
        self._getters.update(
            (id(field), getter) for field, (_, getter) in zip(shape.fields, fields, strict=True)
        )
        named = [(path[0], getter) for path, getter in fields]

        def build_flat(row: Row, arrays: Arrays) -> Document:
            document = {}
            for name, getter in named:
                value = getter(row, arrays)
                if value is not OMIT:
                    document[name] = value
            return document

        def build_nested(row: Row, arrays: Arrays) -> Document:
            document: Document = {}
            for path, getter in fields:
                value = getter(row, arrays)
                if value is not OMIT:
                    _put(document, path, value)
            return document

        if not flat(shape):
            return build_nested
        if not self.generated:
            return build_flat
        return generate(shape, lambda field: self._getters[id(field)], build_flat, self._oids, OMIT)

    def _compile_depth_guard(self, field: p.DepthGuard) -> Getter:
        """No field; a row with data deeper than `max_depth` is rejected or counted."""
        if field.present_index is not None:
            present = field.present_index

            def deeper(row: Row, arrays: Arrays) -> bool:
                return row[present] is not None
        else:
            assert field.deeper is not None, "a depth guard reads a row's or its children's"
            elements = _elements_of(field.deeper)

            def deeper(row: Row, arrays: Arrays) -> bool:
                return bool(elements(row, arrays))

        reject = field.policy == "reject"
        reason = f"rows nested deeper than `max_depth` under `{'.'.join(field.path)}`"

        def guard(row: Row, arrays: Arrays) -> Any:
            if deeper(row, arrays):
                if reject:
                    raise RowRejected(reason, "depth")
                self.truncated += 1
            return OMIT

        return guard

    def _compile_subdocument(self, field: p.SubDocument) -> Getter:
        build = self._compile_document(field)
        present, absent = field.present_index, None if field.keep_null else OMIT
        if present is None:
            return build
        return lambda row, arrays: absent if row[present] is None else build(row, arrays)

    def _compile_id(self, field: p.DocumentId) -> Getter:
        absent = None if field.keep_null else OMIT
        if field.rule == "oid":
            table, key = field.table, key_getter(field.indexes)
            single = len(field.indexes) == 1
            cache = self._oids.setdefault(table, {})

            def object_id(row: Row, arrays: Arrays) -> Any:
                value = key(row)
                found = cache.get(value)
                if found is None:
                    if _has_null(value):
                        return absent
                    found = cache[value] = oid(table, (value,) if single else value)
                return found

            return object_id

        columns = ", ".join(f"`{field.table}.{column}`" for column in field.columns)

        def other_id(row: Row, arrays: Arrays) -> Any:
            try:
                value = convert.document_id(field, row)
            except convert.ConversionFailed as error:
                raise RowRejected(
                    f"cannot make `{'.'.join(field.path) or 'reference'}` from {columns}: {error}",
                    "convert",
                ) from None
            return absent if value is None else value

        return other_id


def _compile_value(field: p.Value) -> Getter:
    index, conversion = field.index, convert.get(field.conversion)
    absent = None if field.keep_null else OMIT
    source, name = field.source, field.conversion
    as_is = str if name == "string" else None  # values that need no conversion

    def value(row: Row, arrays: Arrays) -> Any:
        raw = row[index]
        if raw is None:
            return absent
        if type(raw) is as_is:
            return raw
        try:
            return conversion(raw)
        except (convert.ConversionFailed, ValueError, TypeError, ArithmeticError) as error:
            reason = (
                str(error) if isinstance(error, convert.ConversionFailed) else type(error).__name__
            )
            raise RowRejected(f"cannot convert `{source}` to {name}: {reason}", "convert") from None

    return value


def _compile_constant(field: p.Constant) -> Getter:
    value = convert.constant(field.conversion, field.value)
    return lambda row, arrays: value


def _compile_children(field: p.Children) -> Getter:
    elements = _elements_of(field)

    def array(row: Row, arrays: Arrays) -> list[Any]:
        return list(elements(row, arrays))

    return array


def _compile_length(field: p.Length, shape: p.SubDocument) -> Getter:
    """The length of a sibling array (whose rejected rows reject the document as well)."""
    elements = _elements_of(
        next(f for f in shape.fields if isinstance(f, p.Children) and f.path == field.array)
    )
    conversion = convert.get(field.conversion)

    def length(row: Row, arrays: Arrays) -> Any:
        return conversion(len(elements(row, arrays)))

    return length


def _elements_of(field: p.Children) -> Callable[[Row, Arrays], list[Any]]:
    """A row's elements of an array (none when it has no child rows); a child row that
    could not be built rejects the row."""
    key, children_id = key_getter(field.parent_key), id(field)

    def elements(row: Row, arrays: Arrays) -> list[Any]:
        group = arrays[children_id].get(key(row))
        if group is None:
            return []
        if group.rejected is not None:
            raise group.rejected
        return group.elements

    return elements


def _compile_template(field: p.Template) -> Getter:
    """A rendered template; NULL when it used a NULL value (`computed`'s NULL rule), its text
    parsed by the field's conversion."""
    conversion, variables = field.conversion, field.variables
    name, absent = ".".join(field.path), None if field.keep_null else OMIT

    def template(row: Row, arrays: Arrays) -> Any:
        try:
            text = render(field.template, {n: row[i] for n, i in variables})
        except Exception as error:  # noqa: BLE001 - template errors of any kind reject the row
            raise RowRejected(
                f"template `{name}` failed: {type(error).__name__}", "template"
            ) from None
        if text is None:
            return absent
        try:
            return convert.from_text(conversion, text)
        except convert.ConversionFailed as error:
            raise RowRejected(
                f"cannot convert template `{name}` to {conversion}: {error}", "convert"
            ) from None

    return template


def _unexpected(error: Exception) -> RowRejected:
    """A row whose building failed other than by a known rejection (its type only: the
    message may quote the row)."""
    return RowRejected(f"building the document failed: {type(error).__name__}")


def key_getter(indexes: Sequence[int]) -> Callable[[Row], Any]:
    """A row's values at `indexes`: a scalar for one index, a tuple for several."""
    return itemgetter(*indexes)


def _has_null(key: Any) -> bool:
    return key is None or (type(key) is tuple and None in key)


def _put(document: Document, path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        document = document.setdefault(part, {})
    document[path[-1]] = value
