"""`localtrack export --format tensorboard`, then `localtrack import tensorboard` of the export.

Runs logged with localtrack's own SummaryWriter (every method) and W&B-style API (config,
summary) come back row for row across every stream, and TensorBoard's own EventAccumulator
reads the exported scalars, histograms and images exactly as the store holds them.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

import localtrack
from localtrack._cli.main import main
from localtrack._store.schema import STREAMS

pytest.importorskip("torch")
pytest.importorskip("tensorboard")

T0 = 1_700_000_000.123457
WRITER_COLUMNS = {"run_id", "writer", "seq", "rank", "host", "pid"}


def log_every_method(root):
    import torch

    rng = np.random.default_rng(1)
    w = localtrack.SummaryWriter(str(root / "tbproj" / "exp"))
    for step in range(30):
        w.add_scalar("loss/train", 1.0 / (step + 1), step, walltime=T0 + step * 0.001)
    w.add_scalar("exact", 1 / 3, 2, walltime=T0 + 1)  # float64, not rounded to float32
    w.add_scalar("nan", math.nan, 3, walltime=T0 + 1)
    w.add_scalar("big_step", -math.inf, 2**40, walltime=T0 + 2)
    w.add_scalars("group", {"a": 1.0, "b": 2.5}, 6, walltime=T0 + 3)
    w.add_histogram("weights", rng.normal(size=500), 1, walltime=T0 + 4)
    w.add_histogram_raw("raw", 0.0, 3.0, 6, 9.0, 17.0, [1, 2, 3], [1, 2, 3], 2, walltime=T0 + 5)
    w.add_image("image", rng.random((3, 8, 10)), 1, walltime=T0 + 6)
    w.add_images("batch", rng.random((4, 3, 6, 6)), 2, walltime=T0 + 7)
    w.add_text("note", "hello **markdown**", 1, walltime=T0 + 8)
    w.add_pr_curve("pr", rng.integers(0, 2, 80), rng.random(80), 1, num_thresholds=11, walltime=T0 + 9)  # fmt: skip
    w.add_audio("audio", np.sin(np.linspace(0, 50, 400)) * 0.5, 1, sample_rate=8000, walltime=T0 + 10)  # fmt: skip
    faces = np.array([[[0, 1, 2], [1, 2, 3]]])
    colors = rng.integers(0, 255, (1, 4, 3))
    w.add_mesh("mesh", rng.random((1, 4, 3)), colors, faces, {"camera": {"fov": 75}}, 1, walltime=T0 + 11)  # fmt: skip
    w.add_video("video", rng.random((1, 2, 3, 4, 4)), 1, fps=2, walltime=T0 + 12)
    w.add_tensor("tensor", torch.arange(6, dtype=torch.int32).reshape(2, 3), 1, walltime=T0 + 13)
    w.add_custom_scalars({"cat": {"losses": ["Multiline", ["loss/train", "exact"]]}})
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w.add_graph(model, torch.zeros(1, 3))
    w.add_embedding(
        rng.random((5, 4)).astype(np.float32),
        metadata=list("abcde"),
        label_img=torch.rand(5, 3, 4, 4),
        global_step=3,
        tag="emb",
    )
    w.add_hparams({"lr": 0.1, "opt": "adam", "layers": 3}, {"hp/acc": 0.75}, run_name="trial")
    w.close()
    run = localtrack.init(
        project="wbproj", name="wb", config={"lr": 0.01, "net": {"depth": 4}}, dir=str(root),
        system_metrics=False,
    )  # fmt: skip
    for step in range(5):
        run.log({"acc": step / 10, "loss": 1 - step / 10}, step=step)
    pixels = (rng.random((6, 5, 3)) * 255).astype(np.uint8)
    run.log({"sample": localtrack.Image(pixels, caption="a cat"), "w": localtrack.Histogram(rng.random(50))}, step=5)  # fmt: skip
    run.summary["best"] = 0.4
    run.finish()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    base = tmp_path_factory.mktemp("export")
    src, tb, back = base / "src", base / "tb", base / "back"
    log_every_method(src)
    args = ["export", "exp", "wb", "--format", "tensorboard", "--out", str(tb), "--root", str(src)]
    assert main(args) == 0
    assert main(["import", "tensorboard", str(tb), "--root", str(back), "-q"]) == 0
    return src, tb, back


def table(root, stream, name):
    query = f"SELECT s.* FROM {stream} s JOIN runs USING (run_id) WHERE runs.name = '{name}'"
    rows = localtrack.sql(query, root=root).arrow().to_pylist()
    rows = [{k: v for k, v in r.items() if k not in WRITER_COLUMNS} for r in rows]
    return sorted(rows, key=repr)


def same(a, b):
    """Equal, NaN equal to NaN (a scalar logged as NaN)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(map(same, a, b))
    return a == b


