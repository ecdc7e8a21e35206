"""Mapping files + the source catalog → a `Plan`, or every semantic problem found.

Resolves table and column names (with "did you mean"), infers joins from foreign keys,
decides cardinality, catches cycles, collisions and conversions that cannot work.
"""

from mapper.resolve.keys import keyed
from mapper.resolve.resolver import resolve

__all__ = ["keyed", "resolve"]
