"""Throwaway PostgreSQL, FerretDB and SecantusDB servers for mapper's tests and benchmarks."""

from testbed.servers import (
    SERVERS,
    TestbedUnavailable,
    ferretdb,
    named_server,
    postgres,
    secantus,
    servers,
)

__all__ = [
    "SERVERS",
    "TestbedUnavailable",
    "ferretdb",
    "named_server",
    "postgres",
    "secantus",
    "servers",
]
