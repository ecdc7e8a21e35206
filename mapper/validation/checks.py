"""The checks: counts, arrays, references, denormalized copies, types and deep equality.

A collection is checked batch by batch of its root table's rows (memory bounded by a batch):
the batch's expected `_id`s, its documents fetched from the target by `_id`, and for them

- counts: a document per source row (extras: the target's total minus those matched);
- arrays, denormalized copies and reference ids: SQL of validation's own over the plan's
  names (`sql.ChildRows`), for the batch's parents;
- references: every referenced `_id` (arrays of them too) exists in its collection;
- types and schema: the BSON type each conversion promises, the generated validator;
- deep equality: documents rebuilt independently of the run (`rebuild`), for a random
  sample (held in a reservoir while the batches go by) or for every row.
"""

from __future__ import annotations

import platform
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from bson import ObjectId
from pymongo import errors as mongo_errors

from mapper import __version__, ids
from mapper import plan as p
from mapper.catalog import Catalog
from mapper.compile import Compiler
from mapper.config import redact
from mapper.engine import convert
from mapper.engine.extract import snapshot
from mapper.engine.server_errors import target_error
from mapper.errors import SourceError
from mapper.progress import SILENT, Progress
from mapper.spec import MappingFile, read_mapping
from mapper.validation import rows as r
from mapper.validation.rebuild import Document, Rebuild, Rejected
from mapper.validation.results import CollectionResult, Difference, Report
from mapper.validation.source import Row, Source
from mapper.validation.sql import ChildRows
from mapper.validation.targets import Collection, Targets
from mapper.validation.values import (
    MISSING,
    at,
    bson_type,
    canon,
    diff,
    get,
    show,
    type_ok,
)
from mapper.validator import json_schema, violations

MAX_DIFFERENCES = 1000
DIFFERENCES_PER_DOCUMENT = 20
BATCH_SIZE = 1000
# composite keys a query looks up at once: an OR of ANDs, which SQLite parses into a tree as
# deep as it is long (at most 1000 levels)
COMPOSITE_KEYS_PER_QUERY = 200

Key = tuple[Any, ...]  # the values of a parent key (or of an element's link to its parent)
Form = tuple[Hashable, ...]  # the canonical values copied into one array element
PlanRow = sa.Row[*tuple[Any, ...]]  # a row of the plan's root query
LengthAt = tuple[p.FieldPath, p.Length]  # where a document holds an array's length
Top = tuple[p.FieldPath, r.Copied, tuple[int, ...], str]  # path, field, present, its check
ArrayShape = tuple[p.FieldPath, p.Children, tuple[int, ...], list[LengthAt]]  # path, ..., lengths
Copies = tuple[list[p.FieldPath], dict[Key, Counter[Form]]]  # elements' paths, per parent
Nested = list[tuple[p.FieldPath, dict[Key, Counter[int | None]]]]  # inner arrays' lengths
# an array's shape, then its child rows per parent key, its elements' copies, nested lengths
ArraySources = tuple[
    p.FieldPath, p.Children, tuple[int, ...], list[LengthAt], dict[Key, int], Copies | None, Nested
]


def validate(
    plan: p.Plan,
    engine: sa.Engine,
    catalog: Catalog,
    target: str,
    *,
    mappings: Sequence[MappingFile] | None = None,
    sample: int | None = 200,
    decimal_as: str = "decimal128",
    seed: int | None = None,
    only: tuple[str, ...] = (),
    values: bool = True,
    batch_size: int = BATCH_SIZE,
    progress: Progress = SILENT,
) -> Report:
    """Compare a `mongodb://` or `file:` target with the source; `sample=None` compares
    every document. `mappings` are the files the plan was made from (read again from the
    plan's paths when not given); `values=False` shows differences as paths and BSON types
    only, never a row's values. `progress` has a task per collection, in root rows."""
    if mappings is None:
        mappings = [read_mapping(path) for path in dict.fromkeys(c.file for c in plan.collections)]
    plan = p.with_decimals(plan, decimal_as)
    mode = "every document" if sample is None else f"sample of {sample} per collection"
    started = time.perf_counter()
    report = Report(
        redact(engine.url.render_as_string(hide_password=True)),
        redact(target),
        mode if values else f"{mode}; values hidden: paths and BSON types only",
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        versions={"mapper": __version__, "python": platform.python_version()},
    )
    targets = Targets(target)
    checking = ""  # the collection being checked, named by a target's error
    try:
        with snapshot(engine) as connection:
            report.versions["source"] = _server(connection.dialect)
            rebuild = Rebuild(mappings, catalog, Source(connection, catalog), decimal_as)
            checker = _Checker(
                plan,
                catalog,
                connection,
                report,
                random.Random(seed),
                rebuild,
                targets,
                show if values else _type_of,
                progress,
            )
            for collection in plan.collections:
                if not only or collection.name in only:
                    checking = collection.name
                    checker.collection(collection, sample, batch_size)
        checking = ""
        report.versions["target"] = targets.server()  # after the collections: they name errors
    except mongo_errors.PyMongoError as error:
        raise target_error(error, checking) from None
    except sa.exc.DBAPIError as error:
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        raise SourceError(f"source failed: {redact(reason)}") from None
    finally:
        targets.close()
    report.seconds = time.perf_counter() - started
    return report


