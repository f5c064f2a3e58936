"""The TensorBoard calls issue #11 added: add_tensor, add_pr_curve_raw, add_onnx_graph,
add_image_with_boxes, and close() recording a failure while an exception propagates."""

from __future__ import annotations

import importlib.util
import json
import warnings

import numpy as np
import pytest

import localtrack
from localtrack import LocaltrackWarning, SummaryWriter
from localtrack._store.runs import run_status
from localtrack._store.segments import read_stream
from localtrack._writer.images import decode_png

torch = pytest.importorskip("torch")


def rows(run_dir, stream):
    table = read_stream(run_dir, stream)
    return [] if table is None else table.to_pylist()


def array(struct):
    return np.frombuffer(struct["data"], struct["dtype"]).reshape(struct["shape"])


def test_add_tensor_keeps_the_tensor(tmp_path):
    w = SummaryWriter(tmp_path / "r")
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    w.add_tensor("t", t, 3)
    w.add_tensor("ids", torch.tensor([[1, 2]], dtype=torch.int64), 4)
    with pytest.warns(LocaltrackWarning, match="numeric"):
        w.add_tensor("bad", "not a tensor", 5)
    w.close()
    got = {r["tag"]: r for r in rows(tmp_path / "r", "tensors")}
    assert np.array_equal(array(got["t"]["tensor"]), t.numpy()) and got["t"]["step"] == 3
    assert array(got["ids"]["tensor"]).tolist() == [[1, 2]]
    con = localtrack.connect(tmp_path)
    assert con.sql("SELECT tag, tensor.shape FROM tensors WHERE tag = 't'").fetchall() == [
        ("t", [2, 3])
    ]


def test_add_pr_curve_raw_stores_the_counts(tmp_path):
    w = SummaryWriter(tmp_path / "r")
    tp, fp = [10.0, 8.0, 3.0], [5.0, 2.0, 0.0]
    tn, fn = [0.0, 3.0, 5.0], [0.0, 2.0, 7.0]
    precision = [t / (t + f) for t, f in zip(tp, fp, strict=True)]
    recall = [t / (t + f) for t, f in zip(tp, fn, strict=True)]
    w.add_pr_curve_raw("pr", tp, fp, tn, fn, precision, recall, 7, num_thresholds=3)
    with pytest.warns(LocaltrackWarning, match="differ in length"):
        w.add_pr_curve_raw("bad", tp, fp, tn, fn[:2], precision, recall, 8)
    w.close()
    (row,) = rows(tmp_path / "r", "pr_curves")
    assert (row["tag"], row["step"], row["num_thresholds"]) == ("pr", 7, 3)
    assert row["tp"] == tp and row["recall"] == recall and row["thresholds"] == [0, 0.5, 1]


def test_add_onnx_graph_stores_the_file(tmp_path):
    model_file = tmp_path / "model.onnx"
    model_file.write_bytes(b"\x08\x07\x12\x07pytorch" + bytes(range(256)))
    w = SummaryWriter(tmp_path / "r")
    w.add_onnx_graph(str(model_file))
    with pytest.warns(LocaltrackWarning, match="cannot read the ONNX file"):
        w.add_onnx_graph(str(tmp_path / "missing.onnx"))
    w.close()
    (row,) = rows(tmp_path / "r", "onnx_graphs")
    assert row["tag"] == "model" and row["data"] == model_file.read_bytes()
    assert row["num_bytes"] == model_file.stat().st_size


def test_add_onnx_graph_of_a_real_export(tmp_path):
    pytest.importorskip("onnx")
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU())
    path = tmp_path / "net.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 3),), str(path), dynamo=False)
    with SummaryWriter(tmp_path / "r") as w:
        w.add_onnx_graph(path)
    assert rows(tmp_path / "r", "onnx_graphs")[0]["data"] == path.read_bytes()


def test_add_image_with_boxes_draws_them_and_keeps_them(tmp_path):
    img = torch.zeros(3, 20, 30)
    img[1] = 0.5  # a green-grey background
    boxes = torch.tensor([[2.0, 3.0, 10.0, 12.0], [15.0, 5.0, 25.0, 18.0]])
    w = SummaryWriter(tmp_path / "r")
    w.add_image_with_boxes("det", img, boxes, 5)
    w.add_image_with_boxes("named", img, boxes, 5, labels=["cat", "dog"])
    w.add_image_with_boxes(
        "hwc",
        np.zeros((8, 9, 3)),
        [1, 1, 4, 4],
        6,
        dataformats="HWC",
        labels=["too", "many"],
        rescale=2,
    )
    with pytest.warns(LocaltrackWarning, match=r"\(N, 4\)"):
        w.add_image_with_boxes("bad", img, torch.zeros(2, 3), 7)
    w.close()
    images = {r["tag"]: r for r in rows(tmp_path / "r", "images")}
    pixels = decode_png(images["det"]["data"])
    assert pixels.shape == (20, 30, 3)
    assert pixels[3, 6].tolist() == [255, 0, 0]  # the top edge of the first box
    assert pixels[7, 2].tolist() == [255, 0, 0]  # its left edge
    assert pixels[7, 6].tolist() == [0, 128, 0]  # inside: untouched
    assert pixels[0, 0].tolist() == [0, 128, 0]
    assert decode_png(images["hwc"]["data"]).shape == (16, 18, 3)
    if importlib.util.find_spec("PIL") is not None:  # labels are drawn with Pillow
        assert not np.array_equal(decode_png(images["named"]["data"]), pixels)
    kept = {r["tag"]: r for r in rows(tmp_path / "r", "boxes")}
    assert array(kept["det"]["boxes"]).tolist() == boxes.tolist()
    assert kept["det"]["labels"] is None and kept["det"]["step"] == 5
    assert json.loads(kept["named"]["labels"]) == ["cat", "dog"]
    assert kept["hwc"]["labels"] is None  # two labels for one box: dropped, as TensorBoard
    assert "bad" not in kept and "bad" not in images


def test_close_while_an_exception_propagates_records_failed(tmp_path):
    w = SummaryWriter(tmp_path / "a")
    with pytest.raises(RuntimeError):
        try:
            w.add_scalar("x", 1.0, 0)
            raise RuntimeError("training_step raised")
        finally:
            w.close()  # as Lightning's and HF's loggers call it on the way out
    assert run_status(tmp_path / "a") == "failed"
    w = SummaryWriter(tmp_path / "b")
    try:
        raise ValueError("caught, then cleaned up")
    except ValueError:
        w.close()
    assert run_status(tmp_path / "b") == "failed"
    w = SummaryWriter(tmp_path / "c")
    w.close()
    assert run_status(tmp_path / "c") == "finished"
    with pytest.raises(KeyboardInterrupt):
        try:
            raise KeyboardInterrupt
        finally:
            SummaryWriter(tmp_path / "d").close()
    assert run_status(tmp_path / "d") == "finished"
    assert [r["value"] for r in rows(tmp_path / "a", "scalars")] == [1.0]
