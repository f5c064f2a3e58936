"""The folder-mtime look that tells the snapshot thread whether to list the store again."""

from __future__ import annotations

import os
from pathlib import Path

import localtrack
from localtrack._ui.stamps import store_stamps


def bump(path: Path) -> None:
    """Move a folder's mtime on as a later write would (mtime ticks can be coarse)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


def test_stamps_change_with_segments_and_runs_not_with_reads(tmp_path: Path) -> None:
    w = localtrack.SummaryWriter(tmp_path / "p" / "a")
    w.add_scalar("loss", 1.0, 0)
    w.close()
    first = store_stamps(tmp_path)
    assert str(tmp_path / "p" / "a" / "scalars") in {p for p, _ in first}
    localtrack.sql("SELECT count(*) FROM scalars", root=tmp_path)
    assert store_stamps(tmp_path) == first  # reading changes nothing
    segment = next((tmp_path / "p" / "a" / "scalars").iterdir())
    os.rename(segment, segment.with_name("moved.parquet"))
    bump(segment.parent)
    second = store_stamps(tmp_path)
    assert second != first
    w = localtrack.SummaryWriter(tmp_path / "p" / "b")
    w.close()
    bump(tmp_path / "p")
    assert store_stamps(tmp_path) != second


def test_missing_root_has_no_stamps(tmp_path: Path) -> None:
    assert store_stamps(tmp_path / "nothing") == frozenset()
