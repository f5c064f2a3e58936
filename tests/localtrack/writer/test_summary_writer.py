"""SummaryWriter: every kind of data comes back exactly as it was logged."""

from __future__ import annotations

import io
import json
import time
import wave

import numpy as np
import pytest

from localtrack import SummaryWriter
from localtrack._store.layout import MARKER_NAME
from localtrack._store.segments import read_stream
from localtrack._writer.images import decode_png


def rows(run_dir, stream):
    table = read_stream(run_dir, stream)
    return [] if table is None else table.to_pylist()


def test_scalars_come_back_exactly(tmp_path):
    run = tmp_path / "ex3"
    with SummaryWriter(run) as w:
        for step in range(100):
            w.add_scalar("Loss/train", 1.0 / (step + 1), step)
        w.add_scalar("int", 7, 3)
        w.add_scalar("numpy", np.float32(0.25), 4)
        w.add_scalar("walltime", 2.0, 5, walltime=1_700_000_000.5)
        w.add_scalars("run_14h", {"xsinx": 1.0, "xcosx": 2.0}, 6)
    got = rows(run, "scalars")
    loss = [(r["step"], r["value"]) for r in got if r["tag"] == "Loss/train"]
    assert loss == [(s, 1.0 / (s + 1)) for s in range(100)]
    by_tag = {r["tag"]: r for r in got}
    assert by_tag["int"]["value"] == 7.0
    assert by_tag["numpy"]["value"] == 0.25
    assert by_tag["walltime"]["wall_time"].timestamp() == pytest.approx(1_700_000_000.5)
    assert by_tag["run_14h/xsinx"]["value"] == 1.0
    assert by_tag["run_14h/xcosx"]["step"] == 6
    assert {r["run_id"] for r in got} == {json.loads((run / MARKER_NAME).read_text())["run_id"]}
    assert {r["pid"] for r in got} == {__import__("os").getpid()}


@pytest.mark.parametrize(
    "pattern",
    [
        ["a", "b", "c"] * 40 + ["a"],  # a loop's tags in the same order, one step cut short
        ["a", "b", "a", "c"] * 30,  # repeats, but "a" twice per period
        ["x"] * 50 + ["y"] * 50,  # one tag, then another
        [f"t{i % 7}" for i in range(70)] + ["t0", "t2"],
    ],
)
def test_the_tag_of_every_scalar_comes_back(tmp_path, pattern):
    with SummaryWriter(tmp_path / "r") as w:
        for i, tag in enumerate(pattern):
            w.add_scalar(tag, float(i), i)
    got = sorted((r["step"], r["tag"], r["value"]) for r in rows(tmp_path / "r", "scalars"))
    assert got == [(i, tag, float(i)) for i, tag in enumerate(pattern)]


