"""Rows per second of the two MySQL drivers through an unbuffered cursor: why the `mysql` extra
is mysqlclient.

    python -m benchmarks.mysql_drivers [--rows 300000] [--repeat 3]

Fills a table of six columns (integer key, text, DATETIME(6), DECIMAL, DOUBLE, JSON) in a fresh
database of the test bed's MariaDB (or of `MAPPER_TEST_MYSQL_URL`), then reads it whole with
each driver's unbuffered cursor (`SSCursor`, what `stream_results` uses), 1,000 rows a fetch,
and prints the best rate of each.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa

import testbed

TABLE = (
    "CREATE TABLE rows_ (id INT PRIMARY KEY, t VARCHAR(100), d DATETIME(6), n DECIMAL(10, 2),"
    " f DOUBLE, j JSON)"
)
INSERT = "INSERT INTO rows_ VALUES (%s, %s, %s, %s, %s, %s)"


@contextlib.contextmanager
def _database() -> Iterator[sa.URL]:
    with contextlib.ExitStack() as stack:
        server = os.environ.get("MAPPER_TEST_MYSQL_URL") or stack.enter_context(testbed.mariadb())
        name = f"mapper_bench_drivers_{os.getpid()}"
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        try:
            yield sa.make_url(server).set(database=name)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
            admin.dispose()


def _connect(driver: str, url: sa.URL) -> Any:
    """A DB-API connection of `driver` and its unbuffered cursor class."""
    options = {"host": url.host, "port": url.port or 3306, "user": url.username or "root"}
    options |= {"password": url.password or "", "database": url.database, "charset": "utf8mb4"}
    if driver == "PyMySQL":
        import pymysql.cursors

        return pymysql.connect(**options), pymysql.cursors.SSCursor
    import MySQLdb.cursors

    options["passwd"] = options.pop("password")
    return MySQLdb.connect(**options), MySQLdb.cursors.SSCursor


def _fill(url: sa.URL, rows: int) -> None:
    connection, _ = _connect("PyMySQL", url)
    with connection.cursor() as cursor:
        cursor.execute(TABLE)
        for start in range(0, rows, 10_000):
            cursor.executemany(
                INSERT,
                [
                    (
                        i,
                        f"text {i} é",
                        f"2024-01-01 00:00:{i % 60:02d}.123456",
                        i / 100,
                        i * 1.5,
                        f'{{"a": {i}}}',
                    )
                    for i in range(start, min(start + 10_000, rows))
                ],
            )
    connection.commit()
    connection.close()


def _best_rate(read: Callable[[], int], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        count = read()
        best = min(best, time.perf_counter() - started)
    return count / best


def _reader(connection: Any, cursor_class: type) -> Callable[[], int]:
    def read() -> int:
        count = 0
        with connection.cursor(cursor_class) as cursor:
            cursor.execute("SELECT * FROM rows_")
            while batch := cursor.fetchmany(1000):
                count += len(batch)
        return count

    return read


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mysql_drivers", description=__doc__)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with _database() as url:
        _fill(url, args.rows)
        for driver in ("mysqlclient", "PyMySQL"):
            connection, cursor_class = _connect(driver, url)
            rate = _best_rate(_reader(connection, cursor_class), args.repeat)
            connection.close()
            print(f"{driver:12} {rate:12,.0f} rows/s")


if __name__ == "__main__":
    main()
