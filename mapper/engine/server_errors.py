"""A target server's errors as mapper's: which are transient (`target_error`), and what they
may say in the reject file and on stderr: the code, its name and the field path, never the
server's message, which quotes the document's values (FerretDB's
`invalid value: { "arr": [ [ "<row text>", ...`, MongoDB's `dup key: { email: "..." }`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import bson
from pymongo import errors as mongo_errors

from mapper.config import TARGET_VARIABLE, redact
from mapper.errors import MapperError, TargetAccessDenied, TargetError

_NESTED = ("details", "schemaRulesNotSatisfied", "propertiesNotSatisfied")
# may succeed when sent again (AutoReconnect includes NetworkTimeout and server selection)
_TRANSIENT = (mongo_errors.AutoReconnect, mongo_errors.WTimeoutError, mongo_errors.ExecutionTimeout)
ACCESS_REFUSED = frozenset({13, 18})  # Unauthorized, AuthenticationFailed: a configuration problem


def target_error(error: mongo_errors.PyMongoError, collection: str) -> MapperError:
    """The mapper error of a failed command on `collection`: transient if sending it again
    may succeed (a lost connection, a timeout), `TargetAccessDenied` if the target refused
    the URL's user, a non-transient `TargetError` otherwise."""
    if isinstance(error, _TRANSIENT):
        return TargetError(
            f"target failed on `{collection}`: {command_error(error)}", transient=True
        )
    if isinstance(error, mongo_errors.OperationFailure) and error.code in ACCESS_REFUSED:
        return TargetAccessDenied(
            f"the target refused `{collection}`: "
            f"{command_error(error)}: check the user, password, "
            "authSource and roles of the target URL",
            setting=TARGET_VARIABLE,
        )
    return TargetError(f"target failed on `{collection}`: {command_error(error)}")


def write_error(failure: Mapping[str, Any], document: bytes) -> str:
    """The reason of one failed write (`BulkWriteError.details["writeErrors"]` item) of the
    BSON `document`: the server's code, its name and the field at fault where it is known."""
    path = (
        _validation_path(failure.get("errInfo"))
        or _key_pattern(failure)
        or _named_field(str(failure.get("errmsg", "")), bson.decode(document))
    )
    return _coded(failure, path)


def command_error(error: mongo_errors.PyMongoError) -> str:
    """A failed command: an `OperationFailure` by its code (its message may quote values,
    e.g. a unique index that the data breaks), anything else by its redacted message."""
    if isinstance(error, mongo_errors.OperationFailure):
        details = error.details or {"code": error.code}
        return _coded({"code": error.code, **details}, _key_pattern(details))
    return f"{type(error).__name__}: {redact(str(error))[:300]}"


def _coded(failure: Mapping[str, Any], path: str) -> str:
    name = failure.get("codeName")
    reason = f"server error {failure.get('code')}" + (f" ({name})" if name else "")
    return reason + (f" at `{path}`" if path else "")


def _validation_path(info: Any) -> str:
    """The first property a `$jsonSchema` validator refused (MongoDB's error 121 details)."""
    names: list[str] = []
    while isinstance(info, Mapping | list):
        if isinstance(info, list):
            info = info[0] if info else None
            continue
        if isinstance(info.get("propertyName"), str):
            names.append(info["propertyName"])
        if isinstance(info.get("missingProperties"), list) and info["missingProperties"]:
            names.append(str(info["missingProperties"][0]))
        info = next((value for key, value in info.items() if key in _NESTED), None)
    return ".".join(names)


def _key_pattern(failure: Mapping[str, Any]) -> str:
    """The keys of the unique index that a duplicate breaks (never `keyValue`)."""
    pattern = failure.get("keyPattern")
    return ", ".join(pattern) if isinstance(pattern, Mapping) else ""


def _named_field(message: str, document: Mapping[str, Any]) -> str:
    """The deepest field of `document` whose name the message quotes (`"name"`), if any:
    FerretDB names the innermost key only."""
    found = {path for path in _paths(document, ()) if f'"{path[-1]}"' in message}
    deepest = max(found, key=len, default=())
    return ".".join(deepest)


def _paths(node: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield (*path, key)
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for item in node:
            yield from _paths(item, path)
