"""What each kind of target can store and build, as data (a sink's `capabilities`: declared,
or found out by trying them on its server, `load/probe.py`); a sink's pre-flight refuses,
before anything is written, a plan that needs what its target lacks (`refuse`)."""

from __future__ import annotations

from dataclasses import dataclass

from mapper import plan as p
from mapper.errors import UsageError
from mapper.types import base

ALL_INDEX_KINDS: frozenset[int | str] = frozenset({1, -1, "text", "hashed", "2d", "2dsphere"})


@dataclass(frozen=True)
class Capabilities:
    """A target kind's features that a plan may need; `name` is how messages call it."""

    name: str
    decimal128: bool = True
    validators: bool = True
    index_kinds: frozenset[int | str] = ALL_INDEX_KINDS  # index key values it builds (1, "text")


# Extended JSON holds every BSON type; validators and indexes are the business of the
# collection that the files are imported into, so a file target refuses none of them
FILES = Capabilities("Extended JSON files")
NULL = Capabilities("null")  # writes nothing, so it holds whatever a plan asks for


def refuse(collections: list[p.CollectionPlan], target: Capabilities) -> None:
    """Raise `UsageError` (the mapping and the target do not go together) for the first
    collection that `target` cannot hold as planned."""
    for collection in collections:
        problems = missing(collection, target)
        if problems:
            raise UsageError("; ".join(problems))


def missing(collection: p.CollectionPlan, server: Capabilities) -> list[str]:
    """Why `server` cannot hold this collection as planned (one message per feature)."""
    found: list[str] = []
    decimals = [
        ".".join(path)
        for path, conversion in p.conversions(collection.document)
        if base(conversion) == "decimal128"
    ]
    if decimals and not server.decimal128:
        found.append(
            f"the target ({server.name}) cannot store Decimal128, which "
            f"`{collection.name}` uses for {', '.join(f'`{d}`' for d in decimals)}: "
            "run with --decimal-as string (exact text) or --decimal-as double, or use "
            "MongoDB"
        )
    if collection.validator and not server.validators:
        found.append(
            f"the target ({server.name}) does not support collection validators, "
            f"which `{collection.name}` asks for (`validator: true`): remove it, or "
            "use MongoDB; `mapper validate` checks the generated schema either way"
        )
    for index in collection.indexes:
        kinds = [kind for _, kind in index.keys if kind not in server.index_kinds]
        if kinds:
            fields = ", ".join(f"`{field}: {kind}`" for field, kind in index.keys if kind in kinds)
            found.append(
                f"the target ({server.name}) cannot build the index {fields} of "
                f"`{collection.name}` (it builds only "
                f"{', '.join(map(str, sorted(server.index_kinds, key=str)))} "
                "indexes): remove it from `indexes`, or use MongoDB"
            )
    return found
