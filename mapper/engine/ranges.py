"""Key ranges of one collection, and which are done: the checkpoint of a cluster run.

A cluster run cuts a root table into ranges of keys, (after, through], and runs them as
tasks that complete in any order. Its checkpoint is the set of key spans done, merged where
they touch; a resumed run cuts only the gaps between them (reading their keys in its own
snapshot) and leaves the spans done alone. Spans stay few: ranges complete roughly in key
order, so the done ones merge into a handful of spans whatever the table's size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Key = tuple[Any, ...]
Span = tuple[Key | None, Key | None]  # keys (after, through]; None: from the first, to the end


@dataclass
class _Cut:
    """A range this run has cut, and whether it is written."""

    span: Span
    done: bool


class Ledger:
    """The spans done by earlier runs and the ranges this run has cut, in key order.

    `gaps` walks the key space: each span it yields is not done, and the caller `add`s its
    ranges, in key order and covering it whole, before asking for the next gap. So the
    ranges and spans reached so far touch one after another, and the done ones merge by
    position, without comparing keys in Python (the source orders them)."""

    def __init__(self, done: list[Span]):
        self._ahead = list(done)  # earlier runs' spans the walk has not reached
        self._cut: list[_Cut] = []  # from the first not folded (`_fold`)
        self._folded = 0  # cuts folded into the first: indexes of `add` start after them

    def gaps(self) -> Iterator[Span]:
        after: Key | None = None
        if self._ahead and self._ahead[0][0] is None:
            after = self._reach()
        while self._ahead:
            yield after, self._ahead[0][0]
            after = self._reach()
        yield after, None

    def _reach(self) -> Key | None:
        span = self._ahead.pop(0)
        self._cut.append(_Cut(span, True))
        self._fold()
        return span[1]

    def add(self, span: Span, done: bool = False) -> int:
        """A range of the current gap, after those added before; its index."""
        self._cut.append(_Cut(span, done))
        index = self._folded + len(self._cut) - 1
        self._fold()
        return index

    def complete(self, index: int) -> None:
        self._cut[index - self._folded].done = True
        self._fold()

    def _fold(self) -> None:
        """The leading cuts done, folded into one span: the ranges behind the run's progress
        are not walked again at each checkpoint (`done`), so a table of many ranges costs
        the in-flight ones, not all it has cut."""
        cuts = self._cut
        last = 0
        while last + 1 < len(cuts) and cuts[last].done and cuts[last + 1].done:
            last += 1
        if last:
            cuts[: last + 1] = [_Cut((cuts[0].span[0], cuts[last].span[1]), True)]
            self._folded += last

    def done(self) -> list[Span]:
        """The spans done, merged where they touch, in key order."""
        merged: list[Span] = []
        touching = False  # the previous cut is done, so this one extends its span
        for cut in self._cut:
            if cut.done and touching:
                merged[-1] = (merged[-1][0], cut.span[1])
            elif cut.done:
                merged.append(cut.span)
            touching = cut.done
        return merged + self._ahead
