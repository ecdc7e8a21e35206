"""Every error mapper raises, one class per stage, and lint problems as values.

Exit codes: 0 success, 1 data problems, 2 bad mapping or usage (nothing written), 3 fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

EXIT_DATA, EXIT_USAGE, EXIT_FAULT = 1, 2, 3
Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a mapping file, at a position, with a hint to fix it."""

    file: str
    line: int
    column: int
    message: str
    path: tuple[str | int, ...] = field(default=(), compare=False)
    hint: str = field(default="", compare=False)
    severity: Severity = field(default="error", compare=False)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"
        return f"{where} ({self.hint})" if self.hint else where

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "path": list(self.path),
            "message": self.message,
            "hint": self.hint,
        }


class MapperError(Exception):
    """Root of mapper's errors; `exit_code` is what the CLI exits with. Besides the message,
    what it is about, where known: the `table`, `column`, the source `key` (a row's primary
    key values) and the `setting` (a flag or variable). `transient` errors may succeed when
    tried again (a lost connection, a timeout); the others will not."""

    exit_code = EXIT_FAULT
    transient = False

    def __init__(
        self,
        message: str = "",
        *,
        table: str | None = None,
        column: str | None = None,
        key: tuple[Any, ...] | None = None,
        setting: str | None = None,
        transient: bool | None = None,
    ):
        super().__init__(message)
        self.table, self.column, self.key, self.setting = table, column, key, setting
        if transient is not None:
            self.transient = transient


class UsageError(MapperError):
    """A bad command line or configuration (missing URL, unknown collection)."""

    exit_code = EXIT_USAGE


class PermissionDenied(UsageError):
    """The source's role may not read `tables` (`table`: the first); `grant` is the
    statement that fixes it."""

    def __init__(self, message: str, *, tables: tuple[str, ...], grant: str):
        super().__init__(message, table=tables[0])
        self.tables, self.grant = tables, grant


class TargetAccessDenied(UsageError):
    """The target refused the credentials or the roles of its URL (`setting`: the variable
    that holds it); trying again will not help."""


class SpecError(MapperError):
    """A mapping file is invalid: carries every problem found."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class SourceError(MapperError):
    """The source database failed (connection, query) after retries."""


class TargetError(MapperError):
    """The target failed (connection, server error) after retries."""
