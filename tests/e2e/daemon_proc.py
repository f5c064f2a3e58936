"""Start `localtrack daemon` as a real process (to SIGKILL or SIGTERM it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

STARTED: list[subprocess.Popen[bytes]] = []


def daemon_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    env.update(extra)
    return env


def start_daemon(
    root: Path, url: str, log: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "localtrack_daemon", "daemon", "--root", str(root), "--uri", url,
            "--rescan", "0.5", "--grace", "0", "--timeout", "20", "--backoff-max", "1",
            "--log", str(log), *extra]  # fmt: skip
    with open(log.with_suffix(".err"), "ab") as err:
        return subprocess.Popen(
            args, env=env or daemon_env(), stdout=subprocess.DEVNULL, stderr=err
        )
