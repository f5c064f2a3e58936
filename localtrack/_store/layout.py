"""Pure naming of everything on disk: run markers, stream folders, segment file names.

No function here touches the file system; each one maps names to paths or back, so the
layout is unit-tested without disk and read the same way by the writer, queries and sync.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

FORMAT_VERSION = 1
"""Version of the on-disk format; readers refuse a store with a newer one."""

MARKER_NAME = "localtrack-run.json"
"""A directory holding this file is a run."""

WRITERS_DIR = "writers"
"""Per-writer lease files (their mtime is the writer's heartbeat)."""

SYNC_DIR = "sync"
"""Per-remote upload progress, kept inside the run so it travels with it."""

DEFAULT_ROOT = "runs"
"""Runs root when neither an argument nor LOCALTRACK_DIR names one (TensorBoard's default)."""

ENV_ROOT = "LOCALTRACK_DIR"

SEGMENT_SUFFIX = ".parquet"
_SEGMENT_RE = re.compile(r"^(?P<writer>[0-9a-f]{8,32})-(?P<lo>\d{10})-(?P<hi>\d{10})\.parquet$")
_WRITER_RE = re.compile(r"^[0-9a-f]{8,32}$")


def runs_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The runs root: the argument, else $LOCALTRACK_DIR, else ./runs."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get(ENV_ROOT) or DEFAULT_ROOT)


@dataclass(frozen=True, order=True)
class SegmentName:
    """A segment file's identity: which writer sealed it and which sequence range it covers.

    A freshly sealed segment covers one sequence number (lo == hi); a compacted one covers
    the whole range of the segments it merged, so readers drop any file whose range another
    file of the same writer covers.
    """

    writer: str
    lo: int
    hi: int

    def __post_init__(self) -> None:
        if not _WRITER_RE.match(self.writer):
            raise ValueError(f"writer id must be 8-32 lowercase hex digits, got {self.writer!r}")
        if not 0 <= self.lo <= self.hi < 10**10:
            raise ValueError(f"bad sequence range {self.lo}..{self.hi}")

    @property
    def filename(self) -> str:
        return f"{self.writer}-{self.lo:010d}-{self.hi:010d}{SEGMENT_SUFFIX}"

    def covers(self, other: SegmentName) -> bool:
        """True when this segment holds every row of `other` (same writer, wider range)."""
        return (
            self.writer == other.writer
            and self.lo <= other.lo
            and other.hi <= self.hi
            and (self.lo, self.hi) != (other.lo, other.hi)
        )


def is_segment_name(filename: str) -> bool:
    """Whether `filename` names a published segment (no SegmentName built: listing's fast path)."""
    m = _SEGMENT_RE.match(filename)
    return m is not None and m["lo"] <= m["hi"]  # equal-width digit strings compare as numbers


def parse_segment_name(filename: str) -> SegmentName | None:
    """The SegmentName of a published segment file, or None for anything else (tmp files…)."""
    m = _SEGMENT_RE.match(filename)
    if m is None:
        return None
    return SegmentName(m["writer"], int(m["lo"]), int(m["hi"]))


def live_segments(names: list[SegmentName]) -> list[SegmentName]:
    """The segments a reader should read: every name not covered by another one.

    Compaction publishes the merged file before it deletes its inputs, so for a moment both
    exist; reading only uncovered names counts each row exactly once.
    """
    by_writer: dict[str, list[SegmentName]] = {}
    for n in names:
        by_writer.setdefault(n.writer, []).append(n)
    live: list[SegmentName] = []
    for group in by_writer.values():
        # Widest first: a range is dropped when a kept range already contains it.
        group.sort(key=lambda n: (n.lo, -n.hi))
        reach = -1
        for n in group:
            if n.hi <= reach:
                continue
            live.append(n)
            reach = n.hi
    live.sort()
    return live


def covered_segments(names: list[SegmentName]) -> list[SegmentName]:
    """The complement of live_segments: files whose rows another file already holds."""
    keep = set(live_segments(names))
    return sorted(n for n in names if n not in keep)


def stream_dir(run_dir: Path, stream: str) -> Path:
    return run_dir / stream


def segment_path(run_dir: Path, stream: str, name: SegmentName) -> Path:
    return run_dir / stream / name.filename


def lease_path(run_dir: Path, writer: str) -> Path:
    return run_dir / WRITERS_DIR / f"{writer}.lease"


def safe_component(text: str, what: str) -> str:
    """Check that a user-given name (a project) is one path component, or raise with the fix."""
    if (
        not text
        or text in (".", "..")
        or "/" in text
        or "\\" in text
        or "\0" in text
        or text != text.strip()
    ):
        raise ValueError(
            f"{what} {text!r} cannot be used as a folder name: use a non-empty name without "
            "'/', '\\', surrounding spaces, or '.'/'..'"
        )
    return text
