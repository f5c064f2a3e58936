"""Who is writing: the writer's identity columns and the run metadata captured at start."""

from __future__ import annotations

import getpass
import os
import platform
import secrets
import socket
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

_RANK_VARS = ("RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK")
_LOCAL_RANK_VARS = ("LOCAL_RANK", "SLURM_LOCALID", "OMPI_COMM_WORLD_LOCAL_RANK")
_WORLD_VARS = ("WORLD_SIZE", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE")


def _env_int(names: tuple[str, ...], default: int) -> int:
    for name in names:
        raw = os.environ.get(name)
        if raw is not None:
            try:
                return int(raw)
            except ValueError:
                continue
    return default


@dataclass(frozen=True)
class WriterIdentity:
    """The columns every row of one writer carries."""

    writer: str
    rank: int
    local_rank: int
    world_size: int
    host: str
    pid: int

    @classmethod
    def here(cls) -> WriterIdentity:
        return cls(
            writer=secrets.token_hex(4),
            rank=_env_int(_RANK_VARS, 0),
            local_rank=_env_int(_LOCAL_RANK_VARS, 0),
            world_size=_env_int(_WORLD_VARS, 1),
            host=socket.gethostname(),
            pid=os.getpid(),
        )


def _git(args: list[str], where: str | None = None) -> str | None:
    cmd = ["git", *(["-C", where] if where else []), *args]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=3, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def script_path(argv: list[str]) -> str | None:
    """The absolute path of the script that runs (`argv[0]`, as MLflow takes it), or None for
    `python -c`, the REPL and notebooks (whose `argv[0]` is `-c`, empty or the kernel)."""
    if not argv or not argv[0] or argv[0] in ("-c", "-"):
        return None
    if "ipykernel" in sys.modules and os.path.basename(argv[0]).startswith("ipykernel"):
        return None
    path = os.path.abspath(argv[0])
    return path if os.path.isfile(path) else None


def git_state(script: str | None = None) -> dict[str, Any] | None:
    """Commit, dirty flag and root of the repository holding `script` (the script that runs,
    as MLflow records it), or, without a script (`python -c`, notebooks), the working
    directory; `of` says which. None outside any repository."""
    where = os.path.dirname(script) if script else None
    commit = _git(["rev-parse", "HEAD"], where)
    if commit is None:
        return None
    status = _git(["status", "--porcelain", "--untracked-files=no"], where)
    return {
        "commit": commit,
        "dirty": bool(status),
        "root": _git(["rev-parse", "--show-toplevel"], where),
        "of": "script" if script else "cwd",
    }


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return None


def run_metadata(identity: WriterIdentity) -> dict[str, Any]:
    """What a `start` event records about the process, without the user asking."""
    torch = sys.modules.get("torch")
    from localtrack import __version__

    script = script_path(sys.argv)
    return {
        "host": identity.host,
        "pid": identity.pid,
        "rank": identity.rank,
        "local_rank": identity.local_rank,
        "world_size": identity.world_size,
        "argv": list(sys.argv),
        "command": list(getattr(sys, "orig_argv", sys.argv)),
        "script": script,
        "user": _user(),
        "cwd": os.getcwd(),
        "python": platform.python_version(),
        "torch": getattr(torch, "__version__", None),
        "localtrack": __version__,
        "git": git_state(script),
    }
