"""The file sink: one canonical Extended JSON Lines file per collection (`mongoimport` reads it
back).

A cluster's workers write each key range of a collection as a part file,
`NAME.parts/PART.jsonl` (written whole, then renamed, so a retried task replaces it); the
run's process joins the parts in key order into `NAME.jsonl` when the collection is done.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO, cast

from mapper import plan as p
from mapper.engine.capabilities import FILES, Capabilities, refuse
from mapper.engine.extended_json import canonical
from mapper.engine.load.sink import Encoded, WriteResult
from mapper.errors import TargetError


class FileSink:
    """Each run rewrites a collection's file whole: written to `NAME.jsonl.partial`, renamed
    when done."""

    render = staticmethod(canonical)  # one line per document

    def __init__(self, directory: Path):
        self.directory = directory
        self._files: dict[str, TextIO] = {}

    def capabilities(self) -> Capabilities:
        return FILES

    def preflight(self, collections: list[p.CollectionPlan]) -> None:
        refuse(collections, self.capabilities())
        with _file_errors(self.directory):
            self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, collection: p.CollectionPlan) -> Path:
        return self.directory / f"{collection.name}.jsonl"

    def _parts(self, collection: p.CollectionPlan) -> Path:
        return self.directory / f"{collection.name}.parts"

    def open(self, collection: p.CollectionPlan, drop: bool) -> None:
        partial = self._path(collection).with_suffix(".jsonl.partial")
        with _file_errors(partial):
            self.directory.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(self._parts(collection), ignore_errors=True)  # an earlier run's
            self._files[collection.name] = open(partial, "w", encoding="utf-8")  # noqa: SIM115

    def write(self, collection: p.CollectionPlan, batch: list[Encoded]) -> WriteResult:
        out = self._files[collection.name]
        with _file_errors(Path(out.name)):
            out.writelines(cast(str, item.text) + "\n" for item in batch)  # by `render`
        return WriteResult(inserted=len(batch))

    def write_range(
        self, collection: p.CollectionPlan, part: int, batch: list[Encoded]
    ) -> WriteResult:
        path = self._parts(collection) / f"{part:09d}.jsonl"
        partial = path.with_suffix(".partial")
        with _file_errors(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(partial, "w", encoding="utf-8") as out:
                out.writelines(cast(str, item.text) + "\n" for item in batch)
            os.replace(partial, path)
        return WriteResult(inserted=len(batch))

    def finish(self, collection: p.CollectionPlan) -> None:
        out = self._files.pop(collection.name)
        parts = self._parts(collection)
        with _file_errors(parts):
            for part in sorted(parts.glob("*.jsonl")):  # a cluster run's ranges, in key order
                with open(part, encoding="utf-8") as written:
                    shutil.copyfileobj(written, out)
            shutil.rmtree(parts, ignore_errors=True)
        with _file_errors(self._path(collection)):
            out.close()
            os.replace(out.name, self._path(collection))

    def close(self) -> None:
        for name, out in self._files.items():
            out.close()
            Path(out.name).unlink(missing_ok=True)
            shutil.rmtree(self.directory / f"{name}.parts", ignore_errors=True)
        self._files.clear()


@contextlib.contextmanager
def _file_errors(path: Path) -> Iterator[None]:
    """A file that cannot be made or written (permissions, a full disk) as a `TargetError`
    naming it: not transient, nothing of the collection is renamed into place."""
    try:
        yield
    except OSError as error:
        raise TargetError(
            f"cannot write {path}: {error.strerror or error}", setting="--target"
        ) from None
