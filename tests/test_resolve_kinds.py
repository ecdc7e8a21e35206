"""The resolver's table of field kinds: one function per kind the mapping language has."""

import json
from pathlib import Path

from mapper.resolve import relations
from mapper.resolve.resolver import FIELD_KINDS

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "mapping.schema.json"


def test_every_field_kind_of_the_schema_has_a_resolver_function_and_no_other():
    kinds = {
        option["required"][0]
        for option in json.loads(SCHEMA.read_text())["$defs"]["field_object"]["anyOf"]
    }
    assert set(FIELD_KINDS) == kinds
    assert all(callable(function) for function in FIELD_KINDS.values())


def test_the_relation_kinds_are_the_kinds_resolved_over_a_relation_path():
    assert set(relations.RELATION_KINDS) == set(FIELD_KINDS) - {"column", "value", "template"}
    assert {FIELD_KINDS[kind] for kind in relations.AGGREGATE_KINDS} == {relations.aggregate}