def _server(dialect: sa.Dialect) -> str:
    """The source's database and version, as its driver reports them (`postgresql 16.4`)."""
    version = ".".join(str(part) for part in dialect.server_version_info or ())
    return f"{dialect.name} {version}".strip()


def _type_of(value: Any) -> str:
    """A value shown as its BSON type only (`--no-values`)."""
    return "(absent)" if value is MISSING else bson_type(value)


@dataclass
class _Shapes:
    """What the plan says a collection's documents hold, for the checks but equality."""

    tops: list[Top]  # copied values and ids
    arrays: list[ArrayShape]
    typed: list[tuple[p.FieldPath, p.Value | p.Template | p.Length]]  # every converted value
    schema: dict[str, Any] | None
    references: list[tuple[p.FieldPath, Collection, str]]  # abstract path, target, name


@dataclass
class _Row:
    """One source row of a batch: its rebuild row, key text, expected `_id`, document."""

    row: Row
    key: str
    value: Any  # the _id, None (a NULL key) or Rejected
    document: Document | None = None

    @property
    def ident(self) -> str:
        return _ident(self.value)


class _Checker:
    def __init__(
        self,
        plan: p.Plan,
        catalog: Catalog,
        connection: sa.Connection,
        report: Report,
        rng: random.Random,
        rebuild: Rebuild,
        targets: Targets,
        shown: Callable[[Any], str],
        progress: Progress,
    ):
        self.plan, self.connection, self.compiler = plan, connection, Compiler(catalog)
        self.report, self.rng, self.rebuild, self.targets = report, rng, rebuild, targets
        self.show, self.progress = shown, progress
        self.shown: dict[Form, list[Any]] = {}  # the values a copied form is shown as

    def add(
        self,
        result: CollectionResult,
        check: str,
        ident: str = "",
        key: str = "",
        path: str = "",
        expected: str = "",
        actual: str = "",
        message: str = "",
        count: bool = True,
    ) -> None:
        if count:
            result.checks[check].failed += 1
        self.report.total_differences += 1
        if len(self.report.differences) < MAX_DIFFERENCES:
            self.report.differences.append(
                Difference(result.name, check, ident, key, path, expected, actual, message)
            )

    # --- per collection ------------------------------------------------------------------

    def collection(self, collection: p.CollectionPlan, sample: int | None, batch_size: int) -> None:
        result = CollectionResult(collection.name)
        self.report.collections.append(result)
        target = self.targets.collection(collection.name, collection.database)
        shapes = self._shapes(collection)
        reservoir: list[_Row] = []
        offered = matched = 0
        unique: set[Hashable] | None = (
            None
            if self.rebuild.specs[collection.name].get("_id", "oid") in ("oid", "key")
            else set()
        )  # only `_id: {column}` can repeat one
        total = self.connection.execute(self.compiler.count(collection.table)).scalar_one()
        self.progress.start(collection.name, total)
        for rows in self.rebuild.batches(collection.name, batch_size):
            batch = self._batch(result, collection, target, shapes, rows, unique)
            self.progress.advance(collection.name, len(rows))
            matched += sum(row.document is not None for row in batch)
            present = [row for row in batch if row.document is not None]
            if sample is None:
                self._equality(result, collection, present)
            else:
                for row in present:  # a uniform sample of rows with documents (Algorithm R)
                    offered += 1
                    slot = offered - 1 if len(reservoir) < sample else self.rng.randrange(offered)
                    if slot < sample:
                        row.document = None  # fetched again when compared
                        reservoir[slot : slot + 1] = [row]
            self.rebuild.source.clear()
        for start in range(0, len(reservoir), batch_size):
            chunk = reservoir[start : start + batch_size]
            found = target.find([row.value for row in chunk])
            for row in chunk:
                row.document = found.get(canon(row.value))
            self._equality(result, collection, [row for row in chunk if row.document])
            self.rebuild.source.clear()
        self.progress.finish(collection.name)
        result.documents = target.count()
        if result.documents - matched - len(target.duplicates) > 0:
            self._extras(result, collection, target)

    def _shapes(self, collection: p.CollectionPlan) -> _Shapes:
        row_fields = _row_fields(collection.document)
        tops = [
            (path, shape, present, check)
            for path, shape, present in row_fields
            if isinstance(shape, p.Value | p.DocumentId)
            and (check := r.top_check(collection.query, path, shape))
        ]
        lengths = [
            (path, path[: len(path) - len(shape.path)] + shape.array, shape)
            for path, shape, _ in row_fields
            if isinstance(shape, p.Length)
        ]
        arrays = [
            (
                path,
                shape,
                present,
                [(where, length) for where, array, length in lengths if array == path],
            )
            for path, shape, present in row_fields
            if isinstance(shape, p.Children)
        ]
        typed = [
            (place.path, place.field)
            for place in p.walk(collection.document)
            if isinstance(place.field, p.Value | p.Template | p.Length)
        ]
        schema = json_schema(collection)["$jsonSchema"] if collection.validator else None
        databases = {c.name: c.database for c in self.plan.collections}
        references = [
            (path, self.targets.collection(name, databases.get(name)), name)
            for path, name in self.rebuild.references(collection.name)
            if name in self.rebuild.specs
        ]
        return _Shapes(tops, arrays, typed, schema, references)

    def _batch(
        self,
        result: CollectionResult,
        collection: p.CollectionPlan,
        target: Collection,
        shapes: _Shapes,
        rows: list[Row],
        unique: set[Hashable] | None,
    ) -> list[_Row]:
        """Counts, arrays, copies, references, types and schema of one batch of root rows;
        the rows without a document are rebuilt here, to tell a row the run rejects."""
        key_columns = self.rebuild.key_columns(collection.name)
        batch = [
            _Row(
                row,
                ids.key_text([row[c] for c in key_columns]),
                self.rebuild.document_id(collection.name, row),
            )
            for row in rows
        ]
        result.source_rows += len(batch)
        counts = result.checks["counts"]
        counts.checked += len(batch)
        wanted = [
            row for row in batch if row.value is not None and not isinstance(row.value, Rejected)
        ]
        found = target.find([row.value for row in wanted])
        missing = []
        for row in batch:
            if row.value is None:
                self.add(
                    result,
                    "counts",
                    key=row.key,
                    message="the source row gives no _id (its key is NULL)",
                )
                continue
            if isinstance(row.value, Rejected):
                result.rejected += 1  # the run rejects it: no document expected
                continue
            form = canon(row.value)
            if unique is not None:
                if form in unique:  # the run writes the first row, rejects the others
                    row.value = Rejected("duplicate", "another source row gives this _id")
                    result.rejected += 1
                    continue
                unique.add(form)
            row.document = found.get(form)
            if row.document is None:
                missing.append(row)
            elif form in target.duplicates:
                self.add(result, "counts", row.ident, row.key, message="duplicate document")
        for row, expected in zip(
            missing,
            self.rebuild.documents(collection.name, [row.row for row in missing]),
            strict=True,
        ):
            if isinstance(expected, Rejected):
                result.rejected += 1
            else:
                self.add(
                    result, "counts", row.ident, row.key, message="no document for this source row"
                )
        present = [row for row in batch if row.document is not None]
        self._documents(result, collection, shapes, present)
        return batch

    def _documents(
        self,
        result: CollectionResult,
        collection: p.CollectionPlan,
        shapes: _Shapes,
        present: list[_Row],
    ) -> None:
        """The checks of each present document but equality."""
        self.shown.clear()  # the values shown for copies: one batch's at most
        plan_rows = self._plan_rows(collection, present)
        arrays = [
            (
                path,
                children,
                where,
                lengths,
                *self._array_sources(
                    children,
                    [
                        tuple(row[i] for i in children.parent_key)
                        for row in plan_rows.values()
                        if not any(row[i] is None for i in where)
                    ],
                ),
            )
            for path, children, where, lengths in shapes.arrays
        ]
        pending: dict[int, list[tuple[_Row, str, Any]]] = defaultdict(list)  # row, where, _id
        for row in present:
            document = row.document
            self._types(result, shapes.typed, document, row.ident, row.key)
            if shapes.schema is not None:
                self._schema(result, shapes.schema, document, row.ident, row.key)
            for number, (path, _, _) in enumerate(shapes.references):
                for where, value in at(document, path):
                    pending[number].append((row, where, value))
            plan_row = plan_rows.get(row.key)
            if plan_row is not None:
                self._row(result, plan_row, document, row.ident, row.key, shapes.tops, arrays)
        for number, items in pending.items():
            _, referenced, name = shapes.references[number]
            existing = referenced.present([value for _, _, value in items])
            for row, where, value in items:
                result.checks["references"].checked += 1
                if canon(value) not in existing:
                    self.add(
                        result,
                        "references",
                        row.ident,
                        row.key,
                        where,
                        f"an _id in {name}",
                        self.show(value),
                        f"no such document in {name}",
                    )

    def _plan_rows(self, collection: p.CollectionPlan, present: list[_Row]) -> dict[str, PlanRow]:
        """The plan's root rows of a batch, by key text (for the SQL-side checks)."""
        if not present:
            return {}
        columns = self.rebuild.key_columns(collection.name)
        keys = [tuple(row.row[c] for c in columns) for row in present]
        step = len(keys) if len(columns) == 1 else COMPOSITE_KEYS_PER_QUERY
        found: dict[str, PlanRow] = {}
        for start in range(0, len(keys), step):
            chosen = r.key_filter(collection, keys[start : start + step])
            query = replace(collection.query, filter=r.both(collection.query.filter, chosen))
            found.update(
                (r.key(collection, row), row)
                for row in self.connection.execute(self.compiler.select(query))
            )
        return found

    def _extras(
        self, result: CollectionResult, collection: p.CollectionPlan, target: Collection
    ) -> None:
        """Name the documents from no source row: the expected ids (only they) in memory."""
        expected: set[Hashable] = set()
        for rows in self.rebuild.batches(collection.name, BATCH_SIZE):
            expected.update(canon(self.rebuild.document_id(collection.name, row)) for row in rows)
        for value in target.ids():
            if canon(value) not in expected:
                result.checks["counts"].checked += 1
                self.add(result, "counts", _ident(value), message="document from no source row")

    def _row(
        self,
        result: CollectionResult,
        row: PlanRow,
        document: object,
        ident: str,
        key: str,
        tops: list[Top],
        arrays: list[ArraySources],
    ) -> None:
        """Copied values and reference ids at the top level, then every array of the row."""
        for path, shape, present, check in tops:
            want = r.expected(shape, row, present)
            if want is r.SKIP:
                continue
            have = get(document, path)
            result.checks[check].checked += 1
            if canon(want) != canon(have):
                self.add(
                    result,
                    check,
                    ident,
                    key,
                    ".".join(path),
                    self.show(want),
                    self.show(have),
                    "differs from the source",
                )
        for path, children, present, lengths, counts, copies, nested in arrays:
            if any(row[i] is None for i in present):
                continue
            parent = tuple(row[i] for i in children.parent_key)
            want = 0 if None in parent else counts.get(parent, 0)
            for where, length in lengths:  # counts of the array's rows
                result.checks["denormalized"].checked += 1
                count, have = convert.get(length.conversion)(want), get(document, where)
                if canon(count) != canon(have):
                    self.add(
                        result,
                        "denormalized",
                        ident,
                        key,
                        ".".join(where),
                        self.show(count),
                        self.show(have),
                        "differs from the source",
                    )
            if children.limit is not None and children.overflow == "truncate":
                want = min(want, children.limit)
            have = get(document, path)
            name = ".".join(path)
            result.checks["arrays"].checked += 1
            if not isinstance(have, list):
                self.add(
                    result,
                    "arrays",
                    ident,
                    key,
                    name,
                    f"array of {want}",
                    self.show(have),
                    "not an array",
                )
                continue
            if len(have) != want:
                self.add(
                    result,
                    "arrays",
                    ident,
                    key,
                    name,
                    f"{want} elements",
                    f"{len(have)} elements",
                    "array length differs from its child rows",
                )
            for inner, by_parent in nested:
                result.checks["arrays"].checked += 1
                held = Counter(
                    len(v) if isinstance(v, list) else None
                    for v in (get(element, inner) for element in have)
                )
                if held != by_parent.get(parent, Counter()):
                    self.add(
                        result,
                        "arrays",
                        ident,
                        key,
                        f"{name}[].{'.'.join(inner)}",
                        _lengths(by_parent.get(parent, Counter())),
                        _lengths(held),
                        "lengths of arrays in elements differ from their child rows",
                    )
            if copies is not None:
                self._element_copies(result, ident, key, name, parent, have, *copies)

    def _element_copies(
        self,
        result: CollectionResult,
        ident: str,
        key: str,
        name: str,
        parent: Key,
        elements: list[Any],
        paths: list[p.FieldPath],
        by_parent: dict[Key, Counter[Form]],
    ) -> None:
        """The copies held by an array's elements, compared as multisets (order aside)."""
        result.checks["denormalized"].checked += 1
        want = by_parent.get(parent, Counter())
        have: Counter[Form] = Counter()
        for element in elements:
            values = [get(element, path) for path in paths]
            form = tuple(canon(v) for v in values)
            self.shown.setdefault(form, values)
            have[form] += 1
        if want != have:
            labels = [".".join(path) for path in paths]

            def listed(forms: Counter[Form]) -> str:
                items = [
                    dict(zip(labels, self.shown[f], strict=True))
                    for f in list(forms.elements())[:3]
                ]
                return self.show(items) + (" …" if sum(forms.values()) > 3 else "")

            self.add(
                result,
                "denormalized",
                ident,
                key,
                name,
                listed(want - have),
                listed(have - want),
                "copies in array elements differ from the source",
            )

    def _types(
        self,
        result: CollectionResult,
        typed: list[tuple[p.FieldPath, p.Value | p.Template | p.Length]],
        document: object,
        ident: str,
        key: str,
    ) -> None:
        tally = result.checks["types"]
        for path, shape in typed:
            for where, value in at(document, path):
                tally.checked += 1
                if value is None and shape.keep_null:
                    continue
                if not type_ok(shape.conversion, value):
                    shown = self.show(value)
                    actual = (
                        bson_type(value)
                        if shown == bson_type(value)
                        else f"{bson_type(value)} {shown}"
                    )
                    self.add(
                        result,
                        "types",
                        ident,
                        key,
                        where,
                        shape.conversion,
                        actual,
                        f"the {shape.conversion} conversion promises another BSON type",
                    )

    def _schema(
        self,
        result: CollectionResult,
        schema: dict[str, Any],
        document: object,
        ident: str,
        key: str,
    ) -> None:
        """The generated `$jsonSchema` validator, checked here (FerretDB does not)."""
        result.checks["schema"].checked += 1
        for number, problem in enumerate(violations(schema, document)[:5]):
            where, _, what = problem.partition(": ")
            self.add(
                result,
                "schema",
                ident,
                key,
                where.strip("/").replace("/", "."),
                message=f"breaks the collection's validator: {what}",
                count=number == 0,
            )

    # --- source queries for one batch ----------------------------------------------------

    def _array_sources(
        self, children: p.Children, keys: list[Key]
    ) -> tuple[dict[Key, int], Copies | None, Nested]:
        """(child rows per parent key, copies, nested lengths) of an array, for `keys`."""
        return (
            self._counts(children, keys),
            self._copies(children, keys),
            self._nested(children, keys),
        )

    def _counts(self, children: p.Children, keys: list[Key]) -> dict[Key, int]:
        """Child rows per parent key: GROUP BY over the batch's parents."""
        link = [children.query.selects.index(ref) for ref in children.query.link]
        rows = ChildRows(self.compiler, children.query)
        return {
            tuple(row[:-1]): row[-1]
            for statement in rows.count_by(link, keys)
            for row in self.connection.execute(statement)
        }

    def _copies(self, children: p.Children, keys: list[Key]) -> Copies | None:
        """(paths, parent key → multiset of copied values) of an array's elements, or None."""
        element, query = children.element, children.query
        if not isinstance(element, p.SubDocument) or children.limit is not None:
            return None
        chosen = [
            (path, shape, present)
            for path, shape, present in _row_fields(element)
            if isinstance(shape, p.Value | p.DocumentId) and r.element_copy(query, shape)
        ]
        if not chosen:
            return None
        link = [query.selects.index(ref) for ref in query.link]
        needed = sorted(
            {*link, *(i for _, shape, present in chosen for i in (*r.indexes(shape), *present))}
        )
        by_parent: dict[Key, Counter[Form]] = defaultdict(Counter)
        for statement in ChildRows(self.compiler, query).select(needed, keys):
            for values in self.connection.execute(statement):
                row = dict(zip(needed, values, strict=True))
                items = [r.expected(shape, row, present) for _, shape, present in chosen]
                if r.SKIP in items:
                    continue
                form = tuple(canon(item) for item in items)
                self.shown.setdefault(form, items)
                by_parent[tuple(row[i] for i in link)][form] += 1
        return [path for path, _, _ in chosen], by_parent

    def _nested(self, children: p.Children, keys: list[Key]) -> Nested:
        """(path, parent key → multiset of lengths) of the arrays inside an array's elements."""
        element, query = children.element, children.query
        if not isinstance(element, p.SubDocument) or children.limit is not None:
            return []
        found: Nested = []
        link = [query.selects.index(ref) for ref in query.link]
        rows = ChildRows(self.compiler, query)
        for path, inner, present in _row_fields(element):
            if not isinstance(inner, p.Children):
                continue
            needed = sorted({*link, *inner.parent_key, *present})
            elements = [
                dict(zip(needed, values, strict=True))
                for statement in rows.select(needed, keys)
                for values in self.connection.execute(statement)
            ]
            counts = self._counts(
                inner, [tuple(row[i] for i in inner.parent_key) for row in elements]
            )
            by_parent: dict[Key, Counter[int | None]] = defaultdict(Counter)
            for row in elements:
                key = tuple(row[i] for i in inner.parent_key)
                length = (
                    None
                    if any(row[i] is None for i in present)
                    else 0
                    if None in key
                    else counts.get(key, 0)
                )
                if length and inner.limit is not None and inner.overflow == "truncate":
                    length = min(length, inner.limit)
                by_parent[tuple(row[i] for i in link)][length] += 1
            found.append((path, by_parent))
        return found

    # --- deep equality -------------------------------------------------------------------

    def _equality(
        self, result: CollectionResult, collection: p.CollectionPlan, present: list[_Row]
    ) -> None:
        """Rows with a document, against the documents rebuilt from the mapping."""
        tally = result.checks["equality"]
        rebuilt = self.rebuild.documents(collection.name, [row.row for row in present])
        for row, expected in zip(present, rebuilt, strict=True):
            tally.checked += 1
            if isinstance(expected, Rejected):
                self.add(
                    result,
                    "equality",
                    row.ident,
                    row.key,
                    message=f"the run rejects "
                    f"this row ({expected.stage}: {expected.reason}), yet the target "
                    "holds a document",
                )
                continue
            differences = list(diff(expected, row.document))
            for number, (path, want, have) in enumerate(differences):
                if number == DIFFERENCES_PER_DOCUMENT:
                    rest = len(differences) - number
                    self.add(
                        result,
                        "equality",
                        row.ident,
                        row.key,
                        message=f"… and {rest} more differences in this document",
                        count=False,
                    )
                    self.report.total_differences += rest - 1
                    break
                self.add(
                    result,
                    "equality",
                    row.ident,
                    row.key,
                    path,
                    self.show(want),
                    self.show(have),
                    "differs from the document the source gives",
                    count=number == 0,
                )


def _row_fields(shape: p.SubDocument) -> list[tuple[p.FieldPath, p.Shape, tuple[int, ...]]]:
    """(path, field, present indexes) of the fields one row builds: sub-documents entered
    (not listed themselves), arrays not."""
    return [
        (place.path, place.field, place.present)
        for place in p.walk(shape, arrays=False)
        if not isinstance(place.field, p.SubDocument)
    ]


def _lengths(lengths: Counter[int | None]) -> str:
    """A multiset of array lengths as text: `3 ×2, 0 ×1` (absent arrays as `absent`)."""
    items = sorted(lengths.items(), key=lambda item: (item[0] is None, item[0] or 0))
    return ", ".join(f"{'absent' if n is None else n} ×{k}" for n, k in items) or "none"


def _ident(value: Any) -> str:
    """An `_id` as text: ObjectIds as their hex digits, other values as Extended JSON."""
    return str(value) if isinstance(value, ObjectId) else show(value)
