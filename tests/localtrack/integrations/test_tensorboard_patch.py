"""patch_tensorboard(): the frameworks' stock TensorBoard paths log into the store, in a child
interpreter where the `tensorboard` package cannot be found (tb_child.py hides it); and the
SummaryWriter internals those frameworks reach into (_get_file_writer, file_writer,
all_writers, logdir=), decoding real Summary protos."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import localtrack
from localtrack._store.runs import run_status
from localtrack._store.segments import read_stream
from localtrack.integrations.tensorboard_patch import TensorBoardWriter

CHILD = Path(__file__).with_name("tb_child.py")


def rows(run_dir: Path | str, stream: str) -> list[dict]:
    table = read_stream(Path(run_dir), stream)
    return [] if table is None else table.to_pylist()


def tags_steps(run_dir) -> set[tuple[str, int]]:
    return {(r["tag"], r["step"]) for r in rows(run_dir, "scalars")}


def run_child(root: Path, *flags: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(CHILD), str(root), *flags], capture_output=True, text=True, timeout=400
    )
    assert done.returncode == 0, done.stderr[-4000:]
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("REPORT ")]
    return json.loads(line[len("REPORT ") :])


@pytest.fixture(scope="module")
def frameworks(tmp_path_factory) -> dict:
    """One child runs Lightning's TensorBoardLogger, HF's report_to="tensorboard" and
    Accelerate's log_with="tensorboard", all patched, without the tensorboard package."""
    pytest.importorskip("lightning")
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    return run_child(tmp_path_factory.mktemp("tb"))


def test_tensorboard_itself_was_never_imported(frameworks):
    assert frameworks["tensorboard_imported"] == []
    assert frameworks["torch_tb_is_stand_in"] is True


def test_lightning_tensorboard_logger(frameworks):
    log_dir = frameworks["lightning"]["log_dir"]
    assert frameworks["lightning"]["writer"] == "TensorBoardWriter"
    assert log_dir.endswith("tb/version_0")
    got = tags_steps(log_dir)
    assert {("train_loss", 0), ("train_loss", 1), ("epoch", 0), ("test_loss", 2)} <= got
    assert ("hp_metric", 0) in got  # Lightning's default hp_metric, written with the hparams
    # save_hyperparameters() → log_hyperparams → _get_file_writer().add_summary(hparams protos)
    (first, *_) = rows(log_dir, "hparams")
    assert json.loads(first["hparams"]) == {"lr": 0.1, "width": 4.0}
    assert json.loads(first["metrics"]) == {"hp_metric": None}
    config = {r["key"]: json.loads(r["value"]) for r in rows(log_dir, "config")}
    assert config == {"lr": 0.1, "width": 4.0}
    assert rows(log_dir, "events") and run_status(Path(log_dir)) == "finished"


def test_hf_report_to_tensorboard(frameworks):
    log_dir = frameworks["hf"]["log_dir"]
    got = tags_steps(log_dir)
    assert {("train/loss", 1), ("train/loss", 2), ("eval/loss", 2), ("train/train_loss", 2)} <= got
    assert {r["tag"] for r in rows(log_dir, "texts")} == {"args", "model_config"}
    assert run_status(Path(log_dir)) == "finished"


def test_hf_report_to_tensorboard_with_neither_tensorboard_nor_tensorboardx(tmp_path):
    """HF asks importlib.util.find_spec; the stand-ins answer it. (Lightning and Accelerate
    check package metadata instead, so they need tensorboardX installed: see the docs.)"""
    pytest.importorskip("transformers")
    report = run_child(tmp_path, "--hide-tensorboardX")
    assert report["tensorboard_imported"] == []
    got = tags_steps(report["hf"]["log_dir"])
    assert {("train/loss", 1), ("train/loss", 2), ("eval/loss", 2)} <= got


def test_accelerate_log_with_tensorboard(frameworks):
    log_dir = frameworks["accelerate"]["log_dir"]
    assert sorted((r["tag"], r["step"], r["value"]) for r in rows(log_dir, "scalars")) == [
        ("loss", 0, 1.0),
        ("loss", 1, 0.5),
        ("loss", 2, 1 / 3),
    ]
    assert [json.loads(r["hparams"]) for r in rows(log_dir, "hparams")] == [
        {"lr": 0.5, "opt": "sgd"}
    ]
    assert sorted((r["step"], r["text"]) for r in rows(log_dir, "texts")) == [
        (0, "train"),
        (1, "train"),
        (2, "train"),
    ]
    assert run_status(Path(log_dir)) == "finished"


# ---- the SummaryWriter internals, in this process -------------------------------------


