"""One listing of a store: for every stream, the live segment files of every run, each once.

A listing applies the reader rules of docs/FORMAT.md: only published `*.parquet` segment
names count, covered files are dropped (so a compaction in progress never doubles a row),
and a file that is not a whole Parquet file (no `PAR1` magic at both ends: truncated, or not
Parquet at all) is reported with a warning and skipped, never deleted. A run whose marker has
a newer format version is refused with FormatVersionError.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from localtrack._errors import FormatVersionError
from localtrack._store.layout import (
    FORMAT_VERSION,
    MARKER_NAME,
    live_segments,
    parse_segment_name,
)
from localtrack._store.marker import Marker
from localtrack._store.runs import find_runs
from localtrack._store.schema import STREAMS

_MAGIC = b"PAR1"


class SkippedFileWarning(UserWarning):
    """A segment file could not be read and was left out of the query (it is not deleted)."""


@dataclass(frozen=True)
class RunEntry:
    """One run directory and its marker."""

    path: Path
    marker: Marker


@dataclass
class StoreListing:
    """What one look at the store found: runs, and the live files of each stream."""

    root: Path
    runs: list[RunEntry] = field(default_factory=list)
    files: dict[str, list[Path]] = field(default_factory=dict)
    skipped: list[Path] = field(default_factory=list)

    def all_files(self) -> list[Path]:
        return [p for paths in self.files.values() for p in paths]


def looks_whole(path: Path) -> bool:
    """True when `path` starts and ends with the Parquet magic (a cheap check, no parsing)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
            if head != _MAGIC:
                return False
            f.seek(-4, os.SEEK_END)
            return f.read(4) == _MAGIC
    except OSError:
        return False


def read_run_marker(run_dir: Path) -> Marker:
    """The run's marker, refusing one written by a newer format version."""
    with open(run_dir / MARKER_NAME, encoding="utf-8") as f:
        marker: Marker = json.load(f)
    version = int(marker.get("format_version", 1))
    if version > FORMAT_VERSION:
        raise FormatVersionError(
            f"run {run_dir} has localtrack format version {version}, newer than this "
            f"localtrack reads ({FORMAT_VERSION}); upgrade localtrack: pip install -U localtrack"
        )
    return marker


def stream_files(stream_dir: Path) -> list[Path]:
    """The live segment files of one stream folder (covered files dropped), sorted."""
    try:
        entries = os.listdir(stream_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    names = [n for n in (parse_segment_name(e) for e in entries) if n is not None]
    return [stream_dir / n.filename for n in live_segments(names)]


def warn_skipped(path: Path, why: str) -> None:
    warnings.warn(
        f"localtrack: skipping {path}: {why} (the file is left in place)",
        SkippedFileWarning,
        stacklevel=3,
    )


def stream_dirs(run_dir: Path) -> list[str]:
    """Names of the run's stream folders that exist (one directory scan, no per-stream probe)."""
    try:
        with os.scandir(run_dir) as entries:
            return [e.name for e in entries if e.name in STREAMS and e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def list_store(root: Path, skip: Iterable[Path] = ()) -> StoreListing:
    """List every run under `root` and the live files of each stream, minus `skip`.

    A file that disappears between listing and checking (compaction removed it) is simply
    not listed; a file that is not whole Parquet is warned about and skipped.
    """
    skipped = set(skip)
    listing = StoreListing(root=root, files={s: [] for s in STREAMS})
    for run_dir in find_runs(root):
        try:
            marker = read_run_marker(run_dir)
        except FileNotFoundError:
            continue  # removed while we looked (localtrack rm)
        listing.runs.append(RunEntry(run_dir, marker))
        for stream in stream_dirs(run_dir):
            paths = listing.files[stream]
            for path in stream_files(run_dir / stream):
                if path in skipped:
                    continue
                if not looks_whole(path):
                    if path.exists():
                        warn_skipped(path, "not a whole Parquet file (truncated or corrupt)")
                        listing.skipped.append(path)
                    continue
                paths.append(path)
    return listing
