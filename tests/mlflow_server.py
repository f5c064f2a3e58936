"""A real `mlflow server` on loopback for the sync tests (a pytest plugin: `pytest_plugins`).

`mlflow_server`: one plain server per test session (sqlite backend, proxied artifacts).
`start_server(dir)`: a server a test owns (to stop and restart it, or with basic auth).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

MLFLOW = str(Path(sys.executable).with_name("mlflow"))
ADMIN_PASSWORD = "admin-Secret-pw-1234"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """An mlflow server process the test can stop and start again on the same port and data."""

    dir: Path
    port: int = field(default_factory=free_port)
    auth: bool = False
    workers: int | None = 1  # None: mlflow's default (4 worker processes)
    backend_uri: str | None = None  # None: sqlite in `dir` (the fleet tests pass PostgreSQL's)
    env: dict[str, str] = field(default_factory=dict)  # e.g. MLFLOW_SQLALCHEMYSTORE_POOL_SIZE
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-secret-key",
            "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
            **self.env,
        }
        for k in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            env.pop(k, None)
        args = [
            MLFLOW, "server",
            "--backend-store-uri", self.backend_uri or f"sqlite:///{self.dir}/db.sqlite",
            "--artifacts-destination", str(self.dir / "artifacts"),
            "--host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip
        if self.workers is not None:
            args += ["--workers", str(self.workers)]
        if self.auth:
            args += ["--app-name", "basic-auth"]
            cfg = self.dir / "auth.ini"
            cfg.write_text(
                "[mlflow]\ndefault_permission = EDIT\n"
                f"database_uri = sqlite:///{self.dir}/auth.sqlite\n"
                f"admin_username = admin\nadmin_password = {ADMIN_PASSWORD}\n"
                "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
            )
            env["MLFLOW_AUTH_CONFIG_PATH"] = str(cfg)
        log = open(self.dir / "server.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"mlflow server exited: {(self.dir / 'server.log').read_text()[-3000:]}"
                )
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("mlflow server did not answer /health within 120 s")

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None


def start_server(dir: Path, *, auth: bool = False, workers: int | None = 1) -> Server:
    server = Server(dir, auth=auth, workers=workers)
    server.start()
    return server


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("mlflow"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("mlflow-auth"), auth=True)
    yield server
    server.stop()
