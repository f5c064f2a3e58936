"""Importing again adds only what is new; damaged files are refused where they are damaged."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from tb_logs import T0

import localtrack
from localtrack._cli.main import main
from localtrack._interop import tb_import
from localtrack._interop.rows import Rows
from localtrack._interop.state import load_state
from localtrack._interop.tfrecord import crc32c, frame, read_records

pytest.importorskip("tensorboard")
SummaryWriter = pytest.importorskip("torch.utils.tensorboard").SummaryWriter


def do_import(logs, root, *more):
    return main(["import", "tensorboard", str(logs), "--root", str(root), "-q", *more])


def points(root):
    got = localtrack.sql("SELECT step, value FROM scalars ORDER BY step", root=root)
    return [(r["step"], r["value"]) for r in got.arrow().to_pylist()]


def run_ids(root):
    return [r["run_id"] for r in localtrack.sql("SELECT run_id FROM runs", root=root).arrow().to_pylist()]  # fmt: skip


def test_crc32c_known_value():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value


def test_a_run_still_being_written_is_imported_again_without_doubles(tmp_path):
    logs, root = tmp_path / "logs", tmp_path / "runs"
    w = SummaryWriter(str(logs / "live"))
    for step in range(100):
        w.add_scalar("x", float(step), step, walltime=T0 + step)
    w.flush()
    assert do_import(logs, root) == 0
    assert points(root) == [(s, float(s)) for s in range(100)]
    first_id = run_ids(root)
    assert do_import(logs, root) == 0  # nothing new: nothing added
    assert len(points(root)) == 100
    for step in range(100, 250):
        w.add_scalar("x", float(step), step, walltime=T0 + step)
    w.close()
    assert do_import(logs, root) == 0
    assert points(root) == [(s, float(s)) for s in range(250)]
    assert run_ids(root) == first_id  # the same run, not a second one
    state = load_state(root / "tensorboard" / "live", "tensorboard")
    (progress,) = state.files.values()
    assert progress.offset == next((logs / "live").iterdir()).stat().st_size


def test_same_relative_path_is_the_same_run_from_another_copy(tmp_path):
    logs, root = tmp_path / "logs", tmp_path / "runs"
    with SummaryWriter(str(logs / "a")) as w:
        w.add_scalar("x", 1.0, 1, walltime=T0)
    assert do_import(logs, root) == 0
    copy = tmp_path / "copy"
    shutil.copytree(logs, copy)
    assert do_import(copy, root) == 0
    assert len(run_ids(root)) == 1 and points(root) == [(1, 1.0)]


def test_truncated_last_record_is_skipped_then_read_once_whole(tmp_path, capsys):
    logs, root = tmp_path / "logs", tmp_path / "runs"
    with SummaryWriter(str(logs / "r")) as w:
        for step in range(10):
            w.add_scalar("x", float(step), step, walltime=T0 + step)
    (path,) = (logs / "r").iterdir()
    whole = path.read_bytes()
    path.write_bytes(whole[:-7])  # the writer was killed in the middle of the last record
    assert do_import(logs, root) == 0
    err = capsys.readouterr().err
    assert "cut short" in err and str(path) in err
    assert points(root) == [(s, float(s)) for s in range(9)]
    path.write_bytes(whole)
    assert do_import(logs, root) == 0
    assert points(root) == [(s, float(s)) for s in range(10)]


def test_corrupt_record_is_refused_with_file_and_offset(tmp_path, capsys):
    logs, root = tmp_path / "logs", tmp_path / "runs"
    with SummaryWriter(str(logs / "r")) as w:
        for step in range(10):
            w.add_scalar("x", float(step), step, walltime=T0 + step)
    (path,) = (logs / "r").iterdir()
    data = bytearray(path.read_bytes())
    records = read_records(path)
    bad = records.offset(6)
    data[bad + 20] ^= 0xFF  # one flipped bit pattern inside record 6's data
    path.write_bytes(bytes(data))
    assert do_import(logs, root) == 1
    err = capsys.readouterr().err
    assert f"corrupt record at byte offset {bad}" in err and str(path) in err
    assert points(root) == [(s, float(s)) for s in range(5)]  # records 1..5 (0: file_version)
    assert do_import(logs, root) == 1  # still refused, nothing added twice
    assert len(points(root)) == 5


def test_purge_step_hides_what_tensorboard_hides(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logs, root = tmp_path / "logs", tmp_path / "runs"
    with SummaryWriter(str(logs / "r")) as w:
        for step in range(10):
            w.add_scalar("x", float(step), step, walltime=T0 + step)
    with SummaryWriter(str(logs / "r"), purge_step=5) as w:  # resumed from a step-5 checkpoint
        for step in range(5, 8):
            w.add_scalar("x", 100.0 + step, step, walltime=T0 + 100 + step)
    assert do_import(logs, root) == 0
    acc = EventAccumulator(str(logs / "r"), size_guidance={"scalars": 0})
    acc.Reload()
    want = [(e.step, e.value) for e in acc.Scalars("x")]
    assert want == [(s, float(s)) for s in range(5)] + [(s, 100.0 + s) for s in range(5, 8)]
    assert points(root) == want


def test_an_import_killed_midway_is_redone_without_doubles(tmp_path, monkeypatch):
    logs, root = tmp_path / "logs", tmp_path / "runs"
    with SummaryWriter(str(logs / "r")) as w:
        for step in range(50):
            w.add_scalar("x", float(step), step, walltime=T0 + step)
            w.add_text("t", f"step {step}", step, walltime=T0 + step)
    real_write = Rows.write

    def write_then_die(self, writer, extra=None):
        real_write(self, writer, extra)
        writer.flush()  # rows are on disk ...
        raise KeyboardInterrupt  # ... and the import is killed before it saves its offset

    monkeypatch.setattr(Rows, "write", write_then_die)
    assert do_import(logs, root) == 130
    monkeypatch.setattr(Rows, "write", real_write)
    state = load_state(root / "tensorboard" / "r", "tensorboard")
    assert next(iter(state.files.values())).pending is not None
    assert do_import(logs, root) == 0
    assert points(root) == [(s, float(s)) for s in range(50)]
    texts = localtrack.sql("SELECT count(*) AS n FROM texts", root=root).arrow().to_pylist()
    assert texts == [{"n": 50}]
    status = localtrack.sql("SELECT status FROM runs", root=root).arrow().to_pylist()
    assert status == [{"status": "finished"}]


def test_hand_framed_records_and_long_records(tmp_path):
    event_pb2 = pytest.importorskip("tensorboard.compat.proto.event_pb2")
    path = tmp_path / "logs" / "r" / "events.out.tfevents.1.host"
    path.parent.mkdir(parents=True)
    big = np.arange(5000, dtype=np.float32)
    with open(path, "wb") as f:
        f.write(frame(event_pb2.Event(wall_time=T0, file_version="brain.Event:2").SerializeToString()))  # fmt: skip
        for step in range(3):
            ev = event_pb2.Event(wall_time=T0 + step, step=step)
            v = ev.summary.value.add(tag="a" * 200)  # a long tag: the protobuf path
            v.simple_value = step / 2
            f.write(frame(ev.SerializeToString()))
        ev = event_pb2.Event(wall_time=T0 + 9, step=9)
        v = ev.summary.value.add(tag="big")
        v.tensor.dtype = 1
        v.tensor.tensor_shape.dim.add(size=big.size)
        v.tensor.tensor_content = big.tobytes()  # a record longer than the vectorised CRC takes
        f.write(frame(ev.SerializeToString()))
    root = tmp_path / "runs"
    assert tb_import.import_tensorboard([tmp_path / "logs"], root, progress=False).errors == []
    assert points(root) == [(0, 0.0), (1, 0.5), (2, 1.0)]
    (t,) = localtrack.sql("SELECT tensor FROM tensors", root=root).arrow().to_pylist()
    arr = np.frombuffer(t["tensor"]["data"], t["tensor"]["dtype"]).reshape(t["tensor"]["shape"])
    assert np.array_equal(arr, big)
    state = json.loads((root / "tensorboard" / "r" / "import" / "tensorboard.json").read_text())
    assert state["files"][path.name]["offset"] == path.stat().st_size
