"""Read a mapping file: safe YAML, duplicate keys refused, every node's line:col kept.

Scalars follow the YAML 1.2 core schema, not PyYAML's YAML 1.1 defaults: `on`, `yes` and `no`
stay strings (so `on: {created_by: id}` means the key `on`), `2024-01-01` stays a string
(the filter compiler binds it as a parameter), `010` is ten. Only the core tags are accepted:
anything else (`!!python/...`, `!!binary`, a local `!tag`) is a problem and nothing is built.
Anchors, aliases and merge keys (`<<: *defaults`) work, within a cap on expanded nodes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mapper.errors import Problem, SpecError

JsonPath = tuple[str | int, ...]
Position = tuple[int, int]

MAX_ALIAS_NODES = 10_000
MAX_DEPTH = 200
_TAG = "tag:yaml.org,2002:"
_NULL, _BOOL, _INT, _FLOAT, _STR, _SEQ, _MAP, _MERGE = (
    _TAG + name for name in ("null", "bool", "int", "float", "str", "seq", "map", "merge")
)
_SCALARS = {  # tag -> (YAML 1.2 core pattern, first characters)
    _BOOL: (r"true|True|TRUE|false|False|FALSE", "tTfF"),
    _INT: (r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    _FLOAT: (
        r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        "-+0123456789.",
    ),
    _NULL: (r"~|null|Null|NULL|", ["~", "n", "N", ""]),
    _MERGE: (r"<<", "<"),
}
_TAG_HINT = (
    "mapping files hold plain YAML (mappings, lists, strings, numbers, booleans, null); "
    "other tags are refused, never run"
)


class _Loader(yaml.SafeLoader):
    """SafeLoader used to compose nodes only, resolving plain scalars by YAML 1.2 core."""

    yaml_implicit_resolvers: dict[str, list[tuple[str, re.Pattern[str]]]] = {}  # by first char


for _tag, (_pattern, _first) in _SCALARS.items():
    _Loader.add_implicit_resolver(_tag, re.compile(f"^(?:{_pattern})$"), list(_first))


@dataclass(frozen=True)
class MappingFile:
    """A mapping file read into plain data, with the position of each node.

    `positions` maps a JSON path to a 1-based (line, column): for a mapping entry the position
    of its key, for a list item the item itself, for `()` the top-level mapping.
    """

    path: str
    data: Any
    positions: Mapping[JsonPath, Position]

    def position(self, path: JsonPath) -> Position:
        """The position of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            if (found := self.positions.get(tuple(path[:end]))) is not None:
                return found
        return (1, 1)


class _Refused(Exception):
    """A node that cannot be read: it is left out, and reading goes on to find more."""

    def __init__(self, node: Node, message: str, hint: str = "", path: JsonPath = ()):
        super().__init__(message)
        self.mark, self.message, self.hint, self.path = node.start_mark, message, hint, path

    def problem(self, name: str) -> Problem:
        line, column = _where(self.mark)
        return Problem(name, line, column, self.message, path=self.path, hint=self.hint)


class _Fatal(_Refused):
    """A node that stops reading at once (recursion, an alias bomb)."""


def _unsupported(tag: str) -> str:
    return f"unsupported YAML tag `{tag.replace(_TAG, '!!', 1)}`"


def _where(mark: yaml.Mark) -> Position:
    return (mark.line + 1, mark.column + 1)


class _Builder:
    """Turns a composed node graph into plain data, checking tags, keys and aliases."""

    def __init__(self) -> None:
        self.positions: dict[JsonPath, Position] = {}
        self.seen: set[int] = set()
        self.ancestors: set[int] = set()
        self.expanded = 0
        self.refused: list[_Refused] = []

    def build(self, node: Node, path: JsonPath, position: Position, in_alias: bool) -> Any:
        if id(node) in self.ancestors:
            raise _Fatal(
                node,
                "recursive alias: a node contains itself",
                "an anchor cannot be used inside its own definition",
            )
        in_alias = in_alias or id(node) in self.seen
        if in_alias:
            self.expanded += 1
            if self.expanded > MAX_ALIAS_NODES:
                raise _Fatal(
                    node,
                    f"aliases expand to more than {MAX_ALIAS_NODES} nodes",
                    "an alias bomb? use fewer or smaller aliases",
                )
        if len(path) > MAX_DEPTH:
            raise _Fatal(node, f"nested more than {MAX_DEPTH} levels deep")
        self.seen.add(id(node))
        self.positions[path] = position
        self.ancestors.add(id(node))
        try:
            if isinstance(node, ScalarNode):
                return _scalar(node)
            if isinstance(node, SequenceNode) and node.tag == _SEQ:
                return [
                    self.build(item, (*path, index), _where(item.start_mark), in_alias)
                    for index, item in enumerate(node.value)
                ]
            if isinstance(node, MappingNode) and node.tag == _MAP:
                return self._mapping(node, path, in_alias)
            raise _Refused(node, _unsupported(node.tag), _TAG_HINT)
        except _Refused as refused:
            refused.path = refused.path or path
            if isinstance(refused, _Fatal):
                raise
            self.refused.append(refused)
            return None
        finally:
            self.ancestors.discard(id(node))

    def _mapping(self, node: MappingNode, path: JsonPath, in_alias: bool) -> dict[str, Any]:
        entries: list[tuple[Node, Node]] = []
        sources: list[Node] = []
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE:
                merged = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                sources.extend(merged)
            else:
                entries.append((key_node, value_node))
        result: dict[str, Any] = {}
        for source in reversed(sources):  # explicit keys win, then earlier sources
            if isinstance(source, MappingNode):
                result.update(self.build(source, path, self.positions[path], in_alias) or {})
            else:
                self.refused.append(
                    _Refused(
                        source, "a merge key `<<` takes a mapping or a list of mappings", path=path
                    )
                )
        lines: dict[str, int] = {}
        for key_node, value_node in entries:
            try:
                key, where = _key(key_node), _where(key_node.start_mark)
                if key in lines:
                    raise _Refused(
                        key_node,
                        f"duplicate key `{key}` (lines {lines[key]} and {where[0]})",
                        "a key may appear once in a mapping",
                        (*path, key),
                    )
            except _Refused as refused:
                self.refused.append(refused)
                continue
            lines[key] = where[0]
            result[key] = self.build(value_node, (*path, key), where, in_alias)
        return result


