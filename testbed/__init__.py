"""Throwaway PostgreSQL, MariaDB and FerretDB servers for mapper's tests and benchmarks."""

from testbed.servers import TestbedUnavailable, ferretdb, mariadb, postgres, servers

__all__ = ["TestbedUnavailable", "ferretdb", "mariadb", "postgres", "servers"]
