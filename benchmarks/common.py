"""Helpers shared by the baselines: connections, ids and conversions, written for speed."""

from __future__ import annotations

import datetime as dt
import hashlib

import psycopg2
import psycopg2.extensions
from bson import Decimal128, ObjectId

UTC = dt.UTC


def connect(dsn: str, fast_types: bool = False):
    """A psycopg2 connection in one REPEATABLE READ, read-only snapshot (like mapper's).

    With `fast_types`, numeric arrives as Decimal128 and date as a UTC midnight datetime,
    straight from the wire text (no Decimal in between).
    """
    connection = psycopg2.connect(dsn)
    connection.set_session(
        isolation_level=psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ, readonly=True
    )
    if fast_types:
        numeric = psycopg2.extensions.new_type(
            (1700,), "BENCH_DECIMAL128", lambda text, _: None if text is None else Decimal128(text)
        )
        date = psycopg2.extensions.new_type((1082,), "BENCH_DATE", _date)
        psycopg2.extensions.register_type(numeric, connection)
        psycopg2.extensions.register_type(date, connection)
    return connection


def _date(text, _cursor):
    if text is None:
        return None
    return dt.datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), tzinfo=UTC)


def oid(table: str, key: str) -> ObjectId:
    """oid(table, key) of demo-taskdb.md for a single text key (UUIDs come as lowercase text)."""
    return ObjectId(hashlib.sha256(f"{table}:{key}".encode()).digest()[:12])


class OidCache(dict):
    """oid() memoized per key, for tables whose rows repeat across documents (users...)."""

    def __init__(self, table: str):
        super().__init__()
        self.prefix = f"{table}:"

    def __missing__(self, key: str) -> ObjectId:
        value = self[key] = ObjectId(hashlib.sha256((self.prefix + key).encode()).digest()[:12])
        return value


def date_to_datetime(value: dt.date) -> dt.datetime:
    return dt.datetime(value.year, value.month, value.day, tzinfo=UTC)


class Baseline:
    """What every hand-written baseline has: its job, a snapshot connection, counters."""

    scope = "full"
    fast_types = False

    def __init__(self, job: dict):
        self.job = job
        self.statements = 0
        self.batches = 0

    def setup(self) -> None:
        self.connection = connect(self.job["dsn"], fast_types=self.fast_types)

    def stream(self, query: str):
        """The rows of `query` in batches of the job's size, from a server-side cursor,
        counting the statement and the batches."""
        with self.connection.cursor(name="stream") as cursor:
            cursor.itersize = self.job["batch_size"]
            cursor.execute(query)
            self.statements += 1
            while rows := cursor.fetchmany(self.job["batch_size"]):
                self.batches += 1
                yield rows
