"""MySQL's and MariaDB's types where SQLAlchemy's generic ones do not tell how to read them.

Imported only for a MySQL source (once SQLAlchemy's MySQL dialect is): that dialect is about
12 ms of every start otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql


def kind(sql_type: sa.types.TypeEngine[Any]) -> str | None:
    """The value family of a MySQL type (`catalog.column_kind`), or None for the others:
    TINYINT(1) (what BOOLEAN declares) and BIT(1) are booleans, other BITs and unsigned INTs
    64-bit integers (past 2**31: the whole column, not only its large values), YEAR 32-bit."""
    if isinstance(sql_type, mysql.TINYINT) and sql_type.display_width == 1:
        return "bool"
    if isinstance(sql_type, mysql.BIT):
        return "bool" if sql_type.length == 1 else "int64"
    if isinstance(sql_type, mysql.INTEGER) and sql_type.unsigned:
        return "int64"
    return "int32" if isinstance(sql_type, mysql.YEAR) else None


class BitFlag(sa.types.TypeDecorator[bool]):
    """MySQL's BIT(1), read as a bool (the driver gives its byte, `b"\\x00"` for false)."""

    impl = mysql.BIT
    cache_ok = True

    def process_result_value(self, value: int | None, dialect: sa.engine.Dialect) -> bool | None:
        return None if value is None else bool(value)


class TimeOfDay(sa.types.TypeDecorator[dt.time]):
    """MySQL's TIME, a duration from -838:59:59 to 838:59:59 that the driver gives as a
    timedelta: a time of day, or ValueError outside one day (`compile.Guarded` makes it a
    marker; SQLAlchemy's own reading would give 01:00 for 25:00)."""

    impl = mysql.TIME
    cache_ok = True

    def result_processor(
        self, dialect: sa.engine.Dialect, coltype: object
    ) -> Callable[[dt.timedelta | None], dt.time | None]:
        def read(value: dt.timedelta | None) -> dt.time | None:
            if value is None:
                return None
            if not dt.timedelta(0) <= value < dt.timedelta(days=1):
                raise ValueError("not a time of day")
            return (dt.datetime.min + value).time()

        return read


def bits(column_kind: str) -> sa.types.TypeEngine[Any]:
    """How a BIT column is read: a bool for BIT(1), else its bytes as a number."""
    return BitFlag() if column_kind == "bool" else mysql.BIT()


def reading_type(sql_type: sa.types.TypeEngine[Any]) -> sa.types.TypeEngine[Any]:
    """A reflected type as a run reads it: TIME as a time of day, the others as they are."""
    return TimeOfDay() if isinstance(sql_type, mysql.TIME) else sql_type
