"""Start and stop throwaway servers: PostgreSQL (initdb + postgres), MariaDB
(mariadb-install-db + mariadbd), FerretDB (Go module) and SecantusDB (a MongoDB-compatible
server in Python, from the test extra).

Each server lives in a fresh temporary directory, listens on a free loopback port and is a
child of the calling process that dies with it (``PR_SET_PDEATHSIG``), so a crashed run never
leaves a server behind; leftovers of a run killed harder still are swept on the next start.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

FERRETDB_SOURCE = Path(__file__).parent / "ferretdb"
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mapper-testbed"
RUN_PREFIX = "mapper-testbed-"
START_TIMEOUT = 60.0
POSTGRES_USER_CANDIDATES = ("postgres", "mapper-testbed")
MARIADB_USER_CANDIDATES = ("mysql", "mapper-testbed")
PR_SET_PDEATHSIG = 1


class TestbedUnavailable(RuntimeError):
    """A server cannot be had on this machine (a binary or toolchain is missing)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent(sig: int):
    libc = ctypes.CDLL("libc.so.6", use_errno=True)

    def preexec() -> None:
        os.setpgrp()
        libc.prctl(PR_SET_PDEATHSIG, sig)

    return preexec


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TestbedUnavailable(f"server exited with {process.returncode}:\n{_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise TestbedUnavailable(f"server did not listen on port {port} in {START_TIMEOUT}s")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(process: subprocess.Popen, sig: int) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def sweep_leftovers() -> None:
    """Kill servers and remove directories left by earlier runs whose owner died."""
    for run_dir in Path(tempfile.gettempdir()).glob(RUN_PREFIX + "*"):
        owner = _read_pid(run_dir / "owner.pid")
        if owner and alive(owner):
            continue
        for pid_file in run_dir.glob("*.server.pid"):
            pid = _read_pid(pid_file)
            if pid and alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        shutil.rmtree(run_dir, ignore_errors=True)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    """Whether a process of that id exists (one of another user too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _run_dir(name: str) -> Iterator[Path]:
    sweep_leftovers()
    # made under a name that sweeps do not match, and given that name only once its owner is
    # written: another process's sweep never takes it for a leftover of a dead owner
    staging = Path(tempfile.mkdtemp(prefix=f".{RUN_PREFIX}{name}-"))
    (staging / "owner.pid").write_text(str(os.getpid()))
    run_dir = staging.rename(staging.with_name(staging.name.removeprefix(".")))
    try:
        yield run_dir
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def _postgres_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise TestbedUnavailable(
        f"`{name}` not found: install PostgreSQL's server (Debian: apt-get install postgresql)"
    )


def _unprivileged_user(candidates: tuple[str, ...]) -> pwd.struct_passwd | None:
    """The account to run a server as when we are root (initdb and mariadbd refuse root):
    the first of `candidates` that exists, else the last one, created."""
    if os.geteuid() != 0:
        return None
    for name in candidates:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    subprocess.run(["useradd", "--system", "--no-create-home", candidates[-1]], check=True)
    return pwd.getpwnam(candidates[-1])


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """Run a throwaway PostgreSQL cluster; yield its URL (trust auth, user `postgres`)."""
    initdb, server = _postgres_bin("initdb"), _postgres_bin("postgres")
    user = _unprivileged_user(POSTGRES_USER_CANDIDATES)
    as_user = {"user": user.pw_uid, "group": user.pw_gid} if user else {}
    with _run_dir("postgres") as run_dir:
        data, log = run_dir / "data", run_dir / "postgres.log"
        if user:
            os.chown(run_dir, user.pw_uid, user.pw_gid)
        subprocess.run(
            [
                initdb,
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            cwd=run_dir,
            **as_user,
        )
        port = free_port()
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": port,
            "unix_socket_directories": str(run_dir),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": 100,
            "wal_level": "logical",  # `mapper sync` follows a replication slot
        }
        args = [server, "-D", str(data)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        with open(log, "wb") as log_file:
            process = subprocess.Popen(
                args,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=run_dir,
                preexec_fn=_die_with_parent(signal.SIGQUIT),
                **as_user,
            )
        (run_dir / "postgres.server.pid").write_text(str(process.pid))
        try:
            _wait_for_port(port, process, log)
            _wait_for_postgres(port)
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            _stop(process, signal.SIGINT)


def _wait_for_postgres(port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        ready = (
            subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port)], check=False)
            if shutil.which("pg_isready")
            else subprocess.CompletedProcess([], 0)
        )
        if ready.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise TestbedUnavailable("PostgreSQL did not accept connections in time")
        time.sleep(0.1)


def _mariadb_bin(name: str) -> str:
    found = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))
    if found is None:
        raise TestbedUnavailable(
            f"`{name}` not found: install MariaDB's server (Debian: apt-get install mariadb-server)"
        )
    return found


# small redo log and buffer pool, no durability: a throwaway server for a test session
_MARIADB_SETTINGS = (
    "--skip-name-resolve",
    "--innodb-log-file-size=8M",
    "--innodb-buffer-pool-size=64M",
    "--innodb-flush-log-at-trx-commit=0",
    "--skip-log-bin",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_unicode_ci",  # not code point order, as most servers have
)
# the root account, without a password, also over TCP from 127.0.0.1 (`--skip-name-resolve`
# does not see 127.0.0.1 as the `localhost` that mariadb-install-db creates it for)
_MARIADB_INIT = """\
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
"""


@contextlib.contextmanager
def mariadb() -> Iterator[str]:
    """Run a throwaway MariaDB server; yield its URL (user `root`, no password, no database:
    tests create theirs) with the mysqlclient driver."""
    install, server = _mariadb_bin("mariadb-install-db"), _mariadb_bin("mariadbd")
    user = _unprivileged_user(MARIADB_USER_CANDIDATES)
    # the account is switched to before `_die_with_parent` (mariadbd's own `--user` would
    # switch after it, which clears the signal that kills it with its parent)
    as_user: dict[str, int] = {"user": user.pw_uid, "group": user.pw_gid} if user else {}
    with _run_dir("mariadb") as run_dir:
        data, log = run_dir / "data", run_dir / "mariadb.log"
        # its temporary tables in its own directory: not /tmp, which others sweep
        places = (f"--datadir={data}", f"--tmpdir={run_dir}")
        init = run_dir / "init.sql"
        init.write_text(_MARIADB_INIT)
        if user:
            os.chown(run_dir, user.pw_uid, user.pw_gid)
        _run_or_unavailable(
            [
                install,
                "--no-defaults",
                *places,
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *_MARIADB_SETTINGS,
            ],
            run_dir,
            "mariadb-install-db",
            **as_user,
        )
        port = free_port()
        args = [
            server,
            "--no-defaults",
            *places,
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--socket={run_dir / 'mariadb.sock'}",
            f"--pid-file={run_dir / 'mariadb.pid'}",
            f"--init-file={init}",
            f"--log-error={log}",
            *_MARIADB_SETTINGS,
        ]
        with _serving(run_dir / "mariadb", args, port, log, subprocess.DEVNULL, **as_user):
            yield f"mysql+mysqldb://root@127.0.0.1:{port}/"


def _run_or_unavailable(args: list[str], cwd: Path, what: str, **as_user: int) -> None:
    """Run a set-up command (as the `user` and `group` ids of `as_user`, if given); its
    failure (with the end of its output) makes the server unavailable."""
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False, **as_user)
    if done.returncode != 0:
        raise TestbedUnavailable(f"{what} failed:\n{(done.stdout + done.stderr)[-2000:]}")


def build_ferretdb() -> Path:
    """Build the FerretDB wrapper once per source version; return the binary's path."""
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update((FERRETDB_SOURCE / name).read_bytes())
    binary = CACHE_DIR / f"ferretdb-{digest.hexdigest()[:16]}"
    if binary.exists():
        return binary
    if go is None:
        raise TestbedUnavailable("the Go toolchain is needed to build FerretDB (install Go)")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            partial = binary.with_suffix(".partial")
            _run_or_unavailable(
                [go, "build", "-o", str(partial), "."], FERRETDB_SOURCE, "building FerretDB"
            )
            partial.rename(binary)
    return binary


@contextlib.contextmanager
def ferretdb() -> Iterator[str]:
    """Run a throwaway FerretDB (SQLite backend); yield its MongoDB URI."""
    binary = build_ferretdb()
    with _run_dir("ferretdb") as run_dir:
        port, log = free_port(), run_dir / "ferretdb.log"
        args = [str(binary), "-listen", f"127.0.0.1:{port}", "-dir", str(run_dir / "data")]
        with open(log, "wb") as log_file, _serving(run_dir / "ferretdb", args, port, log, log_file):
            yield f"mongodb://127.0.0.1:{port}/"


@contextlib.contextmanager
def _serving(
    name: Path, args: list[str], port: int, log: Path, stdout: IO[bytes] | int, **as_user: int
) -> Iterator[None]:
    """A server started by `args` (as the `user` and `group` ids of `as_user`, if given;
    stopped by SIGTERM), its pid in `name.server.pid`, until it listens on `port`; `log` is
    where it says why it failed."""
    process = subprocess.Popen(
        args,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        cwd=name.parent,
        preexec_fn=_die_with_parent(signal.SIGTERM),
        **as_user,
    )
    name.with_suffix(".server.pid").write_text(str(process.pid))
    try:
        _wait_for_port(port, process, log)
        yield
    finally:
        _stop(process, signal.SIGTERM)


@contextlib.contextmanager
def secantus() -> Iterator[str]:
    """Run a throwaway SecantusDB (Decimal128, enforced validators, transactions: the MongoDB
    features FerretDB 1.x lacks); yield its MongoDB URI. It advertises a one-member replica
    set, as MongoDB's own test servers do."""
    if importlib.util.find_spec("secantus") is None:
        raise TestbedUnavailable("SecantusDB is missing: pip install -e '.[test]'")
    with _run_dir("secantus") as run_dir:
        port, log = free_port(), run_dir / "secantus.log"
        config = run_dir / "secantusd.toml"
        config.write_text("")  # no configuration file of the machine's is picked up
        args = [
            sys.executable,
            "-m",
            "secantus",
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            str(run_dir / "data"),
            "--log-level",
            "WARNING",
        ]
        with open(log, "wb") as log_file, _serving(run_dir / "secantus", args, port, log, log_file):
            yield f"mongodb://127.0.0.1:{port}/"


SERVERS = {
    "MAPPER_TEST_POSTGRES_URL": postgres,
    "MAPPER_TEST_MONGODB_URI": ferretdb,
    "MAPPER_TEST_SECANTUS_URI": secantus,
}


def named_server(variable: str) -> str | None:
    """The URL the environment names for one of `SERVERS`, if any. A MongoDB named by
    `MAPPER_TEST_MONGODB_URI` has all of SecantusDB's features, so it stands for both
    MongoDB-wire targets unless `MAPPER_TEST_SECANTUS_URI` names another server."""
    url = os.environ.get(variable)
    if not url and variable == "MAPPER_TEST_SECANTUS_URI":
        url = os.environ.get("MAPPER_TEST_MONGODB_URI")
    return url or None


@contextlib.contextmanager
def servers() -> Iterator[dict[str, str]]:
    """All of `SERVERS`, each started unless the environment names it (`named_server`);
    MariaDB starts only for the tests that need it (`mariadb`)."""
    with contextlib.ExitStack() as stack:
        yield {
            variable: named_server(variable) or stack.enter_context(start())
            for variable, start in SERVERS.items()
        }
