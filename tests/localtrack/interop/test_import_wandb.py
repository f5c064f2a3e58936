"""`localtrack import wandb` of a run the real wandb package logged offline (wandb_logs.py).

Every value comes back as logged: history scalars with their steps and `_timestamp`s, the
image's file and caption, the histogram's bins and counts, config, summary and the run's
metadata; a re-import adds nothing, and a log read while cut short then read whole gives the
same rows once.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import localtrack
from localtrack._cli.main import main

pytest.importorskip("wandb")

HERE = Path(__file__).parent


def _env(base):
    return {
        **os.environ,
        "WANDB_MODE": "offline",
        "WANDB_DIR": str(base),
        "WANDB_SILENT": "true",
        "WANDB_DISABLE_GIT": "true",
        "WANDB_CONSOLE": "off",
    }


@pytest.fixture(scope="module")
def wandb_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("wandb")
    env = _env(base)
    script = HERE / "wandb_logs.py"
    subprocess.run([sys.executable, str(script), str(base)], env=env, check=True, timeout=300)
    logged = json.loads((base / "logged.json").read_text())
    (log,) = (base / "wandb").glob("offline-run-*/run-*.wandb")
    return base, log, logged


@pytest.fixture(scope="module")
def imported(wandb_run, tmp_path_factory):
    base, _, logged = wandb_run
    root = tmp_path_factory.mktemp("runs")
    assert main(["import", "wandb", str(base / "wandb"), "--root", str(root), "-q"]) == 0
    return root, logged


def rows(root, query):
    return localtrack.sql(query, root=root).arrow().to_pylist()


def seconds(t):
    import datetime as dt

    return (t - dt.datetime(1970, 1, 1)).total_seconds()


def test_history_scalars_value_for_value(imported):
    root, logged = imported
    got = rows(
        root, "SELECT tag, step, wall_time, value FROM scalars WHERE tag NOT LIKE 'system/%'"
    )
    by = {(r["tag"], r["step"]): r for r in got}
    want = {}
    for r in logged["rows"]:
        s = r["step"]
        want |= {("loss", s): 1 / (s + 1), ("acc", s): s / 10, ("nested/x", s): float(s * 2)}
    want[("loss", 10)] = 0.05
    assert {k: r["value"] for k, r in by.items()} == want
    for r in logged["rows"]:  # `_timestamp`: when wandb took the row, within the log() call
        for tag in ("loss", "acc", "nested/x"):
            assert r["before"] - 1e-6 <= seconds(by[(tag, r["step"])]["wall_time"]) <= r["after"]
    walls = [seconds(by[("loss", s)]["wall_time"]) for s in (*range(6), 10)]
    assert walls == sorted(walls)


def test_image_and_histogram(wandb_run, imported):
    from PIL import Image

    _, log, _ = wandb_run
    root, logged = imported
    (img,) = rows(root, "SELECT * FROM images")
    assert (img["tag"], img["step"], img["caption"]) == ("img", 6, "a cat")
    assert (img["width"], img["height"], img["channels"], img["format"]) == (10, 8, 3, "png")
    (media,) = (log.parent / "files" / "media" / "images").glob("img_*.png")
    assert img["data"] == media.read_bytes()
    pixels = np.asarray(Image.open(io.BytesIO(img["data"])).convert("RGB"))
    assert np.array_equal(pixels, np.array(logged["pixels"], np.uint8))
    step6 = logged["media"]
    assert step6["before"] - 1e-6 <= seconds(img["wall_time"]) <= step6["after"]
    (h,) = rows(root, "SELECT * FROM histograms")
    counts, edges = np.histogram(np.array(logged["weights"]), bins=64)  # wandb.Histogram's
    assert h["bucket_counts"] == counts.astype(float).tolist()
    assert h["bucket_limits"] == pytest.approx(edges[1:].tolist(), rel=0, abs=1e-12)
    assert (h["min"], h["num"]) == (pytest.approx(edges[0]), 200.0)


def test_config_summary_and_metadata(imported):
    root, logged = imported
    config = {r["key"]: json.loads(r["value"]) for r in rows(root, "SELECT * FROM config")}
    assert config == {"lr": 0.01, "net/depth": 4, "net/act": "relu", "opt": "adam", "batch": 32}
    summary = {r["key"]: json.loads(r["value"]) for r in rows(root, "SELECT * FROM summary")}
    assert summary["best"] == 0.9 and summary["loss"] == 0.05 and summary["acc"] == 0.5
    assert not any(k.startswith("_") or k.startswith("img") for k in summary)
    (run,) = rows(root, "SELECT run_id, project, name FROM runs")
    assert run == {"run_id": logged["run_id"], "project": "wbproj", "name": "trial-1"}
    (start,) = rows(root, "SELECT payload, wall_time FROM events WHERE kind = 'start'")
    meta = json.loads(start["payload"])
    assert meta["tags"] == ["baseline", "seed3"] and meta["notes"] == "first try"
    assert (meta["group"], meta["job_type"]) == ("sweep-a", "train")
    assert meta["program"].endswith("wandb_logs.py") and meta["host"]
    assert meta["imported_from"] == "wandb" and meta["wandb_run_id"] == logged["run_id"]
    assert seconds(start["wall_time"]) <= logged["rows"][0]["before"]
    (finish,) = rows(root, "SELECT status, exit_code FROM events WHERE kind = 'finish'")
    assert finish == {"status": "finished", "exit_code": 0}


def test_reimport_adds_nothing(wandb_run, imported, capsys):
    base, _, _ = wandb_run
    root, _ = imported
    before = rows(root, "SELECT count(*) AS n FROM scalars")
    assert main(["import", "wandb", str(base / "wandb"), "--root", str(root), "-q"]) == 0
    assert "nothing new" in capsys.readouterr().err
    assert rows(root, "SELECT count(*) AS n FROM scalars") == before


def test_a_log_cut_short_then_whole_is_imported_once(wandb_run, imported, tmp_path):
    _, log, _ = wandb_run
    full_root, _ = imported
    folder = tmp_path / "wandb" / log.parent.name
    shutil.copytree(log.parent, folder)
    copy = folder / log.name
    data = log.read_bytes()
    copy.write_bytes(data[: len(data) // 2 + 3])  # mid-record: a run still writing
    root = tmp_path / "runs"
    assert main(["import", "wandb", str(tmp_path / "wandb"), "--root", str(root), "-q"]) == 0
    partial = rows(root, "SELECT count(*) AS n FROM scalars")[0]["n"]
    copy.write_bytes(data)
    assert main(["import", "wandb", str(tmp_path / "wandb"), "--root", str(root), "-q"]) == 0
    query = "SELECT tag, step, wall_time, value FROM scalars ORDER BY tag, step"
    assert 0 < partial < len(rows(root, query))
    assert rows(root, query) == rows(full_root, query)


def test_says_how_to_install_wandb(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "wandb.proto.wandb_internal_pb2", None)
    assert main(["import", "wandb", str(tmp_path), "--root", str(tmp_path / "r")]) == 1
    assert "pip install 'localtrack[wandb]'" in capsys.readouterr().err


def test_a_resumed_run_is_one_run(wandb_run, tmp_path):
    _, log, logged = wandb_run
    copy = tmp_path / "wandb"
    shutil.copytree(log.parent, copy / log.parent.name)
    env = {**_env(tmp_path), "WANDB_DIR": str(tmp_path / "resume")}
    (tmp_path / "resume").mkdir()
    script = HERE / "wandb_logs.py"
    subprocess.run([sys.executable, str(script), str(tmp_path), logged["run_id"]], env=env, check=True, timeout=300)  # fmt: skip
    (second,) = (tmp_path / "resume" / "wandb").glob("offline-run-*")
    shutil.copytree(second, copy / second.name)
    root = tmp_path / "runs"
    assert main(["import", "wandb", str(copy), "--root", str(root), "-q"]) == 0
    assert len(rows(root, "SELECT run_id FROM runs")) == 1
    loss = rows(root, "SELECT step, value FROM scalars WHERE tag = 'loss' ORDER BY step")
    assert [r["step"] for r in loss] == [0, 1, 2, 3, 4, 5, 10, 100, 101]
    assert [r["value"] for r in loss][-2:] == [0.1, 0.101]
    assert len(rows(root, "SELECT * FROM events WHERE kind = 'start'")) == 2
