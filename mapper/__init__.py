"""mapper: declarative migration of relational databases into MongoDB.

The library is `mapper.api`; its names are importable from here (`mapper.prepare`,
`mapper.migrate`, `mapper.validation`, ...). `validate` and `lint` are the functions: the
submodules of the same names are imported by their full names (`mapper.validation.checks`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from mapper import collector as _collector  # noqa: E402

with _collector.paused():  # its modules' objects, made in a burst, hold no garbage
    from mapper import api as _api
    from mapper.api import __all__ as __all__

if TYPE_CHECKING:
    from mapper.api import *  # noqa: F403 - the package is the API


def __getattr__(name: str) -> Any:
    """The API's names, those it imports on first use included (the demo, validation)."""
    if name in __all__:
        return getattr(_api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
