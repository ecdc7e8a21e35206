"""mapper: declarative migration of relational databases into MongoDB.

The library is `mapper.api`; its names are importable from here (`mapper.prepare`,
`mapper.migrate`, `mapper.validation`, ...). `validate` and `lint` are the functions: the
submodules of the same names are imported by their full names (`mapper.validation.checks`).
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from mapper.api import *  # noqa: F403 - the package is the API
    from mapper.api import __all__ as __all__


def _api() -> ModuleType:
    """`mapper.api`, imported on first use (so that `python -m mapper`, which imports this
    package first, imports it as its command line does: mapper/__main__.py), with the cyclic
    collector paused: its modules' objects, made in a burst, hold no garbage."""
    collector = importlib.import_module("mapper.collector")  # a from-import would come here

    with collector.paused():
        return importlib.import_module("mapper.api")


def __getattr__(name: str) -> Any:
    """The API's names (its `__all__`), those it imports on first use included (the demo,
    validation). A submodule's name is not one, nor does it import the API: `from mapper
    import plan` asks for `plan` here before it imports `mapper.plan`."""
    if name == "api":  # `from mapper import api`, paused too
        return _api()
    if (name.startswith("__") and name != "__all__") or importlib.util.find_spec(
        f"{__name__}.{name}"
    ):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    api = _api()
    if name != "__all__" and name not in api.__all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    found = globals()[name] = getattr(api, name)  # looked up here once
    return found
