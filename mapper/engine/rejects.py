"""The reject file: one JSON line per rejected row (collection, source key, stage, reason).

Row contents are never written; the key identifies the row in the source. The file belongs
to one run: a new run starts it afresh (`start`), so that its lines are the summary's
rejected rows. A checkpoint records the file and its size, so that a resumed run drops the
lines of the batches it reads again and lists every rejected row of the run once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from mapper.errors import UsageError
from mapper.ids import key_text


class RejectFile:
    """Appends rejects to `path`, opened on the first reject (no file when none)."""

    def __init__(self, path: Path):
        self.path = path
        self._resolved = str(path.resolve())  # how a checkpoint names the file
        self.count = 0
        self._file: IO[str] | None = None
        self._unsynced = False

    def check_writable(self) -> None:
        """Fail before any row is handled if the reject file cannot be written."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8"):
                pass
        except OSError as error:
            raise UsageError(
                f"cannot write the reject file {self.path}: {error.strerror or error}",
                setting="--rejects",
            ) from None
        if self.path.stat().st_size == 0:
            self.path.unlink()

    def start(self) -> None:
        """A new run's file: the rejects of earlier runs are gone."""
        self.close()
        self.path.unlink(missing_ok=True)

    def add(self, collection: str, key: tuple[Any, ...], stage: str, reason: str) -> None:
        if self._file is None:
            # kept open across batches; `errors`: a key of invalid UTF-8
            self._file = open(self.path, "a", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
        record = {"collection": collection, "key": key_text(key), "stage": stage, "reason": reason}
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()
        self._unsynced = True
        self.count += 1

    def mark(self) -> dict[str, Any]:
        """What a checkpoint records: the file and its size, every line so far on disk."""
        return {"path": self._resolved, "bytes": self._size()}

    def _size(self) -> int:
        if self._file is not None and self._unsynced:
            os.fsync(self._file.fileno())
            self._unsynced = False
        return self.size()

    def size(self) -> int:
        """The bytes written so far (every line flushed; not synced to disk)."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def reorder(self, parts: list[tuple[int, int]]) -> None:
        """Rewrite the lines at byte spans `parts` (start, end), which together cover one
        stretch of the file, in the order given: a cluster run's ranges, listed as they
        completed, put back in key order. The file is replaced whole (atomically)."""
        if not parts or parts == sorted(parts):
            return
        self.close()
        data = self.path.read_bytes()
        start, end = min(parts)[0], max(parts)[1]
        partial = self.path.with_name(self.path.name + ".partial")
        with open(partial, "wb") as out:
            out.write(data[:start])
            out.writelines(data[begin:until] for begin, until in parts)
            out.write(data[end:])
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, self.path)

    def rewind(self, mark: dict[str, Any]) -> None:
        """Back to a checkpoint's `mark`: drop the lines appended since, the rejects of the
        batches that a resumed run reads, and rejects, again. Another file is left alone."""
        if mark["path"] != self._resolved or self._file is not None:
            return
        if self._size() > mark["bytes"]:
            with open(self.path, "r+b") as file:
                file.truncate(mark["bytes"])

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