def test_every_stream_row_for_row(exported):
    src, _, back = exported
    for name in ("exp", "wb"):
        for stream in STREAMS:
            before, after = table(src, stream, name), table(back, stream, name)
            if stream == "events":  # the start payload also says where it was imported from
                for row in after:
                    if row["kind"] == "start":
                        payload = json.loads(row["payload"])
                        assert payload.pop("imported_from") == "tensorboard"
                        assert payload.pop("source").endswith(".localtrack")
                        row["payload"] = json.dumps(payload)
                for row in before:
                    if row["kind"] == "start":
                        row["payload"] = json.dumps(json.loads(row["payload"]))
            assert len(before) == len(after), (name, stream)
            for x, y in zip(before, after, strict=True):
                assert same(x, y), (name, stream, x, y)
    counts = {s: len(table(src, s, "exp")) for s in STREAMS}
    for stream in ("scalars", "histograms", "images", "texts", "hparams", "pr_curves", "audio",
                   "meshes", "graphs", "embeddings", "video", "tensors"):  # fmt: skip
        assert counts[stream] > 0, stream
    assert len(table(src, "config", "wb")) and len(table(src, "summary", "wb"))
    assert [r["caption"] for r in table(src, "images", "wb")] == ["a cat"]


def test_re_import_of_the_export_adds_nothing(exported):
    _, tb, back = exported
    before = localtrack.sql("SELECT count(*) AS n FROM scalars", root=back).arrow().to_pylist()
    assert main(["import", "tensorboard", str(tb), "--root", str(back), "-q"]) == 0
    after = localtrack.sql("SELECT count(*) AS n FROM scalars", root=back).arrow().to_pylist()
    assert before == after


def test_tensorboard_reads_the_export_exactly(exported):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    src, tb, _ = exported
    assert sorted(p.name for p in tb.iterdir()) == ["exp", "wb"]  # no timestamped sub-runs
    kinds = ("scalars", "histograms", "images", "audio", "tensors")
    acc = EventAccumulator(str(tb / "exp"), size_guidance=dict.fromkeys(kinds, 0))
    acc.Reload()
    scalars = table(src, "scalars", "exp")
    assert len(scalars) > 0
    for tag in {r["tag"] for r in scalars}:
        want = [(r["step"], micros(r["wall_time"]), r["value"]) for r in scalars if r["tag"] == tag]
        got = [
            (e.step, round(e.wall_time * 1e6), e.tensor_proto.double_val[0])
            for e in acc.Tensors(tag)
        ]
        assert len(got) == len(want) and all(map(same, sorted(got), sorted(want))), tag
    for h in table(src, "histograms", "exp"):
        (e,) = acc.Histograms(h["tag"])
        assert list(e.histogram_value.bucket_limit) == h["bucket_limits"]
        assert list(e.histogram_value.bucket) == h["bucket_counts"]
        assert (e.step, round(e.wall_time * 1e6)) == (h["step"], micros(h["wall_time"]))
        assert (e.histogram_value.min, e.histogram_value.num) == (h["min"], h["num"])
    for img in table(src, "images", "exp"):
        (e,) = acc.Images(img["tag"])
        assert e.encoded_image_string == img["data"]
        assert (e.width, e.height, e.step) == (img["width"], img["height"], img["step"])
    (hp,) = table(src, "hparams", "exp")
    content = acc.PluginTagToContent("hparams")
    assert set(content) >= {"_hparams_/experiment", "_hparams_/session_start_info"}
    from tensorboard.plugins.hparams import metadata

    start = metadata.parse_session_start_info_plugin_data(content["_hparams_/session_start_info"])
    assert start.group_name == "trial"
    assert {k: v.WhichOneof("kind") for k, v in start.hparams.items()} == {
        "lr": "number_value", "opt": "string_value", "layers": "number_value"
    }  # fmt: skip
    assert json.loads(hp["hparams"]) == {"lr": 0.1, "opt": "adam", "layers": 3}
    assert acc.Graph() is not None and len(acc.Graph().node) > 0


