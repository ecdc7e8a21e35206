"""The table of conversions (`types.CONVERSIONS`): one record per conversion, read by convert,
lint, codegen, the `$jsonSchema` generator and validate, and in step with the JSON Schema."""

from __future__ import annotations

import pytest

from mapper.engine import convert


@pytest.mark.parametrize("value", ["text", "0f8fad5b-d9cb-469f-a165-70867728950e", b"short"])
def test_text_that_is_no_objectid_fails_its_conversion_without_quoting_it(value) -> None:
    with pytest.raises(convert.ConversionFailed) as error:
        convert.get("objectid")(value)
    assert str(value) not in str(error.value)
