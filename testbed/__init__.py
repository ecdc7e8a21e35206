"""Throwaway PostgreSQL and FerretDB servers for mapper's tests and benchmarks."""

from testbed.servers import TestbedUnavailable, ferretdb, postgres, servers

__all__ = ["TestbedUnavailable", "ferretdb", "postgres", "servers"]
