"""Checkpoints: after each acknowledged batch, the last source key, the counts so far and the
reject file's mark (`RejectFile.mark`); for a cluster run, whose ranges complete in any order,
the key spans done instead of the last key (`mapper.engine.ranges`).

Written atomically (temporary file, fsync, rename), so a crash leaves the previous or the new
checkpoint, never half of one. A checkpoint belongs to one plan and one target: resuming with
a changed mapping or another target is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from bson import json_util

from mapper import plan as p
from mapper.engine.ranges import Span
from mapper.errors import UsageError
from mapper.types import Unrepresentable

_KEYS = json_util.JSONOptions(
    json_mode=json_util.JSONMode.CANONICAL, uuid_representation=4, tz_aware=True
)


def fingerprint(plan: p.Plan, target: str) -> str:
    """Identifies what a checkpoint is valid for: the compiled plan (with every option that
    changes documents applied, `plan.with_decimals`) and the target."""
    return hashlib.sha256(f"{plan!r}\n{target}".encode()).hexdigest()[:32]


class Checkpoints:
    """The checkpoint file of one run; `collections` maps a name to its saved state."""

    def __init__(self, path: Path, fingerprint: str, options: dict[str, Any] | None = None):
        """`options`: the document options the run's plan was made with, by flag name, so
        that resuming with others is refused by name."""
        self.path = path
        self.fingerprint = fingerprint
        self.options = options or {}
        self.collections: dict[str, dict[str, Any]] = {}
        self.rejects: dict[str, Any] | None = None  # the reject file's mark at this checkpoint

    def check_writable(self) -> None:
        """Fail before any row is handled if checkpoints cannot be written."""
        try:
            self._write()
        except OSError as error:
            raise UsageError(
                f"cannot write the checkpoint file {self.path}: {error.strerror or error}",
                setting="--state",
            ) from None

    def load(self) -> None:
        """Read the checkpoint to resume from; refuse one made for another plan or target."""
        if not self.path.exists():
            raise UsageError(f"nothing to resume: no checkpoint at {self.path}", setting="--state")
        saved = json.loads(self.path.read_text())
        for option, value in self.options.items():
            made_with = saved.get("options", {}).get(option, value)
            if made_with != value:
                raise UsageError(
                    f"the checkpoint at {self.path} was made with {option} "
                    f"{made_with}, not {value}: resume with {option} {made_with}, "
                    "or run without --resume to start over",
                    setting=option,
                )
        if saved.get("fingerprint") != self.fingerprint:
            raise UsageError(
                f"the checkpoint at {self.path} was made for another mapping or "
                "target: run without --resume to start over"
            )
        self.collections = saved["collections"]
        self.rejects = saved.get("rejects")

    def last_key(self, collection: str) -> tuple[Any, ...] | None:
        state = self.collections.get(collection, {})
        return _key(state.get("last_key"))

    def done_spans(self, collection: str) -> list[Span]:
        """The key spans done: a cluster run's, or those up to a one-machine run's last key."""
        state = self.collections.get(collection, {})
        if "spans" in state:
            return [(_key(after), _key(through)) for after, through in state["spans"]]
        last_key = self.last_key(collection)
        return [(None, last_key)] if last_key else []

    def save(
        self,
        collection: str,
        counts: dict[str, Any],
        last_key: tuple[Any, ...] | None,
        rejects: dict[str, Any],
        done: bool = False,
        spans: list[Span] | None = None,
    ) -> None:
        """`spans`: a cluster run's key spans done (then `last_key` is None)."""
        state = {**counts, "last_key": _text(last_key), "done": done}
        if spans is not None:
            state["spans"] = [[_text(after), _text(through)] for after, through in spans]
        self.collections[collection] = state
        self.rejects = rejects
        self._write()

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        with open(partial, "w", encoding="utf-8") as out:
            json.dump(
                {
                    "fingerprint": self.fingerprint,
                    "options": self.options,
                    "collections": self.collections,
                    "rejects": self.rejects,
                },
                out,
            )
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, self.path)


def _text(key: tuple[Any, ...] | None) -> str | None:
    if not key:
        return None
    return json_util.dumps({"k": list(key)}, json_options=_KEYS, default=_marker_text)


def _key(text: str | None) -> tuple[Any, ...] | None:
    return tuple(json_util.loads(text, json_options=_KEYS)["k"]) if text else None


def _marker_text(value: Any) -> str:
    """A key value that Python cannot hold (a date past year 9999) is kept as the source's
    text it was read from, which the source compares as that value on resume."""
    if isinstance(value, Unrepresentable):
        return value.text
    raise TypeError(f"a key of type {type(value).__name__} cannot be checkpointed")
