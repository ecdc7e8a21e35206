"""The checks: counts, arrays, references, denormalized copies, types and deep equality.

The source side of every check but deep equality is SQL of its own: the plan's root query for
the expected documents' ids and copied values, one GROUP BY per array for array lengths, one
query per array for the copies its elements hold. Deep equality builds the expected documents
with the preview machinery, for a random sample of rows (or all of them).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import replace
from typing import Any

import pymongo
import sqlalchemy as sa
from bson import ObjectId
from pymongo import errors as mongo_errors

from mapper import plan as p
from mapper.catalog import Catalog
from mapper.compile import Compiler
from mapper.config import redact
from mapper.engine import convert
from mapper.engine.extract import snapshot
from mapper.engine.preview import preview
from mapper.errors import SourceError, TargetError, UsageError
from mapper.validate import rows as r
from mapper.validate.results import CollectionResult, Difference, Report
from mapper.validate.sql import ChildRows
from mapper.validate.values import (
    MISSING,
    at,
    bson_type,
    canon,
    diff,
    fields,
    get,
    leaves,
    show,
    type_ok,
)
from mapper.validator import json_schema, violations

MAX_DIFFERENCES = 1000
DIFFERENCES_PER_DOCUMENT = 20


def validate(plan: p.Plan, engine: sa.Engine, catalog: Catalog, target: str, *,
             sample: int | None = 200, decimal_as: str = "decimal128",
             seed: int | None = None) -> Report:
    """Compare a MongoDB target with the source; `sample=None` compares every document."""
    if not target.startswith(("mongodb://", "mongodb+srv://")):
        raise UsageError(f"validate needs a MongoDB target (mongodb://HOST/DB), "
                         f"not {redact(target)}")
    try:
        database = pymongo.uri_parser.parse_uri(target).get("database")
    except mongo_errors.InvalidURI as error:
        raise UsageError(f"bad target URL {redact(target)}: {error}") from None
    if decimal_as != "decimal128":
        plan = p.Plan(tuple(replace(c, document=p.with_conversion(c.document, "decimal128",
                                                                   decimal_as))
                            for c in plan.collections))
    report = Report(redact(engine.url.render_as_string(hide_password=True)), redact(target),
                    "every document" if sample is None else f"sample of {sample} per collection")
    options = {"serverSelectionTimeoutMS": 10_000} if "serverselectiontimeoutms" not in \
        target.lower() else {}
    client = pymongo.MongoClient(target, uuidRepresentation="standard", tz_aware=True, **options)
    try:
        with snapshot(engine) as connection:
            checker = _Checker(plan, engine, catalog, connection, report, random.Random(seed))
            for collection in plan.collections:
                name = collection.database or database
                if not name:
                    raise UsageError("no target database: put it in the URL path "
                                     "(mongodb://host/DATABASE) or as `database:` in the mapping")
                checker.collection(collection, client[name][collection.name], sample)
            checker.references()
    except mongo_errors.PyMongoError as error:
        raise TargetError(f"target failed: {type(error).__name__}: "
                          f"{redact(str(error))[:300]}") from None
    except sa.exc.DBAPIError as error:
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        raise SourceError(f"source failed: {redact(reason)}") from None
    finally:
        client.close()
    return report


class _Checker:
    def __init__(self, plan: p.Plan, engine: sa.Engine, catalog: Catalog,
                 connection: sa.Connection, report: Report, rng: random.Random):
        self.engine, self.catalog, self.connection = engine, catalog, connection
        self.compiler = Compiler(catalog)
        self.report, self.rng = report, rng
        self.ids: dict[str, set] = {}
        self.pending: list[tuple] = []
        self.referable: dict[str, str] = {}
        for collection in reversed(plan.collections):
            root = r.root_id(collection.document)
            if root is not None and root.rule == "oid":
                self.referable[root.table] = collection.name
        self.shown: dict[tuple, list] = {}

    def add(self, result: CollectionResult, check: str, ident: str = "", key: str = "",
            path: str = "", expected: str = "", actual: str = "", message: str = "",
            count: bool = True) -> None:
        if count:
            result.checks[check].failed += 1
        self.report.total_differences += 1
        if len(self.report.differences) < MAX_DIFFERENCES:
            self.report.differences.append(Difference(result.name, check, ident, key, path,
                                                      expected, actual, message))

    # --- per collection ------------------------------------------------------------------

    def collection(self, collection: p.CollectionPlan, target, sample: int | None) -> None:
        result = CollectionResult(collection.name)
        self.report.collections.append(result)
        root = r.root_id(collection.document)
        rows = self.connection.execute(self.compiler.select(collection.query)).all()
        result.source_rows = len(rows)
        counts = result.checks["counts"]
        counts.checked = len(rows)
        expected: dict[Any, tuple] = {}
        for row in rows:
            value = convert.document_id(root, row) if root is not None else None
            form = canon(value)
            if form in expected:
                self.add(result, "counts", _ident(value), r.key(collection, row),
                         message="more than one source row gives this _id")
            expected.setdefault(form, (row, value))
        row_fields = list(fields(collection.document))
        tops = [(path, shape, present, check) for path, shape, present in row_fields
                if (check := r.top_check(collection.query, path, shape))]
        lengths = [(path, path[:len(path) - len(shape.path)] + shape.array, shape)
                   for path, shape, _ in row_fields if isinstance(shape, p.Length)]
        arrays = [(path, shape, present, self._counts(shape), self._copies(shape),
                   self._nested(shape), [(where, length) for where, array, length in lengths
                                         if array == path])
                  for path, shape, present in row_fields if isinstance(shape, p.Children)]
        typed = [(path, shape) for path, shape in leaves(collection.document)
                 if isinstance(shape, p.Value | p.Template | p.Length)]
        refs = [(path, shape) for path, shape in leaves(collection.document)
                if isinstance(shape, p.DocumentId) and path != ("_id",)
                and shape.rule == "oid" and shape.table in self.referable]
        schema = json_schema(collection)["$jsonSchema"] if collection.validator else None
        chosen = None if sample is None else set(
            self.rng.sample(list(expected), min(sample, len(expected))))
        seen, present_ids, kept = set(), set(), {}
        for document in target.find({}):
            result.documents += 1
            form = canon(document.get("_id", MISSING))
            present_ids.add(form)
            ident = _ident(document.get("_id", MISSING))
            entry = expected.get(form) if root is not None else None
            key = r.key(collection, entry[0]) if entry else ""
            self._types(result, typed, document, ident, key)
            if schema is not None:
                self._schema(result, schema, document, ident, key)
            for path, shape in refs:
                for where, value in at(document, path):
                    self.pending.append((result, ident, key, where,
                                         self.referable[shape.table], value))
            if root is None:
                continue
            if entry is None:
                counts.checked += 1
                self.add(result, "counts", ident, message="document from no source row")
            elif form in seen:
                self.add(result, "counts", ident, key, message="duplicate document")
            else:
                seen.add(form)
                if chosen is None or form in chosen:
                    kept[form] = document
                self._row(result, entry[0], document, ident, key, tops, arrays)
        self.ids[collection.name] = present_ids
        if root is None:
            if result.documents != len(rows):
                self.add(result, "counts", expected=f"{len(rows)} documents",
                         actual=f"{result.documents} documents", message="no computed _id: "
                         "documents counted, not matched")
            return
        for form, (row, value) in expected.items():
            if form not in seen:
                self.add(result, "counts", _ident(value), r.key(collection, row),
                         message="no document for this source row")
        self._equality(result, collection, expected, chosen, kept)

    def _row(self, result, row, document, ident, key, tops, arrays) -> None:
        """Copied values and reference ids at the top level, then every array of the row."""
        for path, shape, present, check in tops:
            want = r.expected(shape, row, present)
            if want is r.SKIP:
                continue
            have = get(document, path)
            result.checks[check].checked += 1
            if canon(want) != canon(have):
                self.add(result, check, ident, key, ".".join(path), show(want), show(have),
                         "differs from the source")
        for path, children, present, counts, copies, nested, lengths in arrays:
            if any(row[i] is None for i in present):
                continue
            parent = tuple(row[i] for i in children.parent_key)
            want = 0 if None in parent else counts.get(parent, 0)
            for where, length in lengths:  # counts of the array's rows
                result.checks["denormalized"].checked += 1
                count, have = convert.get(length.conversion)(want), get(document, where)
                if canon(count) != canon(have):
                    self.add(result, "denormalized", ident, key, ".".join(where), show(count),
                             show(have), "differs from the source")
            if children.limit is not None and children.overflow == "truncate":
                want = min(want, children.limit)
            have = get(document, path)
            name = ".".join(path)
            result.checks["arrays"].checked += 1
            if not isinstance(have, list):
                self.add(result, "arrays", ident, key, name, f"array of {want}", show(have),
                         "not an array")
                continue
            if len(have) != want:
                self.add(result, "arrays", ident, key, name, f"{want} elements",
                         f"{len(have)} elements", "array length differs from its child rows")
            for inner, by_parent in nested:
                result.checks["arrays"].checked += 1
                lengths = Counter(len(v) if isinstance(v, list) else None
                                  for v in (get(element, inner) for element in have))
                if lengths != by_parent.get(parent, Counter()):
                    self.add(result, "arrays", ident, key, f"{name}[].{'.'.join(inner)}",
                             _lengths(by_parent.get(parent, Counter())), _lengths(lengths),
                             "lengths of arrays in elements differ from their child rows")
            if copies is not None:
                self._element_copies(result, ident, key, name, parent, have, *copies)

    def _element_copies(self, result, ident, key, name, parent, elements, paths, by_parent):
        """The copies held by an array's elements, compared as multisets (order aside)."""
        result.checks["denormalized"].checked += 1
        want = by_parent.get(parent, Counter())
        have: Counter = Counter()
        for element in elements:
            values = [get(element, path) for path in paths]
            form = tuple(canon(v) for v in values)
            self.shown.setdefault(form, values)
            have[form] += 1
        if want != have:
            labels = [".".join(path) for path in paths]

            def listed(forms: Counter) -> str:
                items = [dict(zip(labels, self.shown[f], strict=True))
                         for f in list(forms.elements())[:3]]
                return show(items) + (" …" if sum(forms.values()) > 3 else "")

            self.add(result, "denormalized", ident, key, name, listed(want - have),
                     listed(have - want), "copies in array elements differ from the source")

    def _types(self, result, typed, document, ident, key) -> None:
        tally = result.checks["types"]
        for path, shape in typed:
            for where, value in at(document, path):
                tally.checked += 1
                if value is None and shape.keep_null:
                    continue
                if not type_ok(shape.conversion, value):
                    self.add(result, "types", ident, key, where, shape.conversion,
                             f"{bson_type(value)} {show(value)}",
                             f"the {shape.conversion} conversion promises another BSON type")

    def _schema(self, result, schema: dict, document: dict, ident: str, key: str) -> None:
        """The generated `$jsonSchema` validator, checked here (FerretDB does not)."""
        result.checks["schema"].checked += 1
        for number, problem in enumerate(violations(schema, document)[:5]):
            where, _, what = problem.partition(": ")
            self.add(result, "schema", ident, key, where.strip("/").replace("/", "."),
                     message=f"breaks the collection's validator: {what}", count=number == 0)

    def references(self) -> None:
        """Every referenced `_id` exists in its collection (run after all are read)."""
        for result, ident, key, where, collection, value in self.pending:
            result.checks["references"].checked += 1
            if canon(value) not in self.ids.get(collection, ()):
                self.add(result, "references", ident, key, where, f"an _id in {collection}",
                         show(value), f"no such document in {collection}")

    # --- source queries ------------------------------------------------------------------

    def _counts(self, children: p.Children) -> dict[tuple, int]:
        """Child rows per parent key: one GROUP BY over all parents."""
        link = [children.query.selects.index(ref) for ref in children.query.link]
        statement = ChildRows(self.compiler, children.query).count_by(link)
        return {tuple(row[:-1]): row[-1] for row in self.connection.execute(statement)}

    def _copies(self, children: p.Children):
        """(paths, parent key → multiset of copied values) of an array's elements, or None."""
        element, query = children.element, children.query
        if not isinstance(element, p.SubDocument) or children.limit is not None:
            return None
        chosen = [(path, shape, present) for path, shape, present in fields(element)
                  if r.element_copy(query, shape)]
        if not chosen:
            return None
        link = [query.selects.index(ref) for ref in query.link]
        needed = sorted({*link, *(i for _, shape, present in chosen
                                  for i in (*r.indexes(shape), *present))})
        by_parent: dict[tuple, Counter] = defaultdict(Counter)
        statement = ChildRows(self.compiler, query).select(needed)
        for values in self.connection.execute(statement):
            row = dict(zip(needed, values, strict=True))
            items = [r.expected(shape, row, present) for _, shape, present in chosen]
            if r.SKIP in items:
                continue
            form = tuple(canon(item) for item in items)
            self.shown.setdefault(form, items)
            by_parent[tuple(row[i] for i in link)][form] += 1
        return [path for path, _, _ in chosen], by_parent

    def _nested(self, children: p.Children) -> list[tuple[tuple[str, ...], dict]]:
        """(path, parent key → multiset of lengths) of the arrays inside an array's elements."""
        element, query = children.element, children.query
        if not isinstance(element, p.SubDocument) or children.limit is not None:
            return []
        found = []
        link = [query.selects.index(ref) for ref in query.link]
        rows = ChildRows(self.compiler, query)
        for path, inner, present in fields(element):
            if not isinstance(inner, p.Children):
                continue
            counts = self._counts(inner)
            needed = sorted({*link, *inner.parent_key, *present})
            by_parent: dict[tuple, Counter] = defaultdict(Counter)
            for values in self.connection.execute(rows.select(needed)):
                row = dict(zip(needed, values, strict=True))
                key = tuple(row[i] for i in inner.parent_key)
                length = None if any(row[i] is None for i in present) else \
                    0 if None in key else counts.get(key, 0)
                if length and inner.limit is not None and inner.overflow == "truncate":
                    length = min(length, inner.limit)
                by_parent[tuple(row[i] for i in link)][length] += 1
            found.append((path, by_parent))
        return found

    # --- deep equality -------------------------------------------------------------------

    def _equality(self, result, collection, expected, chosen, kept) -> None:
        """Sampled documents (`chosen`, read during the scan) or all, against preview's."""
        forms = [form for form in expected if form in kept]
        if not forms:
            return
        query, rows = collection.query, [expected[form][0] for form in forms]
        if chosen is not None:
            query = replace(query, filter=r.both(query.filter, r.key_filter(collection, rows)))
        one = p.Plan((replace(collection, query=query),))
        built = {canon(document.get("_id")): document
                 for _, document in preview(one, self.engine, self.catalog, len(rows))}
        tally = result.checks["equality"]
        for form in forms:
            row, value = expected[form]
            ident, key = _ident(value), r.key(collection, row)
            tally.checked += 1
            if form not in built:
                self.add(result, "equality", ident, key, message="the source row builds "
                         "no document (the run rejects it)")
                continue
            differences = list(diff(built[form], kept.get(form, MISSING)))
            for number, (path, want, have) in enumerate(differences):
                if number == DIFFERENCES_PER_DOCUMENT:
                    rest = len(differences) - number
                    self.add(result, "equality", ident, key, message=f"… and {rest} "
                             "more differences in this document", count=False)
                    self.report.total_differences += rest - 1
                    break
                self.add(result, "equality", ident, key, path, show(want), show(have),
                         "differs from the document the source gives", count=number == 0)


def _lengths(lengths: Counter) -> str:
    """A multiset of array lengths as text: `3 ×2, 0 ×1` (absent arrays as `absent`)."""
    items = sorted(lengths.items(), key=lambda item: (item[0] is None, item[0] or 0))
    return ", ".join(f"{'absent' if n is None else n} ×{k}" for n, k in items) or "none"


def _ident(value: Any) -> str:
    """An `_id` as text: ObjectIds as their hex digits, other values as Extended JSON."""
    return str(value) if isinstance(value, ObjectId) else show(value)
