"""What validation reads from a target: documents by `_id`, a batch at a time.

`MongoTarget` asks the server (`_id: {$in: [...]}`); `FileTarget` reads the file sink's output
(one canonical Extended JSON Lines file per collection) through an index of each document's
`_id` and byte offset, made in one pass, so that a batch reads only its own lines.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pymongo
from bson import json_util
from bson.binary import UuidRepresentation

from mapper.config import redact
from mapper.engine.load import mongodb
from mapper.errors import UsageError
from mapper.validation.values import canon

CHUNK = 1000  # ids per `$in`
_JSON = json_util.JSONOptions(
    json_mode=json_util.JSONMode.CANONICAL,
    tz_aware=True,
    uuid_representation=UuidRepresentation.STANDARD,
)
Document = dict[str, Any]  # a document read back from the target


class Collection(Protocol):
    """A target collection; documents and ids are keyed by their canonical `_id`
    (`values.canon`)."""

    duplicates: set[Hashable]  # canonical ids held by more than one document

    def count(self) -> int: ...
    def find(self, ids: list[object]) -> dict[Hashable, Document]: ...
    def present(self, ids: list[object]) -> set[Hashable]: ...
    def ids(self) -> Iterator[object]: ...


class MongoCollection:
    def __init__(self, collection: pymongo.collection.Collection[Document]):
        self.collection = collection
        self.duplicates: set[Hashable] = set()

    def count(self) -> int:
        return self.collection.count_documents({})

    def find(
        self, ids: list[object], projection: dict[str, int] | None = None
    ) -> dict[Hashable, Document]:
        """The documents with these `_id`s, by canonical `_id`."""
        found: dict[Hashable, Document] = {}
        for start in range(0, len(ids), CHUNK):
            for document in self.collection.find(
                {"_id": {"$in": ids[start : start + CHUNK]}}, projection
            ):
                found[canon(document.get("_id"))] = document
        return found

    def present(self, ids: list[object]) -> set[Hashable]:
        return set(self.find(ids, {"_id": 1}))

    def ids(self) -> Iterator[object]:
        for document in self.collection.find({}, {"_id": 1}):
            yield document.get("_id")


class FileCollection:
    """A `NAME.jsonl` file of the file sink (absent: no documents)."""

    def __init__(self, path: Path):
        self.path = path
        self.duplicates: set[Hashable] = set()
        self._offsets: dict[Hashable, int] | None = None
        self._lines = 0

    def _index(self) -> dict[Hashable, int]:
        if self._offsets is None:
            self._offsets = {}
            for offset, line in self._read():
                self._lines += 1
                form = canon(_decode(json.loads(line).get("_id")))
                if form in self._offsets:
                    self.duplicates.add(form)
                self._offsets.setdefault(form, offset)
        return self._offsets

    def _read(self) -> Iterator[tuple[int, bytes]]:
        if not self.path.exists():
            return
        with self.path.open("rb") as lines:
            offset = 0
            for line in lines:
                if line.strip():
                    yield offset, line
                offset += len(line)

    def count(self) -> int:
        self._index()
        return self._lines

    def find(self, ids: list[object]) -> dict[Hashable, Document]:
        index = self._index()
        found: dict[Hashable, Document] = {}
        if not index:
            return found
        wanted = sorted((index[form], form) for form in map(canon, ids) if form in index)
        with self.path.open("rb") as lines:
            for offset, form in wanted:
                lines.seek(offset)
                found[form] = json_util.loads(lines.readline(), json_options=_JSON)
        return found

    def present(self, ids: list[object]) -> set[Hashable]:
        index = self._index()
        return {form for form in map(canon, ids) if form in index}

    def ids(self) -> Iterator[object]:
        for _, line in self._read():
            yield _decode(json.loads(line).get("_id"))


def _decode(value: object) -> object:
    """An `_id` from its Extended JSON (already parsed as plain JSON)."""
    return json_util.loads(json.dumps(value), json_options=_JSON)


class Targets:
    """The collections of a `mongodb://` or `file:DIR` target."""

    def __init__(self, url: str):
        self.url = url
        self.client: pymongo.MongoClient[Document] | None = None
        self.directory: Path | None = None
        self.database: str | None = None
        self._open: dict[tuple[str, str | None], Collection] = {}
        if url.startswith(("mongodb://", "mongodb+srv://")):
            self.client, self.database = mongodb.client(url)
        elif url.startswith("file:"):
            self.directory = Path(url.removeprefix("file:").removeprefix("//") or "out")
            if not self.directory.is_dir():
                raise UsageError(f"no such directory {self.directory} (the file: target of a run)")
        else:
            raise UsageError(
                f"validate needs a mongodb://HOST/DB or file:DIR target, not {redact(url)}"
            )

    def server(self) -> str:
        """What holds the target, for a report: the server and its version, or files."""
        if self.client is None:
            return "Extended JSON files"
        info = self.client.admin.command("buildInfo")
        mongodb = f"MongoDB {info.get('version', '?')}"
        ferretdb = info.get("ferretdbVersion")  # its embedded builds say `unknown`
        if ferretdb is None:
            return mongodb
        return f"FerretDB{'' if ferretdb == 'unknown' else f' {ferretdb}'} ({mongodb} compatible)"

    def collection(self, name: str, database: str | None) -> Collection:
        """The target collection `name` (in `database`, else the URL's), opened once."""
        if self.directory is not None:  # a file: target
            if (name, None) not in self._open:
                self._open[name, None] = FileCollection(self.directory / f"{name}.jsonl")
            return self._open[name, None]
        assert self.client is not None  # a mongodb:// target
        resolved = database or self.database
        if not resolved:
            raise UsageError(
                "no target database: put it in the URL path "
                "(mongodb://host/DATABASE) or as `database:` in the mapping"
            )
        if (name, resolved) not in self._open:
            self._open[name, resolved] = MongoCollection(self.client[resolved][name])
        return self._open[name, resolved]

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
