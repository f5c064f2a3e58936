"""Where imported runs come from and go to: pure naming, no file contents read.

TensorBoard calls each directory holding event files (`*tfevents*`) a run, named by its path
relative to `--logdir`. An imported run lives at `<root>/<project>/<that name>` and its id is
derived from project and name, so importing the same logs again, or from another copy of
them, lands in the same run.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from localtrack._store.layout import MARKER_NAME

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True)
class SourceRun:
    """One source run: its name, its directory and its event files (sorted by name)."""

    name: str
    path: Path
    files: tuple[Path, ...]


def stable_run_id(source: str, project: str, name: str) -> str:
    """An 8-character run id, the same for the same (source, project, name)."""
    digest = int.from_bytes(hashlib.sha256(f"{source}\0{project}\0{name}".encode()).digest(), "big")
    chars = []
    for _ in range(8):
        digest, i = divmod(digest, len(_ALPHABET))
        chars.append(_ALPHABET[i])
    return "".join(chars)


def is_event_file(name: str) -> bool:
    """TensorBoard's rule: a file whose name holds `tfevents` (not our own temp files)."""
    return "tfevents" in name and not name.startswith(".")


def find_tensorboard_runs(logdir: Path) -> list[SourceRun]:
    """Every run under `logdir` (itself included), as TensorBoard lists them.

    A localtrack run directory (it holds a run marker) is not a source: importing into the
    logdir itself must not import its own output."""
    logdir = Path(logdir)
    if logdir.is_file():
        return [SourceRun(logdir.parent.name or "run", logdir.parent, (logdir,))]
    runs: list[SourceRun] = []
    for dirpath, dirnames, filenames in os.walk(logdir):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if MARKER_NAME in filenames:
            dirnames[:] = []
            continue
        files = sorted(f for f in filenames if is_event_file(f))
        if files:
            here = Path(dirpath)
            rel = here.relative_to(logdir).as_posix()
            name = logdir.resolve().name if rel == "." else rel
            runs.append(SourceRun(name, here, tuple(here / f for f in files)))
    return runs


def target_dir(root: Path, project: str, name: str) -> Path:
    return Path(root) / project / name
