"""Lint a mapping file against the JSON Schema, and refuse credentials written into it.

Every violation becomes a `Problem` at the line:col of the offending node (for an unknown key,
the key itself), with the JSON path, the key named in backticks, and a hint where one helps.
Messages never repeat a value of the file, only its keys, so a secret cannot leak through them.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from importlib import metadata
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mapper import config
from mapper.errors import Problem
from mapper.spec.read import JsonPath, MappingFile

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

Schema = dict[str, Any]  # a JSON Schema, or a part of one, as parsed
KINDS = (
    "column",
    "value",
    "template",
    "embed",
    "reference",
    "denormalize",
    "count",
    "sum",
    "min",
    "max",
    "avg",
)
_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "`true` or `false`",
    "null": "null",
}
_CREDENTIAL_HINT = (
    "a mapping never holds credentials: give them with --source / --target, "
    "MAPPER_SOURCE_URL / MAPPER_TARGET_URL or a .env file"
)
_URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^\s/?#@:]*:[^\s/?#@]+@", re.IGNORECASE)
# a name is a secret's when it ends in one of these words (`db_password`, `api_token`), not
# when it only contains one (`password_policy`, `token_type`)
_SECRET_NAME = re.compile(
    r"(?:^|_)(?:password|passwd|pwd|secrets?|token|api_?key|access_?key"
    r"|private_?key|secret_?key|credentials?)$"
)
# a constant that looks like a generated secret: long, no spaces, letters mixed with digits
_SECRET_VALUE = re.compile(r"^(?=\S*[A-Za-z])(?=\S*\d)[A-Za-z0-9_\-+/=.]{24,}$")
_SILENCED = "not_secret"  # on a `value` field: a constant that only looks like a secret
_REDACTED = "<URL with a password>"
_NAME_MAPS = {"collections", "fields", "on", "keys", "filter"}  # keys there are names
PASSES_KEPT = 1_000  # schema passes kept in the cache folder (empty files: names only)


@functools.cache
def _schema_text() -> str:
    return (files("mapper") / "schemas" / "mapping.schema.json").read_text(encoding="utf-8")


@functools.cache
def mapping_schema() -> Schema:
    """The JSON Schema of the mapping language, as shipped in the package."""
    schema: Schema = json.loads(_schema_text())
    return schema


@functools.cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator  # only when a mapping is checked: 0.1 s

    return Draft202012Validator(mapping_schema())


def check_schema(mapping: MappingFile) -> Iterator[Problem]:
    """Yield every violation of the mapping schema in `mapping`, once each.

    A mapping that passed before is not checked again: a pass is remembered in the cache
    folder under the hash of the mapping's data, the schema and jsonschema's version (all
    that decides it); failures are never remembered.
    """
    passed = _passed(mapping)
    if passed is not None and _recall(passed):
        return
    reported: dict[tuple[JsonPath, str], Problem] = {}
    for error in _validator().iter_errors(mapping.data):
        for problem in _problems(mapping, error):
            reported.setdefault((problem.path, problem.message), problem)
    yield from reported.values()
    if not reported and passed is not None:
        _remember(passed)


def _passed(mapping: MappingFile) -> Path | None:
    """The file that marks `mapping` as passing the schema; None without a cache folder.

    Mapping data holds only plain values (mappings, lists, strings, numbers, booleans, null),
    whose `repr` tells any two of them apart (`1`, `1.0`, `'1'` and `True` included).
    """
    key = hashlib.sha256()
    for part in (*_deciders(), repr(mapping.data)):
        key.update(part.encode("utf-8", "surrogatepass") + b"\0")
    try:
        return config.cache_dir() / "schema-passed" / key.hexdigest()
    except RuntimeError:  # no home folder to find a cache in
        return None


@functools.cache
def _deciders() -> tuple[str, str]:
    """What decides a pass besides the mapping: the schema, and the validator's version."""
    return _schema_text(), metadata.version("jsonschema")


def _recall(passed: Path) -> bool:
    """Whether `passed` is kept, marked as used now: the passes forgotten first are those
    used longest ago (`_remember`)."""
    try:
        os.utime(passed)
    except FileNotFoundError:
        return False
    except OSError:  # a read-only cache still answers
        return passed.exists()
    return True


