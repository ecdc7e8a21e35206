"""What a long task shows while it runs; the one owner of the display library (tqdm).

A task (a collection migrated or validated, a demo table filled, `init`'s statistics) reports
through a `Progress`: `start` with its total and what an earlier run already did, `advance`
by what it did since, `finish`. `Display` shows it: on a terminal a bar per task (count of
total, percent, rate, ETA), kept as a finished line when the task ends, so that several tasks
stack cleanly and what is printed next starts on a line of its own; elsewhere (a pipe, a log
file) a line per task every `LOG_SECONDS` and one when it finishes.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm


LOG_SECONDS = 5.0  # without a terminal: a line per task at most this often
NAME_WIDTH = 16
BAR = "{desc} {percentage:3.0f}%|{bar}| {n:,}/{total:,}{unit} [{elapsed}<{remaining}, {rate_fmt}]"
COUNTER = "{desc} {n:,}{unit} [{elapsed}, {rate_fmt}]"  # a task whose total is unknown

Hook = Callable[[str, int], None]


class Progress:
    """Reports nowhere: the base of what shows or records progress."""

    def start(self, task: str, total: int | None, done: int = 0) -> None:
        """`task` begins: `total` steps (None: unknown), `done` of them already done."""

    def advance(self, task: str, count: int) -> None:
        """`count` more steps of `task` are done."""

    def finish(self, task: str) -> None:
        """`task` is complete."""


SILENT = Progress()


class Steps(Progress):
    """A plain function called with (task, count) after each step, as a `Progress`."""

    def __init__(self, hook: Hook):
        self.hook = hook

    def advance(self, task: str, count: int) -> None:
        self.hook(task, count)


def progress_of(given: Progress | Hook | None) -> Progress:
    """`given` as a `Progress`: itself, a function's `Steps`, or `SILENT`."""
    if given is None:
        return SILENT
    return given if isinstance(given, Progress) else Steps(given)


@dataclass
class _Line:
    """A task as log lines: where it stands, and when it last said so."""

    total: int | None
    done: int
    started: float = field(default_factory=time.monotonic)
    said: float = field(default_factory=time.monotonic)
    first: int = field(init=False)  # done before this run: not part of the rate

    def __post_init__(self) -> None:
        self.first = self.done

    def text(self, task: str, unit: str, finished: bool) -> str:
        elapsed = time.monotonic() - self.started
        rate = (self.done - self.first) / elapsed if elapsed else 0.0
        if finished:
            return f"{task}: {self.done:,} {unit} in {elapsed:.1f} s ({rate:,.0f} {unit}/s)"
        if not self.total:
            return f"{task}: {self.done:,} {unit} ({rate:,.0f} {unit}/s)"
        left = (self.total - self.done) / rate if rate else None
        eta = f", about {left:.0f} s left" if left is not None else ""
        return (
            f"{task}: {self.done:,}/{self.total:,} {unit} ({self.done / self.total:.0%}), "
            f"{rate:,.0f} {unit}/s{eta}"
        )


class Display(Progress):
    """Bars on a terminal, log lines otherwise, on `stream` (standard error); a context
    manager, which closes what is still open."""

    def __init__(self, unit: str, stream: TextIO | None = None, enabled: bool = True):
        self.unit = unit
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.terminal = enabled and self.stream.isatty()
        self._bars: dict[str, tqdm[None]] = {}
        self._lines: dict[str, _Line] = {}
        self._exit = contextlib.ExitStack()

    def __enter__(self) -> Display:
        if self.terminal:  # log records printed above the bars, not through them
            from tqdm.contrib.logging import logging_redirect_tqdm  # on a terminal only

            self._exit.enter_context(logging_redirect_tqdm())
        return self

    def __exit__(self, *exc: object) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()
        self._exit.close()

    def start(self, task: str, total: int | None, done: int = 0) -> None:
        if not self.enabled:
            return
        if not self.terminal:
            self._lines[task] = _Line(total, done)
            return
        from tqdm import tqdm

        self._bars[task] = tqdm(
            desc=f"{task:<{NAME_WIDTH}}",
            total=total,
            initial=done,
            unit=f" {self.unit}",
            bar_format=BAR if total else COUNTER,
            file=self.stream,
            dynamic_ncols=True,
            leave=True,
        )

    def advance(self, task: str, count: int) -> None:
        if task in self._bars:
            self._bars[task].update(count)
        elif task in self._lines:
            line = self._lines[task]
            line.done += count
            if time.monotonic() - line.said >= LOG_SECONDS:
                line.said = time.monotonic()
                print(line.text(task, self.unit, finished=False), file=self.stream, flush=True)

    def finish(self, task: str) -> None:
        if task in self._bars:
            bar = self._bars.pop(task)
            bar.update(max(0, (bar.total or 0) - bar.n))
            bar.close()
        elif task in self._lines:
            line = self._lines.pop(task)
            print(line.text(task, self.unit, finished=True), file=self.stream, flush=True)
