"""Throwaway PostgreSQL, MariaDB, FerretDB and SecantusDB servers for mapper's tests and
benchmarks."""

from testbed.servers import (
    SERVERS,
    TestbedUnavailable,
    ferretdb,
    mariadb,
    named_server,
    postgres,
    secantus,
    servers,
)

__all__ = [
    "SERVERS",
    "TestbedUnavailable",
    "ferretdb",
    "mariadb",
    "named_server",
    "postgres",
    "secantus",
    "servers",
]
