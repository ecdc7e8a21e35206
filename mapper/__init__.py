"""mapper: declarative migration of relational databases into MongoDB.

The library is `mapper.api`; its names are importable from here (`mapper.prepare`,
`mapper.migrate`, `mapper.validation`, ...). `validate` and `lint` are the functions: the
submodules of the same names are imported by their full names (`mapper.validation.checks`).
"""

__version__ = "0.1.0"

from mapper.api import *  # noqa: E402, F403 - the package is the API
from mapper.api import __all__ as __all__  # noqa: E402
