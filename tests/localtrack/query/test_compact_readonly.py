"""`localtrack compact` on a store it cannot write: says so, changes nothing, exits 1.

As root, chmod does not stop writes, so the real case runs the CLI as `nobody` (setpriv)
over a store root owns; the error mapping is also tested with the failure injected.
"""

from __future__ import annotations

import errno
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from segment_store import make_run

from localtrack._cli.main import main
from localtrack._query.compact import CompactionWarning, compact, is_write_error

compact_mod = importlib.import_module("localtrack._query.compact")
NOBODY = 65534
SETPRIV = shutil.which("setpriv")
AS_NOBODY = [str(SETPRIV), f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def shared_store() -> Iterator[Path]:
    """A store under a folder anyone may read (tmp_path's parents are root's alone)."""
    top = Path(tempfile.mkdtemp(prefix="localtrack-ro-"))
    try:
        make_run(top / "runs" / "p" / "a", "ro1", points=12, per_segment=2)
        make_run(top / "runs" / "p" / "b", "ro2", points=6, per_segment=1)
        for p in [top, *top.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        yield top / "runs"
    finally:
        shutil.rmtree(top)


@pytest.mark.skipif(
    os.geteuid() != 0 or SETPRIV is None, reason="needs root and setpriv to run as nobody"
)
def test_compact_as_a_user_who_cannot_write_the_store_says_so_and_exits_1(shared_store):
    before = files_of(shared_store)
    exe = Path(sys.executable).with_name("localtrack")
    probe = subprocess.run(
        [
            SETPRIV,
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            sys.executable,
            "-c",
            "import localtrack",
        ],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"nobody cannot run this venv's python: {probe.stderr[-300:]!r}")
    done = subprocess.run(
        [
            SETPRIV,
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            str(exe),
            "--root",
            str(shared_store),
            "compact",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": "/tmp", "LOCALTRACK_CACHE_DIR": "/tmp/localtrack-ro-cache"},
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "cannot write to" in done.stderr and "Permission denied" in done.stderr
    assert "cannot be read" not in done.stderr
    assert "nothing was merged" in done.stderr
    assert files_of(shared_store) == before  # nothing changed, nothing left behind


REAL_MERGE = compact_mod.merge_segments


def _refuse(e: OSError, only: str | None = None):
    def merge(run_dir, stream, names, check=lambda: None):
        if only is not None and stream != only:
            return REAL_MERGE(run_dir, stream, names, check)
        raise e

    return merge


def test_an_injected_read_only_folder_is_reported_as_not_writable(tmp_path, monkeypatch, capsys):
    run = make_run(tmp_path / "p" / "a", "ro3", points=8, per_segment=2)
    before = files_of(tmp_path)
    tmp = run / "scalars" / ".aaaaaaaa-0000000000-0000000003.parquet.tmp"
    err = OSError(errno.EROFS, "Read-only file system", str(tmp))
    monkeypatch.setattr(compact_mod, "merge_segments", _refuse(err))
    with pytest.warns(CompactionWarning, match="could not write"):
        report = compact(tmp_path, grace=0)
    assert report.written_files == 0 and report.errors
    assert all(e.startswith(f"cannot write to {run}/") for e in report.errors)
    assert (
        f"cannot write to {run / 'scalars'}: Read-only file system (nothing was changed)"
        in report.errors
    )
    assert files_of(tmp_path) == before
    assert main(["--root", str(tmp_path), "compact"]) == 1
    out = capsys.readouterr().err
    assert "cannot write to" in out and "nothing was merged" in out


def test_an_unreadable_input_is_still_a_read_error_and_others_merge(tmp_path, monkeypatch):
    run = make_run(tmp_path / "p" / "a", "ro4", points=8, per_segment=2)
    bad = run / "scalars" / "aaaaaaaa-0000000000-0000000000.parquet"
    err = PermissionError(errno.EACCES, "Permission denied", str(bad))
    assert not is_write_error(err, [bad])  # the input cannot be read: not a write problem
    monkeypatch.setattr(compact_mod, "merge_segments", _refuse(err, only="scalars"))
    with pytest.warns(Warning, match="cannot be read"):
        report = compact(tmp_path, grace=0)
    assert report.errors == [] and report.written_files == 1  # events merged, scalars kept


@pytest.mark.parametrize(
    ("e", "write"),
    [
        (PermissionError(errno.EACCES, "Permission denied", "/s/scalars/.x.tmp"), True),
        (OSError(errno.EROFS, "Read-only file system", "/s/scalars/.x.tmp"), True),
        (OSError(errno.ENOSPC, "No space left on device", b"/s/scalars/.x.tmp"), True),
        (PermissionError(errno.EPERM, "Operation not permitted"), True),
        (OSError(errno.EIO, "Input/output error", "/s/scalars/a.parquet"), False),
        (FileNotFoundError(errno.ENOENT, "No such file", "/s/x"), False),
        (ValueError("not parquet"), False),
    ],
)
def test_which_failures_mean_cannot_write(e, write):
    assert is_write_error(e, [Path("/s/scalars/a.parquet")]) is write