def _key(node: Node) -> str:
    if not isinstance(node, ScalarNode):
        raise _Refused(node, "a key must be a plain name, not a list or a mapping")
    if node.tag not in (_STR, _INT, _FLOAT, _BOOL, _NULL):
        raise _Refused(node, _unsupported(node.tag), _TAG_HINT)
    key: str = node.value  # a scalar's text
    return key


def _scalar(node: ScalarNode) -> Any:
    text, tag = node.value, node.tag
    if tag == _STR:
        return text
    if tag == _NULL and text in ("", "~", "null", "Null", "NULL"):
        return None
    if tag == _BOOL and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if tag == _INT and re.fullmatch(_SCALARS[_INT][0], text):
        sign, digits = (-1 if text[0] == "-" else 1), text.lstrip("-+")
        base = {"0o": 8, "0x": 16}.get(digits[:2], 10)
        return sign * int(digits if base == 10 else digits[2:], base)
    if tag == _FLOAT and re.fullmatch(_SCALARS[_FLOAT][0], text):
        return float(
            text.replace(".", "", 1) if text.lower().lstrip("-+") in (".inf", ".nan") else text
        )
    if tag in (_NULL, _BOOL, _INT, _FLOAT):
        raise _Refused(node, f"`{text}` is not a valid `{tag.removeprefix(_TAG)}`")
    raise _Refused(node, _unsupported(tag), _TAG_HINT)


def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        before = raw[: error.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        raise SpecError(
            [
                Problem(
                    name,
                    line,
                    column,
                    "the file is not valid UTF-8 text",
                    hint="save the mapping file as UTF-8",
                )
            ]
        ) from None


def _text_position(text: str, index: int) -> Position:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _compose(text: str, name: str) -> Node | None:
    loader = None
    try:
        loader = _Loader(text)
        return loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = _where(mark) if mark else (1, 1)
        message = f"malformed YAML: {(error.problem or '').removeprefix('but ')}"
        if error.context:
            since = f", line {error.context_mark.line + 1}" if error.context_mark else ""
            message += f" ({error.context}{since})"
        raise SpecError([Problem(name, line, column, message)]) from None
    except yaml.reader.ReaderError as error:
        line, column = _text_position(text, error.position)
        message = f"malformed YAML: character U+{error.character:04X} is not allowed"
        raise SpecError([Problem(name, line, column, message)]) from None
    except RecursionError:
        raise SpecError([Problem(name, 1, 1, "malformed YAML: nested too deeply")]) from None
    finally:
        if loader is not None:
            loader.dispose()


def read_mapping(path: str | Path) -> MappingFile:
    """Read one mapping file; raises `SpecError` with the problems if it cannot be read."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise SpecError([Problem(name, 1, 1, f"cannot read the file: {error.strerror}")]) from None
    node = _compose(_decode(raw, name), name)
    if node is None:
        raise SpecError(
            [
                Problem(
                    name,
                    1,
                    1,
                    "the file is empty",
                    hint="a mapping file holds `version: 1` and `collections`",
                )
            ]
        )
    builder, data = _Builder(), None
    try:
        data = builder.build(node, (), _where(node.start_mark), False)
    except _Fatal as fatal:
        builder.refused.append(fatal)
    if builder.refused:
        raise SpecError([refused.problem(name) for refused in builder.refused])
    if not isinstance(data, dict):
        line, column = _where(node.start_mark)
        raise SpecError(
            [
                Problem(
                    name,
                    line,
                    column,
                    "the top level must be a mapping",
                    hint="a mapping file holds `version: 1` and `collections`",
                )
            ]
        )
    return MappingFile(name, data, MappingProxyType(builder.positions))
