"""W&B's one value per key per step through the real writer and localtrack.sql."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import localtrack
from localtrack import LocaltrackWarning


def points(root: Path, view: str = "scalars") -> list[tuple[str, int, float]]:
    rows = localtrack.sql(f"SELECT tag, step, value FROM {view} ORDER BY tag, step, value", root)
    return [tuple(r) for r in rows.fetchall()]


def overwrite_events(root: Path) -> int:
    rows = localtrack.sql("SELECT count(*) FROM events WHERE kind = 'overwrite'", root)
    return int(rows.fetchall()[0][0])


def test_a_key_logged_twice_at_an_explicit_step_keeps_the_last_value(tmp_path: Path) -> None:
    run = localtrack.init(project="p", dir=tmp_path)
    run.log({"a": 1.0}, step=5)
    run.log({"a": 2.0}, step=5)
    run.log({"a": 3.0}, step=6)
    run.log({"a": 4.0}, step=6)
    run.log({"a": 5.0}, step=6)
    run.finish()
    assert points(tmp_path) == [("a", 5, 2.0), ("a", 6, 5.0)]
    assert overwrite_events(tmp_path) == 1  # once per writer
    assert len(points(tmp_path, "_scalars_all")) == 5  # nothing is lost from disk


def test_commit_false_then_commit_keeps_the_last_value_and_the_step(tmp_path: Path) -> None:
    run = localtrack.init(project="p", dir=tmp_path)
    run.log({"a": 1.0, "b": 10.0}, commit=False)
    run.log({"a": 2.0})  # commits step 0
    run.log({"a": 3.0}, step=4)
    run.log({"a": 4.0}, commit=False)  # still step 4
    run.log({"a": 5.0})  # commits step 4
    run.log({"a": 6.0})  # step 5
    run.finish()
    assert points(tmp_path) == [
        ("a", 0, 2.0),
        ("a", 4, 5.0),
        ("a", 5, 6.0),
        ("b", 0, 10.0),
    ]


def test_different_keys_at_one_step_merge_without_an_event(tmp_path: Path) -> None:
    run = localtrack.init(project="p", dir=tmp_path)
    run.log({"a": 1.0}, step=3)
    run.log({"b": 2.0}, step=3)
    run.log({"c": "text", "d": 4.0}, commit=False)
    run.log({"a": 5.0}, step=4)
    run.finish()
    assert points(tmp_path) == [("a", 3, 1.0), ("a", 4, 5.0), ("b", 3, 2.0), ("d", 3, 4.0)]
    assert overwrite_events(tmp_path) == 0


def test_values_kept_across_seals_and_slow_path(tmp_path: Path) -> None:
    run = localtrack.init(project="p", dir=tmp_path)
    run.log({"a": 1.0, "s": "one"}, step=2)  # a string: the slow path
    run._core.flush()  # the first value is published before the second is logged
    run.log({"a": 2}, step=2)
    run.finish()
    assert points(tmp_path) == [("a", 2, 2.0)]
    assert len(points(tmp_path, "_scalars_all")) == 2


def test_a_later_lower_step_is_still_dropped_with_one_warning(tmp_path: Path) -> None:
    run = localtrack.init(project="p", dir=tmp_path)
    run.log({"a": 1.0}, step=5)
    run.log({"a": 2.0}, step=5)
    with pytest.warns(LocaltrackWarning, match="W&B drops") as caught:
        run.log({"a": 3.0}, step=2)
        run.log({"a": 4.0}, step=3)
    assert len(caught) == 1
    run.finish()
    assert points(tmp_path) == [("a", 5, 2.0)]


def test_summary_writer_keeps_every_point(tmp_path: Path) -> None:
    writer = localtrack.SummaryWriter(tmp_path / "tb")
    writer.add_scalar("a", 1.0, 5)
    writer.add_scalar("a", 2.0, 5)
    writer.close()
    assert points(tmp_path) == [("a", 5, 1.0), ("a", 5, 2.0)]


def test_an_image_logged_twice_at_one_step_keeps_the_last(tmp_path: Path) -> None:
    run = localtrack.init(project="p", dir=tmp_path)
    run.log({"img": localtrack.Image(np.zeros((2, 2, 3), np.uint8))}, step=1)
    run.log({"img": localtrack.Image(np.ones((4, 4, 3), np.uint8))}, step=1)
    run.finish()
    rows = localtrack.sql("SELECT step, width FROM images", tmp_path).fetchall()
    assert rows == [(1, 4)]
    assert localtrack.sql("SELECT count(*) FROM _images_all", tmp_path).fetchall() == [(2,)]
