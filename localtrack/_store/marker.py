"""The run marker: the small JSON file whose presence makes a directory a run.

It is created once, atomically and exclusively (hard link of a complete temp file), so the
first of several processes opening one run directory chooses the run id and every other
process joins that run. It is never rewritten; what changes (status, config) lives in streams.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import TypedDict

from localtrack._store.layout import FORMAT_VERSION, MARKER_NAME
from localtrack._store.segments import fsync_dir


class Marker(TypedDict):
    format: str
    format_version: int
    run_id: str
    project: str
    name: str
    created_at: float
    api: str  # "tensorboard" or "wandb"


_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_run_id() -> str:
    """An 8-character id in W&B's style, unique enough to name runs across machines."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


def read_marker(run_dir: Path) -> Marker:
    with open(run_dir / MARKER_NAME, encoding="utf-8") as f:
        data: Marker = json.load(f)
    return data


def create_or_join(run_dir: Path, proposed: Marker) -> tuple[Marker, bool]:
    """Create the run's marker from `proposed`, or read the one another process made first.

    Returns the marker on disk and whether this call created it.
    """
    path = run_dir / MARKER_NAME
    if path.exists():
        return read_marker(run_dir), False
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / f".{MARKER_NAME}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(proposed, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)
        created = True
    except FileExistsError:
        created = False
    except OSError:  # file systems without hard links: exclusive create of the final name
        try:
            with open(path, "x", encoding="utf-8") as f:
                json.dump(proposed, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            created = True
        except FileExistsError:
            created = False
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(run_dir)
    return (proposed if created else read_marker(run_dir)), created


def make_marker(run_id: str, project: str, name: str, api: str) -> Marker:
    return Marker(
        format="localtrack-run",
        format_version=FORMAT_VERSION,
        run_id=run_id,
        project=project,
        name=name,
        created_at=time.time(),
        api=api,
    )