def _remember(passed: Path) -> None:
    """Keep a pass; past `PASSES_KEPT` in the folder, those used longest ago are forgotten
    (their mappings are checked again when next read)."""
    with contextlib.suppress(OSError):  # a read-only cache: the next run checks it again
        passed.parent.mkdir(parents=True, exist_ok=True)
        passed.touch()
        kept = list(passed.parent.iterdir())
        if len(kept) > PASSES_KEPT:
            kept.sort(key=_last_used)
            for forgotten in kept[: len(kept) - PASSES_KEPT // 2]:
                forgotten.unlink(missing_ok=True)


def _last_used(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # forgotten meanwhile by another process
        return 0.0


def _problem(mapping: MappingFile, path: JsonPath, message: str, hint: str = "") -> Problem:
    line, column = mapping.position(path)
    safe = tuple(_REDACTED if _has_password(step) else step for step in path)
    return Problem(mapping.path, line, column, message, path=safe, hint=hint)


def _problems(mapping: MappingFile, error: ValidationError) -> Iterator[Problem]:
    path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance, validator = error.instance, error.validator
    if validator in ("anyOf", "oneOf") and "errorMessage" not in schema and error.context:
        from jsonschema.exceptions import best_match

        yield from _problems(mapping, best_match(error.context))
    elif validator == "additionalProperties" and isinstance(instance, dict):
        yield from _unknown_keys(mapping, path, schema, instance)
    elif "propertyNames" in error.relative_schema_path:
        shown = _show(instance)
        yield _problem(
            mapping,
            (*path, instance),
            f"{shown} {schema.get('errorMessage', 'is not a valid name here')}",
        )
    elif validator == "required":
        for key in (key for key in error.validator_value if key not in instance):
            yield _problem(
                mapping,
                path,
                f"missing required key `{key}` in {_where(path, schema)}",
                _describe(schema, key),
            )
    elif validator == "dependentRequired":
        for key, needed in error.validator_value.items():
            for other in (other for other in needed if key in instance and other not in instance):
                yield _problem(
                    mapping,
                    (*path, key),
                    f"`{key}` needs `{other}` in {_where(path, schema)}",
                    _describe(schema, other),
                )
    elif validator == "anyOf" and schema.get("title") == "field":
        yield _problem(
            mapping,
            path,
            f"{_name(path)} {schema['errorMessage']}",
            _did_you_mean(list(instance), KINDS),
        )
    else:
        close = _did_you_mean([instance], error.validator_value) if validator == "enum" else ""
        yield _problem(mapping, path, f"{_name(path)} {_predicate(error, schema)}", close)


def _unknown_keys(
    mapping: MappingFile, path: JsonPath, schema: Schema, instance: dict[str, Any]
) -> Iterator[Problem]:
    allowed = list(schema.get("properties", {}))
    kinds = [key for key in instance if key in KINDS]
    if schema.get("title", "").endswith(" field") and len(kinds) > 1:
        yield _problem(
            mapping,
            path,
            f"field {_name(path)} has {len(kinds)} kind keys: " + _either(kinds, "and"),
            "a field takes exactly one kind key",
        )
        return
    for key in (key for key in instance if key not in allowed):
        yield _problem(
            mapping,
            (*path, key),
            f"unknown key {_show(key)} in {_where(path, schema)}",
            _did_you_mean([key], allowed) or f"allowed here: {_either(allowed, 'and')}",
        )


def _predicate(error: ValidationError, schema: Schema) -> str:
    """What the value should be, without repeating the value itself."""
    value = error.validator_value
    match error.validator:
        case _ if "errorMessage" in schema:
            message: str = schema["errorMessage"]
            return message
        case "type":
            expected = [value] if isinstance(value, str) else value
            return (
                f"must be {' or '.join(_TYPE_NAMES[name] for name in expected)}, "
                f"not {_type_of(error.instance)}"
            )
        case "const":
            return f"must be {_literal(value)}"
        case "enum":
            return f"must be {_either([_literal(item) for item in value], 'or', quote=False)}"
        case "minItems" | "minProperties" | "minLength":
            return "must not be empty"
        case "minimum":
            return f"must be at least {value}"
        case "maximum":
            return f"must be at most {value}"
        case "uniqueItems":
            return "lists an entry twice"
        case _:
            return f"is invalid here (`{error.validator}`)"


def _where(path: JsonPath, schema: Schema) -> str:
    return f"{schema.get('title', 'mapping')} {_name(path)}" if path else "the top-level mapping"


def _name(path: JsonPath) -> str:
    """The last key of `path` in backticks; a list item as `parent[index]`."""
    if not path:
        return "the file"
    if isinstance(path[-1], int):
        return f"`{path[-2] if len(path) > 1 else ''}[{path[-1]}]`"
    return _show(path[-1])


def _show(name: str) -> str:
    if _has_password(name):
        return f"`{_REDACTED}`"
    plain = name and name == name.strip() and name.isprintable() and "`" not in name
    return f"`{name}`" if plain else f"`{json.dumps(name)}`"


def _literal(value: Any) -> str:
    return f"`{value}`" if isinstance(value, str) else f"`{json.dumps(value)}`"


def _either(words: list[str], last: str, quote: bool = True) -> str:
    shown = [f"`{word}`" if quote else word for word in words]
    return f" {last} ".join([", ".join(shown[:-1]), shown[-1]] if len(shown) > 1 else shown)


def _type_of(value: Any) -> str:
    names = {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        type(None): "null",
    }
    return _TYPE_NAMES.get(names.get(type(value), ""), "something else")


def _describe(schema: Schema, key: str) -> str:
    """The description of `key` in `schema`, as a hint."""
    description: str = schema.get("properties", {}).get(key, {}).get("description", "")
    return description


def _did_you_mean(words: list[Any], choices: Iterable[Any]) -> str:
    """A hint naming the choice closest to one of `words`, if any is close."""
    names = [choice for choice in choices if isinstance(choice, str)]
    for word in (word for word in words if isinstance(word, str) and word not in names):
        if close := difflib.get_close_matches(word, names, n=1):
            return f"did you mean `{close[0]}`?"
    return ""


def check_secrets(mapping: MappingFile) -> Iterator[Problem]:
    """Yield a problem for each value that looks like a credential (never echoing it)."""
    yield from _secrets(mapping, mapping.data, (), names=False)


def _secrets(mapping: MappingFile, node: Any, path: JsonPath, names: bool) -> Iterator[Problem]:
    if _has_password(node):
        yield _problem(
            mapping, path, f"{_name(path)} holds a URL with a password", _CREDENTIAL_HINT
        )
    elif isinstance(node, list):
        in_filter = bool(path) and path[-1] in ("and", "or")
        for index, item in enumerate(node):
            yield from _secrets(mapping, item, (*path, index), names=in_filter)
    elif isinstance(node, dict):
        for key, value in node.items():
            here = (*path, key)
            if _has_password(key):
                yield _problem(mapping, here, "a key holds a URL with a password", _CREDENTIAL_HINT)
            secret_name = _SECRET_NAME.search(_snake(key)) is not None
            if secret_name and not names and _filled(value):
                yield _problem(
                    mapping, here, f"{_show(key)} holds a literal credential", _CREDENTIAL_HINT
                )
            elif (
                names
                and isinstance(value, dict)
                and not value.get(_SILENCED)
                and (
                    (secret_name and _filled(value.get("value")))
                    or _looks_generated(value.get("value"))
                )
            ):
                yield _problem(
                    mapping,
                    (*here, "value"),
                    f"field {_show(key)} holds what looks like a literal credential in `value`",
                    f"{_CREDENTIAL_HINT}; if it is none, add `{_SILENCED}: true`",
                )
            else:
                yield from _secrets(mapping, value, here, names=key in _NAME_MAPS and not names)


def _looks_generated(value: Any) -> bool:
    """A token, key or hash: entropy of a random string (UUIDs and plain words pass)."""
    if not isinstance(value, str) or _SECRET_VALUE.match(value) is None:
        return False
    try:
        uuid.UUID(value)
        return False
    except ValueError:
        return len(set(value)) >= 12


def _has_password(value: Any) -> bool:
    return isinstance(value, str) and _URL_WITH_PASSWORD.search(value) is not None


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().replace("-", "_")


def _filled(value: Any) -> bool:
    """A scalar that could be a secret: a non-empty string or a number."""
    return (isinstance(value, str) and value != "") or (
        isinstance(value, int | float) and not isinstance(value, bool)
    )