def test_log_dir_defaults_like_tensorboard(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOCALTRACK_DIR", raising=False)
    with SummaryWriter(comment="_lr0.1") as w:
        logdir = w.get_logdir()
    assert logdir.startswith("runs/") and logdir.endswith("_lr0.1")
    assert (tmp_path / logdir / MARKER_NAME).exists()


def test_histogram_counts_every_value(tmp_path):
    values = np.random.default_rng(0).normal(size=10_000).astype(np.float32)
    with SummaryWriter(tmp_path / "r") as w:
        w.add_histogram("weights", values, 3)
        w.add_histogram("numpy_bins", values, 4, bins=10)
        w.add_histogram_raw("raw", 0, 3, 6, 9, 19, [1, 2, 3], [1, 2, 3], global_step=5)
    got = {r["tag"]: r for r in rows(tmp_path / "r", "histograms")}
    h = got["weights"]
    assert h["step"] == 3
    assert sum(h["bucket_counts"]) == 10_000 == h["num"]
    assert h["min"] == pytest.approx(values.min()) and h["max"] == pytest.approx(values.max())
    assert h["sum_squares"] == pytest.approx(float(np.dot(values.astype(np.float64), values)))
    assert len(got["numpy_bins"]["bucket_counts"]) <= 10
    assert got["raw"]["bucket_limits"] == [1, 2, 3] and got["raw"]["num"] == 6


@pytest.mark.parametrize(
    ("shape", "fmt", "to_hwc"),
    [
        ((3, 4, 5), "CHW", lambda a: a.transpose(1, 2, 0)),
        ((4, 5, 3), "HWC", lambda a: a),
        ((4, 5), "HW", lambda a: a[:, :, None]),
        ((5, 4), "WH", lambda a: a.T[:, :, None]),
        ((4, 5, 4), "HWC", lambda a: a),
    ],
)
def test_image_pixels_round_trip(tmp_path, shape, fmt, to_hwc):
    img = np.random.default_rng(1).integers(0, 256, size=shape, dtype=np.uint8)
    with SummaryWriter(tmp_path / "r") as w:
        w.add_image("img", img, 2, dataformats=fmt)
    (row,) = rows(tmp_path / "r", "images")
    expected = to_hwc(img)
    assert (row["height"], row["width"], row["channels"]) == expected.shape
    assert np.array_equal(decode_png(row["data"]), expected)


def test_float_images_scale_to_255_and_batches_tile_as_a_grid(tmp_path):
    batch = np.zeros((16, 3, 10, 10), dtype=np.float32)
    batch[5] = 1.0
    with SummaryWriter(tmp_path / "r") as w:
        w.add_images("batch", batch, 0)
        w.add_images("nhwc", batch.transpose(0, 2, 3, 1), 0, dataformats="NHWC")
    got = {r["tag"]: decode_png(r["data"]) for r in rows(tmp_path / "r", "images")}
    grid = got["batch"]
    assert grid.shape == (20, 80, 3)  # 8 columns x 2 rows of 10x10
    assert grid[0:10, 50:60].min() == 255 and grid[0:10, 0:50].max() == 0
    assert np.array_equal(got["nhwc"], grid)


def test_text_mesh_hparams_pr_audio_video_embedding(tmp_path):
    rng = np.random.default_rng(2)
    vertices = rng.random((1, 4, 3)).astype(np.float32)
    faces = np.array([[[0, 1, 2], [1, 2, 3]]])
    with SummaryWriter(tmp_path / "r") as w:
        w.add_text("notes", "**bold** 🙂", 1)
        w.add_mesh(
            "mesh", vertices, faces=faces, config_dict={"camera": {"fov": 75}}, global_step=2
        )
        w.add_hparams({"lr": 0.1, "bsize": 4, "opt": "adam"}, {"hparam/accuracy": 0.9})
        w.add_pr_curve(
            "pr", np.array([1, 0, 1, 0]), np.array([0.9, 0.1, 0.6, 0.4]), 3, num_thresholds=5
        )
        w.add_audio("sine", np.sin(np.linspace(0, 100, 800)), 4, sample_rate=8000)
        w.add_video("clip", rng.random((2, 3, 3, 4, 4)), 5, fps=2)
        w.add_embedding(rng.random((5, 3)), metadata=list("abcde"), tag="emb", global_step=6)
        w.add_custom_scalars({"Taiwan": {"twse": ["Multiline", ["twse/0050"]]}})
    run = tmp_path / "r"
    assert rows(run, "texts")[0]["text"] == "**bold** 🙂"
    mesh = rows(run, "meshes")[0]
    v = mesh["vertices"]
    assert np.array_equal(np.frombuffer(v["data"], v["dtype"]).reshape(v["shape"]), vertices)
    assert json.loads(mesh["config"]) == {"camera": {"fov": 75}}
    hp = rows(run, "hparams")[0]
    assert json.loads(hp["hparams"]) == {"lr": 0.1, "bsize": 4, "opt": "adam"}
    assert json.loads(hp["metrics"]) == {"hparam/accuracy": 0.9}
    assert [r["value"] for r in rows(run, "scalars") if r["tag"] == "hparam/accuracy"] == [0.9]
    pr = rows(run, "pr_curves")[0]
    assert pr["tp"][0] == 2 and pr["fp"][0] == 2 and pr["tp"][-1] == 0
    assert pr["precision"][2] == pytest.approx(1.0)  # threshold 0.5: predictions 0.9, 0.6
    audio = rows(run, "audio")[0]
    with wave.open(io.BytesIO(audio["data"])) as wav:
        assert (wav.getframerate(), wav.getnframes(), wav.getnchannels()) == (8000, 800, 1)
    frames = rows(run, "video")[0]["frames"]
    assert frames["shape"] == [3, 4, 8, 3] and rows(run, "video")[0]["fps"] == 2
    emb = rows(run, "embeddings")[0]
    assert emb["mat"]["shape"] == [5, 3] and json.loads(emb["metadata"]) == list("abcde")
    layouts = [r for r in rows(run, "events") if r["kind"] == "layout"]
    assert json.loads(layouts[0]["payload"])["Taiwan"]["twse"][1] == ["twse/0050"]


def test_figure_is_rendered(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(2, 1), dpi=50)
    with SummaryWriter(tmp_path / "r") as w:
        w.add_figure("fig", fig, 1)
    (row,) = rows(tmp_path / "r", "images")
    assert (row["width"], row["height"], row["channels"]) == (100, 50, 4)


def test_graph_of_a_torch_model(tmp_path):
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    with SummaryWriter(tmp_path / "r") as w:
        w.add_graph(model, torch.zeros(2, 4))
    (row,) = rows(tmp_path / "r", "graphs")
    ops = [n["op"] for n in json.loads(row["graph"])["nodes"]]
    assert ops.count("aten::linear") == 2 and "aten::relu" in ops


def test_torch_tensors_on_cpu(tmp_path):
    torch = pytest.importorskip("torch")
    with SummaryWriter(tmp_path / "r") as w:
        w.add_scalar("t", torch.tensor(0.5), torch.tensor(3))
        w.add_histogram("h", torch.arange(10.0), 1)
        w.add_image("i", torch.ones(1, 2, 2), 1)
    assert [(r["value"], r["step"]) for r in rows(tmp_path / "r", "scalars")] == [(0.5, 3)]
    assert rows(tmp_path / "r", "histograms")[0]["num"] == 10
    assert decode_png(rows(tmp_path / "r", "images")[0]["data"]).min() == 255


def test_several_writers_on_one_directory_are_one_run(tmp_path):
    a = SummaryWriter(tmp_path / "r")
    b = SummaryWriter(tmp_path / "r")
    a.add_scalar("x", 1.0, 0)
    b.add_scalar("x", 2.0, 0)
    a.close()
    b.close()
    got = rows(tmp_path / "r", "scalars")
    assert sorted(r["value"] for r in got) == [1.0, 2.0]
    assert len({r["run_id"] for r in got}) == 1 and len({r["writer"] for r in got}) == 2


def test_flush_makes_rows_readable_while_open(tmp_path):
    w = SummaryWriter(tmp_path / "r", flush_secs=60)
    w.add_scalar("x", 1.0, 0)
    w.flush()
    assert [r["value"] for r in rows(tmp_path / "r", "scalars")] == [1.0]
    w.close()


def test_compaction_keeps_every_row_once(tmp_path):
    w = SummaryWriter(tmp_path / "r", flush_secs=60)
    for i in range(40):
        w.add_scalar("x", float(i), i)
        w.flush()
    # The writer merges on its own thread, never holding up a flush; give it the time a loaded
    # machine may take to schedule it (close() cancels a merge not begun).
    folder = tmp_path / "r" / "scalars"
    deadline = time.monotonic() + 60
    while len(list(folder.glob("*.parquet"))) >= 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    w.close()
    files = sorted(p.name for p in folder.glob("*.parquet"))
    assert len(files) < 40  # 16 fresh segments were merged, twice
    assert [r["step"] for r in rows(tmp_path / "r", "scalars")] == list(range(40))