def new_style_scalar(tag: str, value: float):
    """What torch's summary.scalar(new_style=True) builds: a scalars-plugin tensor."""
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboardX.proto.tensor_pb2 import TensorProto

    plugin = SummaryMetadata.PluginData(plugin_name="scalars")
    tensor = TensorProto(dtype=1, float_val=[value])  # DT_FLOAT
    value_proto = Summary.Value(
        tag=tag, tensor=tensor, metadata=SummaryMetadata(plugin_data=plugin)
    )
    return Summary(value=[value_proto])


def test_file_writer_decodes_tensorboardx_protos(tmp_path):
    summary = pytest.importorskip("tensorboardX.summary")
    writer = localtrack.SummaryWriter(logdir=tmp_path / "run")  # tensorboardX's keyword
    assert writer.log_dir == str(tmp_path / "run")
    file_writer = writer._get_file_writer()
    assert writer.file_writer is file_writer
    assert writer.all_writers == {writer.log_dir: file_writer}
    assert file_writer.get_logdir() == writer.log_dir
    file_writer.add_summary(summary.scalar("old_style", 1.5), global_step=3)
    file_writer.add_summary(new_style_scalar("new_style", 2.5), global_step=4)
    for part in summary.hparams({"lr": 0.01, "opt": "adam", "bn": True}, {"acc": 0.9}):
        file_writer.add_summary(part)
    writer.add_scalar("direct", 1.0, 5, new_style=True, double_precision=True)
    file_writer.flush()
    got = sorted((r["tag"], r["step"], r["value"]) for r in rows(writer.log_dir, "scalars"))
    assert got == [("direct", 5, 1.0), ("new_style", 4, 2.5), ("old_style", 3, 1.5)]
    (hp,) = rows(writer.log_dir, "hparams")
    assert json.loads(hp["hparams"]) == {"lr": 0.01, "opt": "adam", "bn": True}
    assert json.loads(hp["metrics"]) == {"acc": None}
    config = {r["key"]: json.loads(r["value"]) for r in rows(writer.log_dir, "config")}
    assert config == {"lr": 0.01, "opt": "adam", "bn": True}
    file_writer.close()
    assert run_status(tmp_path / "run") == "finished"


def test_other_summaries_are_kept_raw_with_a_warning(tmp_path):
    summary = pytest.importorskip("tensorboardX.summary")
    import numpy as np

    writer = localtrack.SummaryWriter(tmp_path / "run")
    proto = summary.histogram("weights", np.arange(10.0), "auto")
    with pytest.warns(localtrack.LocaltrackWarning, match="raw `tensorboard` event"):
        writer._get_file_writer().add_summary(proto, global_step=7)
    writer.close()
    (raw,) = [r for r in rows(writer.log_dir, "events") if r["kind"] == "tensorboard"]
    payload = json.loads(raw["payload"])
    assert (payload["tag"], payload["step"]) == ("weights", 7)
    import base64

    from tensorboardX.proto.summary_pb2 import Summary

    restored = Summary.Value.FromString(base64.b64decode(payload["data"]))
    assert restored.histo.num == 10


def test_the_patched_writer_reopens_after_close_as_torchs_does(tmp_path):
    writer = TensorBoardWriter(tmp_path / "run", flush_secs=120, write_to_disk=True)
    writer.add_scalar("a", 1.0, 0)
    writer.close()
    writer.add_scalar("a", 2.0, 1)  # torch's SummaryWriter writes again after close()
    writer.add_text("t", "x", 1)
    writer.close()
    assert sorted((r["tag"], r["step"]) for r in rows(writer.log_dir, "scalars")) == [
        ("a", 0),
        ("a", 1),
    ]
    assert len({r["writer"] for r in rows(writer.log_dir, "events")}) == 2  # one run, 2 writers
    assert run_status(tmp_path / "run") == "finished"


def test_patch_and_unpatch_in_this_process(tmp_path):
    from localtrack.integrations.tensorboard_patch import unpatch_tensorboard

    tbx = pytest.importorskip("tensorboardX")
    original = tbx.SummaryWriter
    localtrack.patch_tensorboard()
    try:
        import torch.utils.tensorboard

        assert torch.utils.tensorboard.SummaryWriter is TensorBoardWriter
        assert tbx.SummaryWriter is TensorBoardWriter
        w = tbx.SummaryWriter(str(tmp_path / "tb"))  # patched alone: log_dir is the run
        w.add_scalar("x", 1.0, 0)
        w.close()
        assert tags_steps(tmp_path / "tb") == {("x", 0)}
        run = localtrack.init(project="p", dir=tmp_path, sync_tensorboard=True)
        # as W&B's sync_tensorboard: writers made while the run is open log into it
        w = tbx.SummaryWriter(str(tmp_path / "tb2"))
        w.add_scalar("y", 2.0, 5)
        w.close()
        run.finish()
        assert tags_steps(run.dir) == {("y", 5)}
        assert not (tmp_path / "tb2").exists()
    finally:
        unpatch_tensorboard()
    assert tbx.SummaryWriter is original


