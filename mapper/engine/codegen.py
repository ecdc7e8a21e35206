"""Generate a straight-line Python function per document shape: the builder's fast path.

The function reads row values by index, converts them and fills a dict, with no loop over
fields and no per-field calls for plain values and ObjectIds. Only names and indexes from the
plan go into the source, names as `repr` string literals; every value stays data. Any
exception sends the row to the closure-based builder, which raises the exact `RowRejected`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mapper import plan as p
from mapper.engine import convert
from mapper.ids import oid

Getter = Callable[[Sequence[Any], dict], Any]


def generate(shape: p.SubDocument, getters: Sequence[Getter], slow: Getter,
             oid_caches: dict[str, dict], omit: object) -> Getter:
    """The fast builder of a flat shape (every field path one name long)."""
    namespace: dict[str, Any] = {"slow": slow, "OMIT": omit, "oid": oid}
    lines = ["def build(row, arrays):", "    try:", "        document = {}"]
    for number, (field, getter) in enumerate(zip(shape.fields, getters, strict=True)):
        name = repr(field.path[0])
        if isinstance(field, p.Value):
            namespace[f"c{number}"] = convert.get(field.conversion)
            convert_expression = (f"v if v.__class__ is str else c{number}(v)"
                                  if field.conversion == "string" else f"c{number}(v)")
            lines += [f"        v = row[{field.index}]",
                      "        if v is not None:",
                      f"            document[{name}] = {convert_expression}"]
            if field.keep_null:
                lines += ["        else:", f"            document[{name}] = None"]
        elif isinstance(field, p.DocumentId) and field.rule == "oid" \
                and len(field.indexes) == 1:
            namespace[f"cache{number}"] = oid_caches.setdefault(field.table, {})
            namespace[f"table{number}"] = field.table
            lines += [f"        v = row[{field.indexes[0]}]",
                      "        if v is not None:",
                      f"            o = cache{number}.get(v)",
                      "            if o is None:",
                      f"                o = cache{number}[v] = oid(table{number}, (v,))",
                      f"            document[{name}] = o"]
            if field.keep_null:
                lines += ["        else:", f"            document[{name}] = None"]
        else:
            namespace[f"g{number}"] = getter
            lines += [f"        v = g{number}(row, arrays)",
                      "        if v is not OMIT:",
                      f"            document[{name}] = v"]
    lines += ["        return document", "    except Exception:",
              "        return slow(row, arrays)"]
    exec(compile("\n".join(lines), "<mapper document builder>", "exec"), namespace)  # noqa: S102
    return namespace["build"]
