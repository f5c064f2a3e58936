"""Bad data never kills training: one warning per tag, the rest kept. Misuse raises at once."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import localtrack
from localtrack import ClosedError, LocaltrackWarning, SummaryWriter, UsageError
from localtrack._store.segments import read_stream


def scalars(run_dir):
    table = read_stream(run_dir, "scalars")
    return [] if table is None else table.select(["tag", "step", "value"]).to_pylist()


def test_a_string_scalar_warns_once_per_tag_and_the_rest_is_kept(tmp_path):
    with (
        SummaryWriter(tmp_path / "r") as w,
        pytest.warns(LocaltrackWarning, match="'loss'.*not a number") as record,
    ):
        for step in range(5):
            w.add_scalar("loss", "oops", step)
            w.add_scalar("acc", 0.5, step)
    assert len([r for r in record if "'loss'" in str(r.message)]) == 1
    got = scalars(tmp_path / "r")
    assert [r["tag"] for r in got] == ["acc"] * 5


def test_nan_and_inf_are_data(tmp_path):
    with SummaryWriter(tmp_path / "r") as w:
        w.add_scalar("nan", float("nan"), 0)
        w.add_scalar("inf", float("inf"), 0)
        w.add_scalar("-inf", -math.inf, 0)
    got = {r["tag"]: r["value"] for r in scalars(tmp_path / "r")}
    assert math.isnan(got["nan"]) and got["inf"] == math.inf and got["-inf"] == -math.inf


def test_negative_and_huge_steps(tmp_path):
    with SummaryWriter(tmp_path / "r") as w:
        w.add_scalar("x", 1.0, -5)
        w.add_scalar("x", 2.0, 2**63 - 1)
        w.add_scalar("x", 3.0, 2**63)  # past int64: skipped with a warning
        w.add_scalar("x", 4.0, None)  # TensorBoard stores step 0
        w.add_scalar("x", 5.0, 1.5)  # not an integer: skipped
        with pytest.warns(LocaltrackWarning) as record:
            w.flush()
    messages = [str(r.message) for r in record]
    assert any("int64" in m for m in messages) and any("got 1.5" in m for m in messages)
    assert [(r["step"], r["value"]) for r in scalars(tmp_path / "r")] == [
        (-5, 1.0),
        (2**63 - 1, 2.0),
        (0, 4.0),
    ]


@pytest.mark.parametrize(
    "tag", ["a/b", "with space", "ünïcødé/ß", "../../etc/passwd", "/abs", "a//b"]
)
def test_any_tag_is_stored_verbatim_and_never_becomes_a_path(tmp_path, tag):
    with SummaryWriter(tmp_path / "r") as w:
        w.add_scalar(tag, 1.0, 0)
        w.add_image(tag, np.zeros((1, 2, 2)), 0)
    assert scalars(tmp_path / "r") == [{"tag": tag, "step": 0, "value": 1.0}]
    outside = [p for p in tmp_path.rglob("*") if not p.is_relative_to(tmp_path / "r")]
    assert outside == []


def test_empty_tag_is_skipped_with_a_warning(tmp_path):
    with SummaryWriter(tmp_path / "r") as w:
        w.add_scalar("", 1.0, 0)
        w.add_scalar("ok", 1.0, 0)
        with pytest.warns(LocaltrackWarning, match="non-empty"):
            w.flush()
    assert [r["tag"] for r in scalars(tmp_path / "r")] == ["ok"]


def test_bad_images_meshes_and_tensors_warn_and_are_skipped(tmp_path):
    with SummaryWriter(tmp_path / "r") as w, pytest.warns(LocaltrackWarning) as record:
        w.add_image("two_channels", np.zeros((2, 4, 4)), 0)
        w.add_image("wrong_rank", np.zeros((4, 4)), 0)  # CHW expected
        w.add_mesh("mesh", np.zeros((1, 3, 3)), faces=np.array([[[0, 1, 7]]]))
        w.add_histogram("empty", np.array([]), 0)
        w.add_scalar("vector", np.ones(3), 0)
        w.add_image("good", np.zeros((3, 4, 4)), 0)
        w.flush()
    messages = " ".join(str(r.message) for r in record)
    for expected in (
        "1, 3 or 4 channels",
        "does not match",
        "only 3 vertices",
        "finite",
        "not a scalar",
    ):
        assert expected in messages
    images = read_stream(tmp_path / "r", "images")
    assert images is not None and images.column("tag").to_pylist() == ["good"]
    assert read_stream(tmp_path / "r", "meshes") is None


def test_unknown_dataformats_raises_with_the_fix(tmp_path):
    with SummaryWriter(tmp_path / "r") as w, pytest.raises(UsageError, match="use one of"):
        w.add_image("x", np.zeros((3, 4, 4)), 0, dataformats="CWHX")


def test_logging_after_close_raises(tmp_path):
    w = SummaryWriter(tmp_path / "r")
    w.close()
    with pytest.raises(ClosedError, match="create a new"):
        w.add_scalar("x", 1.0, 0)
    with pytest.raises(ClosedError):
        w.add_histogram("x", np.ones(3), 0)
    w.close()  # closing twice is fine


def test_run_log_bad_values(tmp_path):
    run = localtrack.init(project="p", dir=tmp_path)
    with pytest.warns(LocaltrackWarning, match="None is not a value"):
        run.log({"loss": 0.5, "missing": None, "acc": 1})
    run.finish()
    with pytest.raises(ClosedError, match=r"localtrack\.init"):
        run.log({"x": 1.0})
    got = sorted((r["tag"], r["value"]) for r in scalars(tmp_path / "p" / run.id))
    assert got == [("acc", 1.0), ("loss", 0.5)]


@pytest.mark.parametrize("project", ["..", "a/b", "", " x"])
def test_a_project_cannot_escape_the_root(tmp_path, project):
    with pytest.raises(ValueError, match="folder name"):
        localtrack.init(project="p", dir=tmp_path, id=project)
    if project:
        with pytest.raises(ValueError, match="folder name"):
            localtrack.init(project=project, dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_no_warning_for_good_data(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with SummaryWriter(tmp_path / "r") as w:
            w.add_scalar("x", 1, 0)
            w.add_histogram("h", np.arange(5), 0)
