"""mapper: declarative migration of relational databases into MongoDB.

The library is `mapper.api`, whose names are importable from here (`mapper.prepare`,
`mapper.migrate`, ...); they are loaded on first use, so that `import mapper` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "DocumentOptions",
    "MigrateOptions",
    "Prepared",
    "Report",
    "RunSummary",
    "ValidateOptions",
    "create_demo",
    "explain",
    "lint",
    "migrate",
    "prepare",
    "preview",
    "render",
    "summary_text",
    "validate",
}
__all__ = sorted(_API | {"MapperError", "__version__"})


def __getattr__(name: str) -> Any:
    """The API's names, loaded on first use (`mapper.api` then sets them here)."""
    if name in _API:
        return getattr(importlib.import_module("mapper.api"), name)
    if name == "MapperError":
        return importlib.import_module("mapper.errors").MapperError
    raise AttributeError(f"module 'mapper' has no attribute {name!r}")
