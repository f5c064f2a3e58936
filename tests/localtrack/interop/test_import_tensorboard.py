"""`localtrack import tensorboard` on logs written by torch's own SummaryWriter.

Every value comes back as it was logged, and as TensorBoard's own EventAccumulator (with no
sampling, size_guidance=0) reads the same files.
"""

from __future__ import annotations

import io
import json
import math
import wave

import numpy as np
import pytest
from tb_logs import T0, write_every_method

import localtrack
from localtrack._cli.main import main

pytest.importorskip("torch")
pytest.importorskip("tensorboard")


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    base = tmp_path_factory.mktemp("tb")
    logged = write_every_method(base / "logs")
    root = base / "runs"
    assert main(["import", "tensorboard", str(base / "logs"), "--root", str(root), "-q"]) == 0
    return base / "logs", root, logged


def rows(root, query):
    return localtrack.sql(query, root=root).arrow().to_pylist()


def micros(seconds):
    return round(seconds * 1e6)


def wall_us(row):
    import datetime as dt

    t = row["wall_time"].replace(tzinfo=dt.timezone.utc)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (t - epoch) // dt.timedelta(microseconds=1)


def test_runs_are_named_as_tensorboard_names_them(imported):
    _, root, _ = imported
    got = rows(root, "SELECT project, name FROM runs ORDER BY name")
    names = [r["name"] for r in got]
    assert names == ["exp", "exp/group_a", "exp/group_b", "exp/trial"]
    assert {r["project"] for r in got} == {"tensorboard"}


def test_scalars_value_for_value(imported):
    _, root, logged = imported
    got = rows(
        root,
        "SELECT tag, step, wall_time, value FROM scalars s JOIN runs USING (run_id) "
        "WHERE runs.name = 'exp' ORDER BY wall_time",
    )
    want = logged["scalars"]
    assert [(r["tag"], r["step"]) for r in got] == [(t, s) for t, s, _, _ in want]
    for r, (_, _, wall, value) in zip(got, want, strict=True):
        assert wall_us(r) == micros(wall)
        f32 = float(np.float32(value)) if r["tag"] != "double" else value
        assert r["value"] == f32 or (math.isnan(r["value"]) and math.isnan(value))
    subs = rows(
        root,
        "SELECT name, tag, value FROM scalars JOIN runs USING (run_id) "
        "WHERE name LIKE 'exp/group_%' ORDER BY name",
    )
    assert subs == [
        {"name": "exp/group_a", "tag": "group", "value": 1.0},
        {"name": "exp/group_b", "tag": "group", "value": 2.0},
    ]


def test_histograms_images_text_audio(imported):
    _, root, logged = imported
    hist = rows(root, "SELECT * FROM histograms ORDER BY tag")
    assert [h["tag"] for h in hist] == ["raw_hist", "weights"]
    raw, weights = hist
    assert raw["bucket_limits"] == [1.0, 2.0, 3.0] and raw["bucket_counts"] == [1.0, 2.0, 3.0]
    assert (raw["min"], raw["max"], raw["num"], raw["sum"]) == (0.0, 3.0, 6.0, 9.0)
    values = logged["histograms"]["weights"]
    assert weights["num"] == len(values) and sum(weights["bucket_counts"]) == len(values)
    assert weights["min"] == pytest.approx(values.min())
    images = {r["tag"]: r for r in rows(root, "SELECT * FROM images")}
    assert set(images) == {"image", "batch", "figure", "boxes"}
    assert (images["image"]["width"], images["image"]["height"]) == (10, 8)
    assert all(r["format"] == "png" and r["data"].startswith(b"\x89PNG") for r in images.values())
    texts = rows(root, "SELECT tag, text FROM texts")
    assert texts == [{"tag": "note/text_summary", "text": "hello **markdown**"}]
    (audio,) = rows(root, "SELECT * FROM audio")
    assert (audio["sample_rate"], audio["num_samples"], audio["channels"]) == (8000, 800, 1)
    with wave.open(io.BytesIO(audio["data"])) as wav:
        pcm = np.frombuffer(wav.readframes(800), "<i2")
    assert np.array_equal(pcm, (logged["audio"] * 32767).astype("<i2"))


