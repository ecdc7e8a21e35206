"""Generate a straight-line Python function per document shape: the builder's fast path.

The function reads row values by index, converts them and fills a dict, with no loop over
fields and no per-field calls for plain values, ObjectIds, sub-documents and arrays: flat
sub-documents are built inline, and an array is looked up in its batch's groups directly.
Only names and indexes from the plan go into the source, names as `repr` string literals;
every value stays data. Any exception sends the row to the closure-based builder, which
raises the exact `RowRejected`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bson import ObjectId

from mapper import plan as p
from mapper.engine import convert
from mapper.ids import single_key_oid
from mapper.types import CONVERSIONS

if TYPE_CHECKING:  # the builder imports this module; its types only, for the checker
    from mapper.engine.build import Getter

OidCaches = dict[str, dict[Any, ObjectId]]  # per table: a row's key value → its ObjectId


def flat(shape: p.SubDocument) -> bool:
    """Every field path one name long: the shapes this module generates code for."""
    return all(len(field.path) == 1 for field in shape.fields)


class _Writer:
    """Emits the statements that fill one dict variable, nesting for sub-documents."""

    def __init__(
        self, compile_field: Callable[[p.Shape], Getter], oid_caches: OidCaches, omit: object
    ):
        self.compile_field = compile_field
        self.oid_caches = oid_caches
        self.namespace: dict[str, Any] = {"OMIT": omit, "datetime": dt.datetime, "UTC": dt.UTC}
        self.lines: list[str] = []
        self.names = 0

    def name(self, prefix: str, value: Any) -> str:
        self.names += 1
        name = f"{prefix}{self.names}"
        self.namespace[name] = value
        return name

    def emit(self, indent: int, *lines: str) -> None:
        self.lines += [" " * indent + line for line in lines]

    def document(self, shape: p.SubDocument, target: str, indent: int) -> None:
        self.emit(indent, f"{target} = {{}}")
        for field in shape.fields:
            self.field(field, target, repr(field.path[0]), indent)

    def field(self, field: p.Shape, target: str, key: str, indent: int) -> None:
        keep_null = getattr(field, "keep_null", False)
        if isinstance(field, p.Value):
            c = self.name("c", convert.get(field.conversion))
            record = CONVERSIONS.get(field.conversion)  # none for `NAME:clamp`: no test
            as_is = record and record.as_is  # `v` needs no conversion: no call
            value = f"v if {as_is} else {c}(v)" if as_is else f"{c}(v)"
            self.emit(
                indent,
                f"v = row[{field.index}]",
                "if v is not None:",
                f"    {target}[{key}] = {value}",
            )
        elif isinstance(field, p.DocumentId) and field.rule == "oid" and len(field.indexes) == 1:
            cache = self.name("cache", self.oid_caches.setdefault(field.table, {}))
            make = self.name("oid", single_key_oid(field.table))
            self.emit(
                indent,
                f"v = row[{field.indexes[0]}]",
                "if v is not None:",
                f"    o = {cache}.get(v)",
                "    if o is None:",
                f"        o = {cache}[v] = {make}(v)",
                f"    {target}[{key}] = o",
            )
        elif isinstance(field, p.SubDocument) and flat(field):
            inner = self.name("d", None)
            if field.present_index is None:
                self.document(field, inner, indent)
                self.emit(indent, f"{target}[{key}] = {inner}")
                return
            self.emit(indent, f"if row[{field.present_index}] is not None:")
            self.document(field, inner, indent + 4)
            self.emit(indent + 4, f"{target}[{key}] = {inner}")
        elif isinstance(field, p.Children) and len(field.parent_key) == 1:
            array = self.name("array", id(field))
            self.emit(
                indent,
                f"g = arrays[{array}].get(row[{field.parent_key[0]}])",
                "if g is None:",
                f"    {target}[{key}] = []",
                "elif g.rejected is None:",
                f"    {target}[{key}] = g.elements[:]",
                "else:",
                "    raise g.rejected",
            )
            return
        else:
            getter = self.name("g", self.compile_field(field))
            self.emit(
                indent,
                f"v = {getter}(row, arrays)",
                "if v is not OMIT:",
                f"    {target}[{key}] = v",
            )
            return
        if keep_null:
            self.emit(indent, "else:", f"    {target}[{key}] = None")


def generate(
    shape: p.SubDocument,
    compile_field: Callable[[p.Shape], Getter],
    slow: Getter,
    oid_caches: OidCaches,
    omit: object,
) -> Getter:
    """The fast builder of a flat shape; `compile_field` gives the closure of a field that is
    not generated inline, `slow` the whole shape's closure-based builder."""
    writer = _Writer(compile_field, oid_caches, omit)
    writer.namespace["slow"] = slow
    writer.emit(0, "def build(row, arrays):", "    try:")
    writer.document(shape, "document", 8)
    writer.emit(
        0, "        return document", "    except Exception:", "        return slow(row, arrays)"
    )
    namespace = writer.namespace
    exec(
        compile("\n".join(writer.lines), "<mapper document builder>", "exec"),  # noqa: S102
        namespace,
    )
    build: Getter = namespace["build"]  # the `def build(row, arrays)` just executed
    return build
