"""mapper: declarative migration of relational databases into MongoDB."""

__version__ = "0.1.0"
