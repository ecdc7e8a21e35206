"""The proposal of `mapper init`: which tables become collections, and for each relation how
it is mapped (embedded, referenced, counted), why, and the numbers behind the choice.

Roles first: a *join table* (its key is two foreign keys) becomes a many-to-many `via`; a table
*owned* by one parent (a NOT NULL foreign key, and no other table's rows point at it) is
embedded in that parent; every other table is an *aggregate root*, a collection. Then each
root's relations: many-to-one as a sub-document of name-like columns (or a reference), owned
children as arrays ordered by key (limited, or a collection of their own, when they are many or
big), ids of the roots that belong to it, many-to-many through join tables, self-references as
a chain with `max_depth`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from mapper.catalog import Catalog, ForeignKey, Table, join_candidates
from mapper.proposal.stats import Fanout, Statistics

MAX_CHILDREN = 1000  # elements of an array (lint warns above it: data_lint.MAX_CHILDREN)
ARRAY_BYTES = 4 * 2**20  # the most bytes one embedded array may take
DOCUMENT_BYTES = 8 * 2**20  # half of MongoDB's 16 MiB limit: room for growth
LARGE_COLLECTION = 1_000_000  # rows: copies of such a parent's columns are costly to keep
MAX_DEPTH = 5  # self-reference chains embedded up to this depth, referenced beyond
NAME_LIKE = ("name", "title", "slug", "email", "username", "login", "label", "code", "sku")
ID_BYTES = 17  # `_id` and an ObjectId in BSON
UNORDERED_KINDS = ("json", "array", "other")
ARRAYS = ("array", "references", "many_to_many")  # the kinds of relation that make arrays

Kind = Literal[
    "subdocument", "reference", "array", "references", "many_to_many", "parent_chain", "count"
]
On = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Node:
    """A document or sub-document: its table, `_id` rule ("oid", a column's name, or None
    for none), the columns copied as they are, and its relations."""

    table: str
    id_rule: str | None
    columns: tuple[str, ...]
    fields: tuple[Relation, ...] = ()


@dataclass(frozen=True)
class Relation:
    """One field that follows a relation. `on` is written only when `explicit` (several
    foreign keys link the tables); `via`/`via_on` name a join table; `element_bytes` is the
    estimated size of one element (or of the sub-document)."""

    name: str
    kind: Kind
    table: str
    reason: str
    on: On = ()
    explicit: bool = False
    node: Node | None = None
    via: str | None = None
    via_on: On = ()
    via_columns: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()
    limit: int | None = None
    max_depth: int | None = None
    fanout: Fanout | None = None
    element_bytes: int = 0


@dataclass(frozen=True)
class Index:
    keys: tuple[str, ...]
    reason: str
    unique: bool = False


@dataclass(frozen=True)
class CollectionProposal:
    """A proposed collection: its root node, why it is one, and its estimated document
    sizes in bytes (the largest and the 99th percentile, from the fan-outs)."""

    name: str
    node: Node
    reason: str
    rows: int
    estimated_rows: bool
    largest_bytes: int
    p99_bytes: int
    indexes: tuple[Index, ...] = ()


@dataclass(frozen=True)
class Proposal:
    dialect: str
    collections: tuple[CollectionProposal, ...]
    skipped: tuple[tuple[str, str], ...] = ()  # (table or view, why it is not mapped)
    notes: tuple[str, ...] = ()


@dataclass
class _Roles:
    """Each table's role, filled once by `_Proposer` before it proposes anything."""

    roots: dict[str, str] = field(default_factory=dict)  # table -> why it is a collection
    owners: dict[str, ForeignKey] = field(default_factory=dict)  # owned table -> its FK
    joins: dict[str, tuple[ForeignKey, ForeignKey]] = field(default_factory=dict)
    modes: dict[str, tuple[str, int | None, str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def propose(
    catalog: Catalog,
    stats: Statistics,
    skipped: Iterable[tuple[str, str]] = (),
    origins: Mapping[tuple[str, tuple[str, ...]], str] | None = None,
) -> Proposal:
    """The proposal for every table of `catalog` (see the module's docstring); `skipped`:
    the other relations of the source (views, partitions) with why they are not proposed;
    `origins` says how each foreign key the source does not declare was found (`infer`)."""
    proposer = _Proposer(catalog, stats, origins or {})
    collections = tuple(proposer.collection(name) for name in proposer.roles.roots)
    skipped = sorted([*proposer.roles.skipped.items(), *skipped])
    return Proposal(catalog.dialect, collections, tuple(skipped), stats.notes)


def singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith(("sses", "xes", "ches", "shes")):
        return name[:-2]
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def name_like(table: Table) -> tuple[str, ...]:
    """Up to three text columns that identify a row to a reader (`name`, `title`, ...)."""
    found = [
        column.name
        for column in table.columns
        if column.kind in ("text", "enum")
        and any(column.name == word or column.name.endswith("_" + word) for word in NAME_LIKE)
    ]
    return tuple(found[:3])


def _field_name(fk: ForeignKey, parent: Table) -> str:
    """A to-one field's name: its key column without `_id` (`project_id`: `project`), the
    column itself (`created_by`), or the parent's name in the singular (composite keys)."""
    if len(fk.columns) > 1:
        return singular(parent.table_name)
    column = fk.columns[0]
    return column.removesuffix("_id") or column


def _nice(number: int) -> int:
    """The next of 10, 20, 50, 100, 200, 500, ... at or above `number`."""
    step = 10
    while True:
        for factor in (1, 2, 5):
            if step * factor >= number:
                return step * factor
        step *= 10


class _Names:
    """The field names a node has taken, and a free one close to what is wanted."""

    def __init__(self, taken: Iterable[str]):
        self.taken = {"_id", *taken}

    def claim(self, wanted: str, fallback: str) -> str:
        for name in (wanted, f"{wanted}_{fallback}"):
            if name and name not in self.taken:
                self.taken.add(name)
                return name
        number = 2
        while f"{wanted}_{number}" in self.taken:
            number += 1
        self.taken.add(f"{wanted}_{number}")
        return f"{wanted}_{number}"


class _Proposer:
    def __init__(
        self,
        catalog: Catalog,
        stats: Statistics,
        origins: Mapping[tuple[str, tuple[str, ...]], str],
    ):
        self.catalog, self.stats, self.origins = catalog, stats, origins
        self.tables = catalog.tables
        self.roles = _Roles()
        self._assign_roles()

    # --- roles ---------------------------------------------------------------------------

    def _assign_roles(self) -> None:
        roles = self.roles
        for table in self.tables.values():
            if (pair := self._join_pair(table)) is not None:
                roles.joins[table.name] = pair
            elif (owner := self._owner(table)) is not None:
                roles.owners[table.name] = owner
            elif not table.primary_key and self._unique_column(table) is None:
                roles.skipped[table.name] = (
                    "no primary key, no unique NOT NULL column and no parent to embed it in: "
                    "nothing to identify its documents by"
                )
            else:
                roles.roots[table.name] = self._root_reason(table)
        for name, owner in roles.owners.items():
            mode = self._mode(name)
            if mode[0] != "full":
                roles.roots[name] = (
                    f"owned by `{owner.referred_table}`, but {mode[2]}: "
                    "a collection of its own, with a reference to its parent"
                )
        order = list(self.tables)
        ordered = sorted(roles.roots.items(), key=lambda item: order.index(item[0]))
        roles.roots.clear()
        roles.roots.update(ordered)

    def _links(self, table: Table) -> list[ForeignKey]:
        return [fk for fk in table.foreign_keys if fk.referred_table in self.tables]

    def _join_pair(self, table: Table) -> tuple[ForeignKey, ForeignKey] | None:
        """Two foreign keys whose columns make up the table's key, when no table refers to
        it: the rows of a many-to-many relation (its other columns go with each pair)."""
        links = self._links(table)
        key = set(table.primary_key)
        if len(links) < 2 or not key or self._referrers(table):
            return None
        for index, first in enumerate(links):
            for second in links[index + 1 :]:
                if set(first.columns) | set(second.columns) == key and not (
                    set(first.columns) & set(second.columns)
                ):
                    return first, second
        return None

    def _referrers(self, table: Table) -> list[Table]:
        """The other tables with a foreign key to `table`."""
        return [
            other
            for other in self.tables.values()
            if other.name != table.name
            and any(fk.referred_table == table.name for fk in other.foreign_keys)
        ]

    def _owner(self, table: Table, seen: tuple[str, ...] = ()) -> ForeignKey | None:
        """The NOT NULL foreign key to the parent a table's rows belong to (the one with the
        fewest children per parent): when only join tables point at it, or, for a key that
        is part of its primary key (`order_lines.order_id`), also tables it owns in turn."""
        candidates = [
            fk
            for fk in self._links(table)
            if fk.referred_table != table.name
            and all(not column.nullable for c in fk.columns if (column := table.column(c)))
        ]
        identifying = [fk for fk in candidates if set(fk.columns) <= set(table.primary_key)]
        referrers = [other for other in self._referrers(table) if self._join_pair(other) is None]
        if referrers and (
            not identifying
            or table.name in seen
            or any(
                (owner := self._owner(other, (*seen, table.name))) is None
                or owner.referred_table != table.name
                for other in referrers
            )
        ):
            return None

        def spread(fk: ForeignKey) -> int:
            found = self.stats.fanout(table.name, fk)
            return found.maximum if found else 2**62

        return min(identifying or candidates, key=spread, default=None)

    def _root_reason(self, table: Table) -> str:
        rows = self.stats.rows(table.name)
        referrers = [other.name for other in self._referrers(table)]
        if referrers:
            listed = ", ".join(f"`{name}`" for name in referrers[:4])
            more = f" and {len(referrers) - 4} more" if len(referrers) > 4 else ""
            return f"an aggregate root: {rows:,} rows, referred to by {listed}{more}"
        if not any(fk.referred_table in self.tables for fk in table.foreign_keys):
            return f"an aggregate root: {rows:,} rows, with no parent"
        return f"an aggregate root: {rows:,} rows, its parents are optional (nullable keys)"

    def _unique_column(self, table: Table) -> str | None:
        for key in table.unique:
            column = table.column(key[0]) if len(key) == 1 else None
            if column is not None and not column.nullable:
                return column.name
        return None

    # --- arrays --------------------------------------------------------------------------

    def _array_mode(self, fanout: Fanout | None, element: int) -> tuple[str, int | None, str]:
        """("full" | "limit" | "separate", limit, why) for an array of `element` bytes each."""
        if fanout is None:
            return "separate", None, "its fan-out is unknown (not measured in time)"
        numbers = f"{fanout.described} per `{fanout.parent}` row, about {element:,} bytes each"
        if fanout.maximum <= MAX_CHILDREN and fanout.maximum * element <= ARRAY_BYTES:
            return "full", None, numbers
        if fanout.p99 <= MAX_CHILDREN and fanout.p99 * element <= ARRAY_BYTES:
            limit = min(_nice(max(fanout.p99, 1)), MAX_CHILDREN, ARRAY_BYTES // max(element, 1))
            return "limit", max(limit, fanout.p99), f"{numbers}: the largest parents have too many"
        return "separate", None, f"{numbers}: too many to embed"

    def _mode(self, table_name: str) -> tuple[str, int | None, str]:
        """How an owned table is embedded in its parent (decided once)."""
        if table_name not in self.roles.modes:
            fanout = self.stats.fanout(table_name, self.roles.owners[table_name])
            element = self._bytes(self._element(table_name, ("",)))
            self.roles.modes[table_name] = self._array_mode(fanout, element)
        return self.roles.modes[table_name]

    def _bytes(self, node: Node) -> int:
        stats = self.stats.tables.get(node.table)
        own = stats.bytes_of(node.columns) if stats else 8 * len(node.columns)
        inner = sum(len(r.name) + 2 + self._field_bytes(r) for r in node.fields)
        return 5 + (ID_BYTES if node.id_rule else 0) + own + inner

    @staticmethod
    def _field_bytes(relation: Relation) -> int:
        """A field's typical bytes: an array's by its 99th percentile (or limit)."""
        if relation.kind in ("subdocument", "parent_chain"):
            return relation.element_bytes
        if relation.kind in ARRAYS and relation.fanout:
            count = min(relation.fanout.p99, relation.limit or relation.fanout.p99)
            return 5 + count * relation.element_bytes
        return 12

    # --- nodes ---------------------------------------------------------------------------

    def collection(self, table_name: str) -> CollectionProposal:
        table = self.tables[table_name]
        node = self._root(table)
        largest, p99 = self._sizes(node)
        while largest > DOCUMENT_BYTES and (demoted := self._demote(node)) is not None:
            node = demoted
            largest, p99 = self._sizes(node)
        stats = self.stats.tables.get(table_name)
        return CollectionProposal(
            table.table_name,
            node,
            self.roles.roots[table_name],
            stats.rows if stats else 0,
            bool(stats and stats.estimated),
            largest,
            p99,
            tuple(self._indexes(table, node)),
        )

    def _id_rule(self, table: Table) -> str | None:
        return "oid" if table.primary_key else self._unique_column(table)

    def _represented(self, table: Table) -> set[str]:
        """The foreign key columns a relation stands for (by the parent's `_id`); those of
        an inferred key stay columns too (a value may have no row to stand for it)."""
        return {
            column
            for fk in self._links(table)
            if self.tables[fk.referred_table].primary_key
            and (table.name, fk.columns) not in self.origins
            for column in fk.columns
        }

    def _root(self, table: Table) -> Node:
        fields: list[Relation] = []
        represented = self._represented(table)
        names = _Names(c for c in table.column_names if c not in represented)
        for fk in self._links(table):
            relation = self._to_one(table, fk, (table.name,), names, root=True)
            if relation is not None:
                fields.append(relation)
        for child in self.tables.values():
            for fk in self._links(child):
                if fk.referred_table == table.name and child.name != table.name:
                    fields += self._to_many(table, child, fk, names)
        for join, (first, second) in self.roles.joins.items():
            for mine, other in ((first, second), (second, first)):
                if mine.referred_table == table.name:
                    fields += self._many_to_many(table, self.tables[join], mine, other, names)
        columns = tuple(c for c in table.column_names if c not in represented)
        return Node(table.name, self._id_rule(table), columns, tuple(fields))

    def _element(self, table_name: str, ancestors: tuple[str, ...]) -> Node:
        """An owned table's row inside its parent's document: its columns but the owner's
        key (and its own single-column key, which `_id` stands for), its to-one links and
        the tables it owns in turn."""
        table = self.tables[table_name]
        owner = self.roles.owners[table_name]
        represented = self._represented(table) | set(owner.columns)
        if table.primary_key and len(table.primary_key) == 1:
            represented |= set(table.primary_key)
        names = _Names(c for c in table.column_names if c not in represented)
        fields = []
        for fk in self._links(table):
            if fk == owner:
                continue
            relation = self._to_one(table, fk, (*ancestors, table.name), names, root=False)
            if relation is not None:
                fields.append(relation)
        for child, fk in self._owned(table):
            fields += self._owned_array(table, child, fk, names, (*ancestors, table.name))
        columns = tuple(c for c in table.column_names if c not in represented)
        return Node(table.name, "oid" if table.primary_key else None, columns, tuple(fields))

    def _owned(self, table: Table) -> Iterator[tuple[Table, ForeignKey]]:
        for name, fk in self.roles.owners.items():
            if fk.referred_table == table.name:
                yield self.tables[name], fk

    def _ambiguous(self, left: Table, right: Table) -> bool:
        """Whether `on:` must be written: more than one foreign key links the two tables,
        or one that the source does not declare (`resolve` infers only declared ones)."""
        inferred = any(
            fk.referred_table == other.name and (table.name, fk.columns) in self.origins
            for table, other in ((left, right), (right, left))
            for fk in table.foreign_keys
        )
        return inferred or len(join_candidates(left, right)) != 1

    def _to_one(
        self,
        table: Table,
        fk: ForeignKey,
        ancestors: tuple[str, ...],
        names: _Names,
        *,
        root: bool,
    ) -> Relation | None:
        """A many-to-one link: a sub-document of the parent's name-like columns, or its id."""
        parent = self.tables[fk.referred_table]
        on = tuple(zip(fk.columns, fk.referred_columns, strict=True))
        stats = self.stats.tables.get(table.name)
        share = stats.null_shares.get(fk.columns[0], 0.0) if stats else 0.0
        wanted = _field_name(fk, parent)
        origin = self.origins.get((table.name, fk.columns))
        how = f"; {origin}" if origin else ""
        label = (
            f"many-to-one to `{parent.name}` (`{', '.join(fk.columns)}`, NULL in {share:.0%}{how})"
        )
        if parent.name == table.name and not parent.primary_key:
            return None  # neither a chain nor a reference can name its rows
        if parent.name == table.name and root:
            return self._chain(table, fk, on, names.claim(wanted, "parent"), label)
        columns = name_like(parent)
        if not parent.primary_key:
            if not columns:
                return None  # nothing to copy, no id to reference: the key stays a column
            node = Node(parent.name, None, columns)
            why = f"{label}: a sub-document of {self._listed(columns)}"
        elif (instead := self._why_reference(table, parent, ancestors, columns)) is not None:
            return self._reference(
                table, names.claim(wanted, "ref"), parent, on, f"{label}: {instead}"
            )
        else:
            node = Node(parent.name, "oid", columns)
            why = f"{label}: a sub-document of its id and {self._listed(columns)}"
        name = names.claim(wanted, "ref")
        explicit = self._ambiguous(table, parent)
        return Relation(
            name,
            "subdocument",
            parent.name,
            why,
            on,
            explicit,
            node,
            element_bytes=self._bytes(node),
        )

    def _why_reference(
        self, table: Table, parent: Table, ancestors: tuple[str, ...], columns: tuple[str, ...]
    ) -> str | None:
        """Why a many-to-one link is a reference rather than a sub-document, if it is."""
        if parent.name == table.name:
            return "a reference (a self-reference inside an embedded document)"
        if parent.name in ancestors:
            return f"a reference (`{parent.name}` already holds this document)"
        rows = self.stats.rows(parent.name)
        if parent.name in self.roles.roots and rows >= LARGE_COLLECTION:
            return (
                f"a reference, as `{parent.name}` is a large collection ({rows:,} rows) whose "
                "copies would be costly to keep up to date"
            )
        if not columns:
            return f"a reference (`{parent.name}` has no name-like columns to copy)"
        return None

    @staticmethod
    def _listed(columns: Iterable[str]) -> str:
        return ", ".join(f"`{c}`" for c in columns)

    def _reference(self, table: Table, name: str, parent: Table, on: On, why: str) -> Relation:
        return Relation(name, "reference", parent.name, why, on, self._ambiguous(table, parent))

    def _chain(self, table: Table, fk: ForeignKey, on: On, name: str, label: str) -> Relation:
        depth = self.stats.depths.get((table.name, fk.columns))
        columns = name_like(table)
        if depth is None or depth > MAX_DEPTH:
            why = f"chains deeper than {MAX_DEPTH} levels"
        elif depth < 1:
            why = "no row has a parent"
        elif not columns:
            why = "no name-like columns to copy"
        else:
            why = ""
        if why or depth is None:
            return self._reference(
                table, name, table, on, f"{label}: a self-reference, referenced ({why})"
            )
        node = Node(table.name, "oid", columns)
        return Relation(
            name,
            "parent_chain",
            table.name,
            f"{label}: a self-reference whose longest chain has {depth} levels: embedded "
            f"{depth} deep (`max_depth`)",
            on,
            True,
            node,
            max_depth=depth,
            element_bytes=self._bytes(node) * depth,
        )

    def _to_many(
        self, table: Table, child: Table, fk: ForeignKey, names: _Names
    ) -> Iterator[Relation]:
        """The rows of `child` that point at a row of `table`: embedded when owned, their
        ids when they are collections that belong to it (NOT NULL keys), and their count."""
        if child.name in self.roles.joins:
            return
        if self.roles.owners.get(child.name) == fk:
            yield from self._owned_array(table, child, fk, names, (table.name,))
            return
        if child.name not in self.roles.roots or any(
            (column := child.column(c)) is None or column.nullable for c in fk.columns
        ):
            return
        on, explicit, fanout = self._link(table, child, fk)
        plural = self._plural(table, child)
        if fanout is not None and fanout.maximum <= MAX_CHILDREN and child.primary_key:
            name = names.claim(singular(plural) + "_ids", fk.columns[0])
            yield Relation(
                name,
                "references",
                child.name,
                f"one-to-many to collection `{child.table_name}` (NOT NULL "
                f"`{', '.join(fk.columns)}`): the ids of its rows, {fanout.described}",
                on,
                explicit,
                order_by=self._order(child),
                fanout=fanout,
                element_bytes=len(name) + 14,
            )
        described = fanout.described if fanout else "not measured"
        held = f"rows of collection `{child.table_name}` ({described})"
        counted = Relation("", "count", child.name, "", on, explicit, fanout=fanout)
        yield self._count(names, plural, counted, held)

    def _link(self, table: Table, child: Table, fk: ForeignKey) -> tuple[On, bool, Fanout | None]:
        """From a parent to the rows of `child` along `fk`: the join, whether it must be
        written (`on:`), and the fan-out."""
        on = tuple(zip(fk.referred_columns, fk.columns, strict=True))
        return on, self._ambiguous(table, child), self.stats.fanout(child.name, fk)

    @staticmethod
    def _plural(table: Table, child: Table) -> str:
        """An array's name: the child table's, without the parent's name as a prefix."""
        prefix = singular(table.table_name) + "_"
        return child.table_name.removeprefix(prefix) or child.table_name

    def _owned_array(
        self,
        table: Table,
        child: Table,
        fk: ForeignKey,
        names: _Names,
        ancestors: tuple[str, ...],
    ) -> Iterator[Relation]:
        """An owned table in its parent: a sub-document when its key is the foreign key
        (one-to-one), else an array ordered by key and its count; or only the count when it
        is a collection of its own."""
        on, explicit, fanout = self._link(table, child, fk)
        plural = self._plural(table, child)
        counted = Relation("", "count", child.name, "", on, explicit, fanout=fanout)
        mode, limit, why = self._mode(child.name)
        if mode == "separate":
            held = f"not embedded ({why}): collection `{child.table_name}` holds them"
            yield self._count(names, plural, counted, held)
            return
        node = self._element(child.name, ancestors)
        if child.is_unique(fk.columns):
            yield Relation(
                names.claim(singular(plural), "one"),
                "subdocument",
                child.name,
                f"one-to-one, owned by `{table.name}` (`{', '.join(fk.columns)}` is unique in "
                f"`{child.name}`): a sub-document",
                on,
                explicit,
                node,
                fanout=fanout,
                element_bytes=self._bytes(node),
            )
            return
        name = names.claim(plural, "items")
        kept = (
            "embedded"
            if mode == "full"
            else f"embedded up to {limit} (`overflow: truncate`; all in collection "
            f"`{child.table_name}`)"
        )
        yield Relation(
            name,
            "array",
            child.name,
            f"one-to-many, owned by `{table.name}`: {why}: {kept}, ordered by key",
            on,
            explicit,
            node,
            order_by=self._order(child),
            limit=limit,
            fanout=fanout,
            element_bytes=self._bytes(node),
        )
        yield self._count(names, name, counted, "the array's length")

    def _count(self, names: _Names, array: str, counted: Relation, why: str) -> Relation:
        """`counted` (a count of its table, on its join) named after `array`, with `why`."""
        name = names.claim(singular(array) + "_count", "n")
        return replace(counted, name=name, reason=f"how many: {why}")

    def _order(self, table: Table) -> tuple[str, ...]:
        if table.primary_key:
            return table.primary_key
        return tuple(c.name for c in table.columns if c.kind not in UNORDERED_KINDS)

    def _many_to_many(
        self, table: Table, join: Table, mine: ForeignKey, other: ForeignKey, names: _Names
    ) -> Iterator[Relation]:
        """The rows of the other side of a join table, with the join row's own columns."""
        far = self.tables[other.referred_table]
        fanout = self.stats.fanout(join.name, mine)
        keys = set(mine.columns) | set(other.columns)
        extra = tuple(c for c in join.column_names if c not in keys)
        columns = name_like(far)
        node = Node(far.name, "oid" if far.primary_key else None, columns)
        stats = self.stats.tables.get(join.name)
        element = self._bytes(node) + (stats.bytes_of(extra) if stats else 8 * len(extra))
        mode, limit, why = self._array_mode(fanout, element)
        prefix = (
            mine.columns[0][:-3] if mine.columns[0].endswith("_id") else singular(table.table_name)
        ) + "_"
        plural = join.table_name.removeprefix(prefix)
        plural = far.table_name if plural == join.table_name else plural
        label = f"many-to-many to `{far.name}` through join table `{join.name}`"
        if mode == "separate":
            on = tuple(zip(mine.referred_columns, mine.columns, strict=True))
            counted = Relation("", "count", join.name, "", on, self._ambiguous(table, join))
            held = f"{label}: not embedded ({why})"
            yield self._count(names, plural, replace(counted, fanout=fanout), held)
            return
        kept = "embedded" if mode == "full" else f"embedded up to {limit} (`overflow: truncate`)"
        with_columns = f", with the join row's {self._listed(extra)}" if extra else ""
        yield Relation(
            names.claim(plural, far.table_name),
            "many_to_many",
            far.name,
            f"{label}: {why}: {kept}{with_columns}",
            tuple(zip(other.columns, other.referred_columns, strict=True)),
            self._ambiguous(join, far),
            node,
            via=join.name,
            via_on=tuple(zip(mine.referred_columns, mine.columns, strict=True))
            if self._ambiguous(table, join)
            else (),
            via_columns=extra,
            order_by=tuple(f"{join.name}.{c}" for c in other.columns)
            if not far.primary_key
            else far.primary_key,
            limit=limit,
            fanout=fanout,
            element_bytes=element,
        )

    # --- sizes and indexes ---------------------------------------------------------------

    def _sizes(self, node: Node) -> tuple[int, int]:
        """The estimated largest and 99th-percentile document of a root node, in bytes: its
        arrays by their largest (or limit) and 99th-percentile fan-outs."""
        scalars = replace(node, fields=tuple(r for r in node.fields if r.kind not in ARRAYS))
        largest = p99 = self._bytes(scalars)
        for relation in node.fields:
            if relation.kind in ARRAYS and relation.fanout:
                most = min(relation.fanout.maximum, relation.limit or relation.fanout.maximum)
                largest += len(relation.name) + 7 + most * relation.element_bytes
                p99 += (
                    len(relation.name) + 7 + min(relation.fanout.p99, most) * relation.element_bytes
                )
        return largest, p99

    def _demote(self, node: Node) -> Node | None:
        """The node without its largest array (its rows then only counted), or None."""
        arrays = [r for r in node.fields if r.kind in ARRAYS]
        if not arrays:
            return None
        biggest = max(
            arrays,
            key=lambda r: (r.limit or (r.fanout.maximum if r.fanout else 0)) * r.element_bytes,
        )
        fields = tuple(r for r in node.fields if r is not biggest)
        return replace(node, fields=fields)

    @staticmethod
    def _looked_up(relation: Relation) -> bool:
        """Whether documents are found by the ids a field embeds: many-to-one sub-documents
        (one-to-one ones carry a fan-out) and many-to-many arrays."""
        return relation.kind == "many_to_many" or (
            relation.kind == "subdocument" and relation.fanout is None
        )

    def _indexes(self, table: Table, node: Node) -> Iterator[Index]:
        for key in dict.fromkeys(table.unique):  # a constraint and its index: one
            if set(key) <= set(node.columns) and all(
                (column := table.column(c)) is not None and not column.nullable for c in key
            ):
                yield Index(key, f"unique in the source ({', '.join(key)})", unique=True)
        for relation in node.fields:
            if relation.kind == "reference":
                yield Index((relation.name,), f"lookups by `{relation.table}` id")
            elif self._looked_up(relation) and relation.node and relation.node.id_rule:
                yield Index((f"{relation.name}._id",), f"lookups by `{relation.table}` id")
