"""Import progress of one run: how far each source file was imported, kept inside the run.

`<run dir>/import/<source>.json` (source `tensorboard` or `wandb`) maps each source file, by
its name relative to the source run directory, to the byte offset just after the last record
imported. The file is replaced atomically (tmp, fsync, rename) only after the rows read up to
that offset are sealed and durable, so a re-import reads from there and never adds a row twice.
Before an import writes anything it records the writer it is about to use as `pending`; an
import that was killed leaves that mark, and the next one deletes that writer's segments (rows
of a range it will read again) before reading the range again. Layout: docs/INTEROP.md.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localtrack._store.layout import WRITERS_DIR
from localtrack._store.schema import STREAMS
from localtrack._store.segments import fsync_dir, write_atomic

IMPORT_DIR = "import"
STATE_FORMAT = "localtrack-import"
STATE_VERSION = 1


@dataclass
class FileProgress:
    """How much of one source file is in the run."""

    offset: int = 0
    records: int = 0
    source: str = ""  # the absolute path it was last read from
    imported_at: float = 0.0
    pending: str | None = None  # writer id of an import of this file that has not finished


@dataclass
class ImportState:
    """Progress of every source file of one run."""

    source: str
    files: dict[str, FileProgress] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # per-source keys (embeddings seen…)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "format_version": STATE_VERSION,
            "source": self.source,
            "files": {k: vars(v) for k, v in sorted(self.files.items())},
            **self.extra,
        }


def state_path(run_dir: Path, source: str) -> Path:
    return run_dir / IMPORT_DIR / f"{source}.json"


def load_state(run_dir: Path, source: str) -> ImportState:
    path = state_path(run_dir, source)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ImportState(source)
    if data.get("format") != STATE_FORMAT or data.get("format_version", 0) > STATE_VERSION:
        raise ValueError(
            f"{path} is not an import state this localtrack reads (format "
            f"{data.get('format')!r} version {data.get('format_version')!r}); upgrade localtrack"
        )
    files = {k: FileProgress(**v) for k, v in data.get("files", {}).items()}
    known = {"format", "format_version", "source", "files"}
    extra = {k: v for k, v in data.items() if k not in known}
    return ImportState(source, files, extra)


def save_state(run_dir: Path, state: ImportState) -> None:
    path = state_path(run_dir, state.source)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, (json.dumps(state.to_json(), indent=1) + "\n").encode())


def mark_done(progress: FileProgress, offset: int, records: int, source: Path) -> None:
    progress.offset = offset
    progress.records += records
    progress.source = str(source)
    progress.imported_at = time.time()
    progress.pending = None


def ready_to_read(
    run_dir: Path, state: ImportState, progress: FileProgress, size: int
) -> str | None:
    """Whether a source file of `size` bytes has anything new to import: None when it does
    (an import killed midway first has its writer's rows dropped, to read that range again);
    else "unchanged" (all of it is in the run) or "shorter" (it was replaced: skip it)."""
    if size == progress.offset and progress.pending is None:
        return "unchanged"
    if size < progress.offset:
        return "shorter"
    if progress.pending is not None:
        drop_writer(run_dir, progress.pending)
        progress.pending = None
        save_state(run_dir, state)
    return None


def drop_writer(run_dir: Path, writer: str) -> int:
    """Delete every segment (and the lease) of `writer` in the run: what an interrupted import
    left behind. Returns the number of files deleted."""
    removed = 0
    for stream in STREAMS:
        folder = run_dir / stream
        if not folder.is_dir():
            continue
        for path in folder.glob(f"{writer}-*.parquet"):
            path.unlink(missing_ok=True)
            removed += 1
        if removed:
            fsync_dir(folder)
    (run_dir / WRITERS_DIR / f"{writer}.lease").unlink(missing_ok=True)
    return removed
