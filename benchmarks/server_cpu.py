"""CPU time of a PostgreSQL server on this machine, so that a variant's work in the database
counts too (the in-database baseline does most of its work there).

The server's main process is the parent of every backend. A backend's CPU time is added to the
main process's children times when it ends and is reaped, so the server's CPU during a
variant is the change in the main process's own and children times, plus the change in its
live children's times. Linux only, read from /proc; None where that cannot be read (a server
on another machine).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def postmaster(url: str) -> int | None:
    """The process id of the server's main process, if the server runs on this machine."""
    import sqlalchemy as sa  # the harness's, not the measured variants' import

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            backend = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            fields = _stat(backend)  # its parent is the main process
    finally:
        engine.dispose()
    if fields is None:
        return None
    main = int(fields[1])
    return main if _is_postgres(main) else None


def cpu_seconds(main: int) -> tuple[float, int]:
    """The server's CPU seconds so far (ended backends included) and its live children.

    Read again whenever a backend was reaped while /proc was read: it would have been in
    neither the main process's children times (read before) nor the live ones (gone)."""
    while True:
        fields = _main_stat(main)
        ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
        children = 0
        for entry in Path("/proc").iterdir():
            if (
                entry.name.isdigit()
                and (child := _stat(int(entry.name))) is not None
                and int(child[1]) == main
            ):
                ticks += int(child[11]) + int(child[12])
                children += 1
        if _main_stat(main)[13:15] == fields[13:15]:  # no backend reaped meanwhile
            return ticks / TICK, children


def _main_stat(main: int) -> list[str]:
    fields = _stat(main)
    if fields is None:
        raise OSError(f"PostgreSQL's main process {main} is gone")
    return fields


def settled(main: int, children: int, timeout: float = 2.0) -> float:
    """The server's CPU seconds once it is back to `children` live processes (a variant's
    backends ended and reaped), or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while cpu_seconds(main)[1] > children and time.monotonic() < deadline:
        time.sleep(0.02)
    return cpu_seconds(main)[0]


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name: state, ppid, ... (None if unreadable)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def _is_postgres(pid: int) -> bool:
    try:
        return b"postgres" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