def micros(t):
    import datetime as dt

    epoch = dt.datetime(1970, 1, 1)
    return (t - epoch) // dt.timedelta(microseconds=1)


def test_export_again_replaces_its_files_and_refuses_foreign_ones(exported, tmp_path):
    src, _, _ = exported
    out = tmp_path / "tb"
    args = ["export", "exp", "--format", "tensorboard", "--out", str(out), "--root", str(src)]
    assert main(args) == 0
    first = sorted(p.name for p in (out / "exp").iterdir() if "tfevents" in p.name)
    assert main(args) == 0
    assert sorted(p.name for p in (out / "exp").iterdir() if "tfevents" in p.name) == first
    (out / "exp" / "events.out.tfevents.1.other").write_bytes(b"")
    assert main(args) == 1


def test_several_runs_only_for_tensorboard(exported, capsys):
    src, _, _ = exported
    assert main(["export", "exp", "wb", "--format", "csv", "--root", str(src)]) == 1
    assert "exports one run" in capsys.readouterr().err


def test_says_how_to_install_tensorboard(exported, tmp_path, monkeypatch, capsys):
    import sys

    from localtrack._interop import tb_summaries

    src, _, _ = exported
    tb_summaries.load.cache_clear()
    monkeypatch.setitem(sys.modules, "tensorboard.compat.proto.event_pb2", None)
    try:
        args = ["export", "exp", "--format", "tensorboard", "--out", str(tmp_path / "x"),
                "--root", str(src)]  # fmt: skip
        assert main(args) == 1
    finally:
        tb_summaries.load.cache_clear()
    assert "pip install 'localtrack[tensorboard]'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_a_resumed_run_keeps_its_writers_and_purge(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    src, tb, back = tmp_path / "src", tmp_path / "tb", tmp_path / "back"
    with localtrack.SummaryWriter(str(src / "p" / "resumed")) as w:
        for step in range(10):
            w.add_scalar("x", float(step), step, walltime=T0 + step)
    with localtrack.SummaryWriter(str(src / "p" / "resumed"), purge_step=5) as w:
        for step in range(5, 8):
            w.add_scalar("x", step * 10.0, step, walltime=T0 + 100 + step)
    args = ["export", "resumed", "--format", "tensorboard", "--out", str(tb), "--root", str(src)]
    assert main(args) == 0
    assert len([p for p in (tb / "resumed").iterdir() if "tfevents" in p.name]) == 2
    assert main(["import", "tensorboard", str(tb), "--root", str(back), "-q"]) == 0
    want = [(s, float(s)) for s in range(5)] + [(s, s * 10.0) for s in range(5, 8)]
    for root in (src, back):
        got = table(root, "scalars", "resumed")
        assert sorted((r["step"], r["value"]) for r in got) == want
        kinds = sorted(r["kind"] for r in table(root, "events", "resumed"))
        assert kinds == ["finish", "finish", "purge", "start", "start"]
    assert table(src, "events", "resumed")[0]["wall_time"] == table(back, "events", "resumed")[0]["wall_time"]  # fmt: skip
    acc = EventAccumulator(str(tb / "resumed"), size_guidance={"tensors": 0})
    acc.Reload()  # TensorBoard applies the purge as well: the same eight points
    assert sorted((e.step, e.tensor_proto.double_val[0]) for e in acc.Tensors("x")) == want
