"""The table of conversions (`types.CONVERSIONS`): one record per conversion, read by convert,
lint, codegen, the `$jsonSchema` generator and validate, and in step with the JSON Schema."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from pathlib import Path

import bson
import pytest

from mapper import types
from mapper.engine import convert
from mapper.validation.values import type_ok

SCHEMA = Path(__file__).resolve().parent.parent / "mapper" / "schemas" / "mapping.schema.json"

# values of Python types a source gives, to try each conversion on
SAMPLES = (
    True,
    7,
    2**40,
    0.5,
    decimal.Decimal("1.50"),
    "text",
    "0f8fad5b-d9cb-469f-a165-70867728950e",
    dt.datetime(2024, 1, 2, 3, 4, tzinfo=dt.UTC),
    dt.datetime(2024, 1, 2),
    dt.date(2024, 1, 2),
    dt.time(1, 2),
    dt.timedelta(days=1),
    uuid.UUID(int=5),
    b"\x00" * 12,
    {"a": [1]},
    [1, "x"],
)

JSON_VALUES = (dict, list, str, int, float, bool)  # what a JSON column's values are read as


def _samples(name: str) -> tuple:
    """The samples a conversion can be given (the json conversion: JSON columns' values)."""
    return tuple(value for value in SAMPLES if name != "json" or isinstance(value, JSON_VALUES))


def test_every_conversion_named_in_the_json_schema_has_a_record_and_vice_versa() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    named = set(schema["$defs"]["type"]["enum"])
    assert named == set(types.ACCEPTS)
    assert named == {
        name for name, record in types.CONVERSIONS.items() if record.accepts is not None
    }


def test_every_record_has_its_function_and_every_function_a_record() -> None:
    registered = {types.base(name) for name in convert._registry}
    assert registered == set(types.CONVERSIONS)
    assert all(record.name == name for name, record in types.CONVERSIONS.items())


def test_a_function_without_a_record_is_refused() -> None:
    with pytest.raises(ValueError, match="no record"):
        convert.converter("money")(lambda value: value)


def test_every_default_conversion_has_a_record() -> None:
    assert set(types.DEFAULT_CONVERSION.values()) <= set(types.CONVERSIONS)


def test_every_conversion_a_clamp_policy_gives_is_registered() -> None:
    for kind, default in types.DEFAULT_CONVERSION.items():
        names = {default} | {name for name, kinds in types.ACCEPTS.items() if kind in kinds}
        for name in names:
            assert callable(convert.get(types.with_policy(name, kind, "clamp"))), (kind, name)


@pytest.mark.parametrize(
    "name", sorted(name for name, record in types.CONVERSIONS.items() if record.as_is)
)
def test_values_the_as_is_test_passes_are_returned_unchanged(name: str) -> None:
    record = types.CONVERSIONS[name]
    namespace = {"datetime": dt.datetime, "UTC": dt.UTC}
    passed = [value for value in SAMPLES if eval(record.as_is, namespace, {"v": value})]  # noqa: S307
    assert passed, "the test passes no sample"
    for value in passed:
        assert convert.get(name)(value) is value


@pytest.mark.parametrize("name", sorted(types.CONVERSIONS))
def test_converted_values_have_the_python_types_the_record_promises(name: str) -> None:
    record = types.CONVERSIONS[name]
    converted = 0
    for value in _samples(name):
        try:
            result = convert.get(name)(value)
        except (convert.ConversionFailed, ValueError, TypeError, ArithmeticError):
            continue
        converted += 1
        assert type_ok(name, result), (value, result)
        if record.python_types:
            assert isinstance(result, record.python_types), (value, result)
    assert converted, "no sample converts"


def test_bson_type_names_are_those_of_the_values() -> None:
    names = {
        bool: "bool",
        int: "int",
        bson.Int64: "long",
        float: "double",
        str: "string",
        bson.Decimal128: "decimal",
        dt.datetime: "date",
        uuid.UUID: "binData",
        bytes: "binData",
        bson.ObjectId: "objectId",
        list: "array",
    }
    for name, record in types.CONVERSIONS.items():
        for value in _samples(name):
            try:
                result = convert.get(name)(value)
            except (convert.ConversionFailed, ValueError, TypeError, ArithmeticError):
                continue
            if record.bson_types:
                assert names[type(result)] in record.bson_types, (name, value, result)


def test_text_is_parsed_by_the_record_of_its_conversion() -> None:
    assert types.parse_text("int", " 7 ") == 7
    assert types.parse_text("decimal128", "1.50") == decimal.Decimal("1.50")
    assert types.parse_text("bool", "FALSE") is False
    assert types.parse_text("date", "2024-01-02") == dt.date(2024, 1, 2)
    assert types.parse_text("string", " 7 ") == " 7 "
    with pytest.raises(ValueError):
        types.parse_text("bool", "yes")


@pytest.mark.parametrize("value", ["text", "0f8fad5b-d9cb-469f-a165-70867728950e", b"short"])
def test_text_that_is_no_objectid_fails_its_conversion_without_quoting_it(value) -> None:
    with pytest.raises(convert.ConversionFailed) as error:
        convert.get("objectid")(value)
    assert str(value) not in str(error.value)