def test_sync_to_a_run_logs_tensorboard_into_it(tmp_path):
    from localtrack.integrations.tensorboard_patch import unpatch_tensorboard

    tbx = pytest.importorskip("tensorboardX")
    run = localtrack.init(project="p", dir=tmp_path)
    localtrack.patch_tensorboard(sync_to=run)
    try:
        w = tbx.SummaryWriter(str(tmp_path / "elsewhere"))
        w.add_scalar("x", 1.0, 3)
        w.close()
        run.log({"y": 2.0})
        run.finish()
    finally:
        unpatch_tensorboard()
    assert tags_steps(run.dir) == {("x", 3), ("y", 0)}
    assert not (tmp_path / "elsewhere").exists()


def test_add_event_decodes_its_summary_and_keeps_the_rest(tmp_path):
    pytest.importorskip("tensorboardX")
    from tensorboardX.proto.event_pb2 import Event, SessionLog
    from tensorboardX.proto.summary_pb2 import Summary

    writer = localtrack.SummaryWriter(tmp_path / "run")
    scalar = Summary(value=[Summary.Value(tag="s", simple_value=4.0)])
    writer.file_writer.add_event(Event(step=9, wall_time=1.0e9, summary=scalar))
    with pytest.warns(localtrack.LocaltrackWarning, match="raw"):
        writer.file_writer.add_event(Event(step=1, session_log=SessionLog(status=1)))
    writer.close()
    assert [(r["tag"], r["step"], r["value"]) for r in rows(writer.log_dir, "scalars")] == [
        ("s", 9, 4.0)
    ]
    (raw,) = [r for r in rows(writer.log_dir, "events") if r["kind"] == "tensorboard"]
    assert json.loads(raw["payload"])["plugin"] == "session_log"


def test_import_localtrack_imports_no_framework():
    code = (
        "import sys, localtrack\n"
        "names = ('lightning', 'transformers', 'accelerate', 'tensorboardX', 'tensorboard',"
        " 'psutil', 'pynvml')\n"
        "print(sorted(n for n in names if n in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_ignite_tensorboard_logger(tmp_path):
    """ignite's TensorboardLogger (it tries tensorboardX, then torch.utils.tensorboard) with
    OutputHandler (loss per iteration) and OptimizerParamsHandler (lr) on a real Engine."""
    pytest.importorskip("ignite")
    report = run_child(tmp_path, "--ignite")
    assert report["tensorboard_imported"] == []
    ignite = report["ignite"]
    assert ignite["writer"] == "TensorBoardWriter"
    logged = ignite["logged"]
    assert len(logged["loss"]) == len(logged["lr"]) == 6  # 3 batches x 2 epochs
    expected = {("training/loss", i): v for i, v in logged["loss"]}
    expected |= {("lr/group_0", i): v for i, v in logged["lr"]}
    # what ignite logged, read back through localtrack.sql (one run under tmp_path)
    result = localtrack.sql("SELECT tag, step, value FROM scalars ORDER BY tag, step", tmp_path)
    got = {(tag, step): value for tag, step, value in result.fetchall()}
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-6), key
    assert {v for (tag, _), v in got.items() if tag == "lr/group_0"} == {0.05, 0.025, 0.0125}
    assert run_status(Path(ignite["log_dir"])) == "finished"


def test_torchtitan_metrics_tensorboard_logger(tmp_path):
    """torchtitan's components.metrics.TensorBoardLogger (torch.utils.tensorboard's
    SummaryWriter, max_queue=1000), called as its MetricsProcessor calls it, no launch."""
    pytest.importorskip("torchtitan.components.metrics")  # not in the test extra: docs
    report = run_child(tmp_path, "--torchtitan")
    assert report["tensorboard_imported"] == []
    assert report["torch_tb_is_stand_in"] is True
    titan = report["torchtitan"]
    assert titan["writer"] == "TensorBoardWriter"
    result = localtrack.sql("SELECT tag, step, value FROM scalars ORDER BY tag, step", tmp_path)
    assert result.fetchall() == [
        ("rank0/loss_metrics/global_avg_loss", 1, 2.0),
        ("rank0/loss_metrics/global_avg_loss", 2, 1.0),
        ("rank0/loss_metrics/global_avg_loss", 3, pytest.approx(2 / 3)),
        ("rank0/lr", 1, 1e-3),
        ("rank0/lr", 2, 1e-3),
        ("rank0/lr", 3, 1e-3),
        ("rank0/tps", 1, 100.0),
        ("rank0/tps", 2, 101.0),
        ("rank0/tps", 3, 102.0),
    ]
    assert run_status(Path(titan["log_dir"])) == "finished"
