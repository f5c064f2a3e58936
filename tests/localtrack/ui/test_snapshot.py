"""Snapshots of a store: the quick first one, the full one after it, generations for live."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import localtrack
from localtrack._ui import snapshot
from localtrack._ui.runs import prepare, run_answer
from localtrack._ui.scalars import tags_answer


def write(root: Path, name: str, points: int) -> None:
    w = localtrack.SummaryWriter(root / "p" / name)
    for step in range(points):
        w.add_scalar("loss", 1.0 / (step + 1), step)
    w.close()


def test_a_quick_first_snapshot_then_the_full_one(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(snapshot, "QUICK_FIRST", -1)
    write(tmp_path, "a", 10)
    snaps = snapshot.Snapshots(tmp_path, prepare)
    try:
        snaps._refresh_once()
        with snaps.cursor() as (snap, cur):
            assert snap.facts["partial"] and snap.generation == 1
            (run,) = snap.facts["runs"]
            assert run["last_step"] is None and run["name"] == "a"
            tags = json.loads(tags_answer(snap, cur, {}).body)["tags"]
            assert tags == [{"tag": "loss", "runs": [run["run_id"]], "points": 10}]
            page = json.loads(run_answer(snap, cur, run["run_id"]).body)
            assert page["scalars"][0]["points"] == 10 and page["scalars"][0]["last_step"] == 9
        snaps._refresh_once()
        with snaps.cursor() as (snap, cur):
            assert not snap.facts["partial"] and snap.generation == 2
            assert snap.facts["runs"][0]["last_step"] == 9
        live = snaps.live(1)
        assert live["runs_changed"] and not live["reset"]
        snaps._refresh_once()  # nothing changed: no new generation
        assert snaps.generation == 2
    finally:
        snaps.stop()


def test_no_snapshot_yet_says_why(tmp_path: Path) -> None:
    snaps = snapshot.Snapshots(tmp_path, prepare)
    snaps.error = "boom"
    with pytest.raises(RuntimeError, match="boom"), snaps.hold(timeout=0.1):
        pass
