"""A throwaway PostgreSQL server on loopback, for MLflow's SQL store in the fleet tests.

Debian's `postgresql` package (scripts/test installs it) puts `initdb` and `pg_ctl` under
/usr/lib/postgresql/<version>/bin. PostgreSQL refuses to run as root, so under root the server
runs as the `postgres` system user (created as `ltpg` with `useradd` when there is none); its
data directory and unix socket live in a temporary folder that user owns, and it listens on
127.0.0.1 on a free port with `trust` authentication (loopback only, nothing to leak).

    with Postgres() as pg:
        url = pg.create_database("mlflow")   # postgresql+psycopg2://postgres@127.0.0.1:PORT/mlflow

`postgresql+psycopg2://` and not `postgresql://`: SQLAlchemy 2.1 maps the bare scheme to
psycopg 3, which is not installed (`psycopg2-binary` is, in the test extra).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ENV_BIN = "LOCALTRACK_PG_BIN"


def pg_bin() -> Path | None:
    """The folder holding initdb and pg_ctl ($LOCALTRACK_PG_BIN, else the newest Debian one)."""
    if os.environ.get(ENV_BIN):
        return Path(os.environ[ENV_BIN])
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def unavailable() -> str | None:
    """Why no PostgreSQL server can be started here (None: one can)."""
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return (
            "psycopg2 is missing: `.venv/bin/python -m pip install -c constraints.txt -e '.[test]'`"
        )
    b = pg_bin()
    if b is None or not (b / "initdb").exists() or not (b / "pg_ctl").exists():
        return (
            "PostgreSQL is not installed (no initdb/pg_ctl under /usr/lib/postgresql/*/bin): "
            "`apt-get install postgresql` (scripts/test does it when it runs as root)"
        )
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without `runuser`, so PostgreSQL cannot drop to another user"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_user() -> str | None:
    """The unprivileged user the server runs as under root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "ltpg"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "ltpg"],
        check=True,
        capture_output=True,
    )
    return "ltpg"


class Postgres:
    """One server in its own temporary data directory; `stop()` removes it all."""

    def __init__(self, *, fsync: bool = False, max_connections: int = 300) -> None:
        reason = unavailable()
        if reason is not None:
            raise RuntimeError(reason)
        bin_dir = pg_bin()
        assert bin_dir is not None
        self.bin = bin_dir
        self.fsync = fsync
        self.max_connections = max_connections
        self.port = free_port()
        self.user = _server_user()
        self.dir = Path(tempfile.mkdtemp(prefix="localtrack-pg-"))
        self.data = self.dir / "data"
        self.started = False

    @property
    def host_url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.dir, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
        return done

    def start(self) -> Postgres:
        if self.user is not None:
            shutil.chown(self.dir, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync", "--locale=C")  # fmt: skip
        opts = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            f"-c max_connections={self.max_connections} -c fsync={'on' if self.fsync else 'off'}"
        )
        if not self.fsync:
            opts += " -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.dir / "server.log"),
                  "-w", "-t", "120", "start")  # fmt: skip
        self.started = True
        return self

    def create_database(self, name: str) -> str:
        """Create database `name`; its SQLAlchemy URL for MLflow."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return f"{self.host_url}/{name}"

    def log(self) -> str:
        try:
            return (self.dir / "server.log").read_text(errors="replace")
        except OSError:
            return ""

    def pids(self) -> list[int]:
        """The postmaster's pid (its backends are its children)."""
        try:
            return [int((self.data / "postmaster.pid").read_text().split()[0])]
        except (OSError, ValueError, IndexError):
            return []

    def stop(self) -> None:
        if self.started:
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except RuntimeError:
                pass
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Postgres:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server for the session; the test is skipped, with the reason, when this
    machine cannot run one."""
    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)
    with Postgres() as pg:
        yield pg