def test_pr_curves_meshes_hparams_graph_embedding_layout(imported):
    _, root, logged = imported
    pr = {r["tag"]: r for r in rows(root, "SELECT * FROM pr_curves")}
    assert pr["pr_raw"]["tp"] == [5.0, 3.0, 1.0] and pr["pr_raw"]["num_thresholds"] == 3
    labels, _ = logged["pr"]
    assert pr["pr"]["num_thresholds"] == 11 and pr["pr"]["tp"][0] == labels.sum()
    (mesh,) = rows(root, "SELECT * FROM meshes")
    vertices, colors, faces = logged["mesh"]
    v = mesh["vertices"]
    assert np.array_equal(np.frombuffer(v["data"], v["dtype"]).reshape(v["shape"]), vertices)
    f = mesh["faces"]
    assert np.array_equal(np.frombuffer(f["data"], f["dtype"]).reshape(f["shape"]), faces)
    c = mesh["colors"]
    assert np.array_equal(np.frombuffer(c["data"], c["dtype"]).reshape(c["shape"]), colors)
    assert json.loads(mesh["config"]) == {"camera": {"fov": 75}}
    (hp,) = rows(root, "SELECT * FROM hparams")
    # torch's hparams() stores a bool as a number (it tests isinstance(v, int) first)
    assert json.loads(hp["hparams"]) == {"lr": 0.1, "opt": "adam", "bn": 1.0}
    assert json.loads(hp["metrics"]) == {"hp/acc": 0.75}
    config = rows(root, "SELECT key, value FROM config ORDER BY key")
    assert config == [
        {"key": "bn", "value": "1.0"},
        {"key": "lr", "value": "0.1"},
        {"key": "opt", "value": '"adam"'},
    ]
    (graph,) = rows(root, "SELECT * FROM graphs")
    assert graph["format"] == "tensorboard-graphdef"
    ops = {n["op"] for n in json.loads(graph["graph"])["nodes"]}
    assert "aten::linear" in ops or "aten::addmm" in ops, ops
    (emb,) = rows(root, "SELECT * FROM embeddings")
    mat, metadata, label_img = logged["embedding"]
    m = emb["mat"]
    assert (emb["tag"], emb["step"]) == ("emb", 3)
    assert np.array_equal(np.frombuffer(m["data"], m["dtype"]).reshape(m["shape"]), mat)
    assert json.loads(emb["metadata"]) == metadata
    li = emb["label_img"]
    got_img = np.frombuffer(li["data"], li["dtype"]).reshape(li["shape"])
    assert np.abs(got_img - label_img).max() <= 1 / 255 + 1e-6  # the sprite holds 8-bit RGB
    layout = rows(root, "SELECT payload FROM events WHERE kind = 'layout'")
    assert json.loads(layout[0]["payload"]) == {
        "cat": {"losses": ["Multiline", ["Loss/train", "new_style"]]}
    }


def test_same_points_as_event_accumulator_without_sampling(imported):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logs, root, _ = imported
    acc = EventAccumulator(str(logs / "exp"), size_guidance={k: 0 for k in ("scalars", "histograms", "images", "audio", "tensors")})  # fmt: skip
    acc.Reload()
    got = rows(
        root,
        "SELECT tag, step, wall_time, value FROM scalars JOIN runs USING (run_id) "
        "WHERE name = 'exp'",
    )
    by_tag: dict[str, list] = {}
    for r in got:
        by_tag.setdefault(r["tag"], []).append((r["step"], wall_us(r), r["value"]))
    old_style = acc.Tags()["scalars"]
    for tag in old_style:
        want = [(e.step, micros(e.wall_time), e.value) for e in acc.Scalars(tag)]
        assert _same(sorted(by_tag[tag]), sorted(want)), tag
    for tag in ("new_style", "double"):  # new-style scalars are tensors to EventAccumulator
        (e,) = acc.Tensors(tag)
        value = float(np.asarray(e.tensor_proto.float_val or e.tensor_proto.double_val)[0])
        assert by_tag[tag] == [(e.step, micros(e.wall_time), value)]
    for tag in acc.Tags()["histograms"]:
        (e,) = acc.Histograms(tag)
        (h,) = rows(root, f"SELECT * FROM histograms WHERE tag = '{tag}'")
        assert h["bucket_limits"] == list(e.histogram_value.bucket_limit)
        assert h["bucket_counts"] == list(e.histogram_value.bucket)
        assert (h["step"], wall_us(h)) == (e.step, micros(e.wall_time))
    for tag in acc.Tags()["images"]:
        (e,) = acc.Images(tag)
        (img,) = rows(root, f"SELECT * FROM images WHERE tag = '{tag}'")
        assert img["data"] == e.encoded_image_string and img["width"] == e.width
    (e,) = acc.Audio("audio")
    assert rows(root, "SELECT data FROM audio")[0]["data"] == e.encoded_audio_string


def _same(a, b):
    return len(a) == len(b) and all(
        x[:2] == y[:2] and (x[2] == y[2] or (math.isnan(x[2]) and math.isnan(y[2])))
        for x, y in zip(a, b, strict=True)
    )


def test_no_sampling_beyond_ten_thousand_points(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path / "logs" / "long")) as w:
        for step in range(12_000):
            w.add_scalar("x", step * 0.5, step, walltime=T0 + step)
    root = tmp_path / "runs"
    assert main(["import", "tensorboard", str(tmp_path / "logs"), "--root", str(root), "-q"]) == 0
    got = rows(root, "SELECT step, value FROM scalars ORDER BY step")
    assert [(r["step"], r["value"]) for r in got] == [(s, s * 0.5) for s in range(12_000)]
    sampled = EventAccumulator(str(tmp_path / "logs" / "long"))
    sampled.Reload()
    assert len(sampled.Scalars("x")) == 10_000  # TensorBoard's default reservoir
    full = EventAccumulator(str(tmp_path / "logs" / "long"), size_guidance={"scalars": 0})
    full.Reload()
    assert [(e.step, e.value) for e in full.Scalars("x")] == [(r["step"], r["value"]) for r in got]
