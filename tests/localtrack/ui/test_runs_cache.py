"""The runs rows kept across restarts: reused for the same listing only, never for live runs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import localtrack
from localtrack._query.files import list_store
from localtrack._ui import runs_cache, snapshot
from localtrack._ui.runs import RUNS_SQL, prepare

MARKER = "localtrack-run.json"


def write(root: Path, name: str, points: int, age_s: float = 3600) -> None:
    w = localtrack.SummaryWriter(root / "p" / name)
    for step in range(points):
        w.add_scalar("loss", 1.0 / (step + 1), step)
    w.close()
    age(root, name, age_s)


def age(root: Path, name: str, age_s: float) -> None:
    made = time.time() - age_s
    for path in [root / "p" / name / MARKER, *(root / "p" / name).glob("*/*.lease")]:
        os.utime(path, (made, made))  # the marker and the (closed) writers' leases


def first_runs(root: Path) -> list[dict]:
    snaps = snapshot.Snapshots(root, prepare)
    try:
        snaps._refresh_once()
        with snaps.cursor() as (snap, _cur):
            assert snap.facts["partial"]
            return list(snap.facts["runs"])
    finally:
        snaps.stop()


def full_runs(root: Path) -> list[dict]:
    snaps = snapshot.Snapshots(root, prepare)
    try:
        snaps._refresh_once()
        snaps._refresh_once()
        with snaps.cursor() as (snap, _cur):
            assert not snap.facts["partial"]
            return list(snap.facts["runs"])
    finally:
        snaps.stop()


def test_a_restarted_server_has_last_steps_in_its_first_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "QUICK_FIRST", -1)
    write(tmp_path, "a", 10)
    assert first_runs(tmp_path)[0]["last_step"] is None  # nothing kept yet
    full = full_runs(tmp_path)
    assert full[0]["last_step"] == 9
    assert first_runs(tmp_path) == full
    write(tmp_path, "b", 3)  # another listing: not reused
    assert [r["last_step"] for r in first_runs(tmp_path)] == [None, None]


def test_nothing_is_kept_while_a_marker_is_fresh(tmp_path: Path) -> None:
    write(tmp_path, "a", 10, age_s=0)
    listing = list_store(tmp_path)
    assert runs_cache.listing_digest(listing, RUNS_SQL) is None
    age(tmp_path, "a", 3600)
    assert runs_cache.listing_digest(list_store(tmp_path), RUNS_SQL) is not None


def test_the_store_is_not_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "QUICK_FIRST", -1)
    write(tmp_path, "a", 10)
    before = sorted(p for p in tmp_path.rglob("*"))
    full_runs(tmp_path)
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert runs_cache.rows_path(tmp_path).exists()
