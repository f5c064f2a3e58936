"""Many writers, no coordination: DDP-style ranks write one run; memory stays bounded."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pyarrow.compute as pc

from localtrack import SummaryWriter
from localtrack._store.segments import read_stream
from localtrack._writer.sealing import SCALAR_WIDTH

RANK_CODE = textwrap.dedent(
    """
    import sys, localtrack
    w = localtrack.SummaryWriter(sys.argv[1], flush_secs=0.05)
    for step in range(int(sys.argv[2])):
        w.add_scalar("loss", float(step), step)
        if step % 100 == 0:
            w.add_histogram("w", [step, step + 1], step)
    w.close()
    """
)


def test_four_ranks_write_one_run(tmp_path):
    run, n = tmp_path / "ddp", 5000
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RANK_CODE, str(run), str(n)],
            env={**os.environ, "RANK": str(rank), "WORLD_SIZE": "4"},
        )
        for rank in range(4)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    table = read_stream(run, "scalars")
    assert table is not None and table.num_rows == 4 * n
    for rank in range(4):
        mine = table.filter(pc.equal(table.column("rank"), rank))
        assert sorted(mine.column("step").to_pylist()) == list(range(n))
    assert len(set(table.column("run_id").to_pylist())) == 1
    assert len(set(table.column("pid").to_pylist())) == 4


def tiny_writer_with_slow_disk(run_dir, monkeypatch, on_full, delay):
    """A writer whose buffers hold 100 rows (400 at most) and whose every publish is slow."""
    import localtrack._writer.core as core

    real_publish = core.publish

    def slow_publish(*args):
        time.sleep(delay)
        return real_publish(*args)

    monkeypatch.setattr(core, "publish", slow_publish)
    w = SummaryWriter(run_dir, on_full=on_full)
    w._core.max_rows = 100
    w._core.scalar_limit[0] = 100 * SCALAR_WIDTH
    w._core.hard_cap = 400
    return w


def log_and_watch_the_buffer(w, n):
    peak = 0
    for step in range(n):
        w.add_scalar("x", 1.0, step)
        peak = max(peak, len(w._core.buffers["scalars"]) // SCALAR_WIDTH)  # rows
    return peak


def test_drop_policy_bounds_memory_and_counts_what_it_dropped(tmp_path, monkeypatch):
    w = tiny_writer_with_slow_disk(tmp_path / "r", monkeypatch, "drop", 0.2)
    peak = log_and_watch_the_buffer(w, 20_000)
    dropped = w._core.dropped
    w.close()
    assert peak <= 400
    assert dropped > 0
    stored = read_stream(tmp_path / "r", "scalars")
    assert stored is not None and stored.num_rows == 20_000 - dropped


def test_block_policy_waits_and_keeps_everything(tmp_path, monkeypatch):
    w = tiny_writer_with_slow_disk(tmp_path / "r", monkeypatch, "block", 0.05)
    peak = log_and_watch_the_buffer(w, 5_000)
    w.close()
    assert peak <= 400 and w._core.dropped == 0
    stored = read_stream(tmp_path / "r", "scalars")
    assert stored is not None and sorted(stored.column("step").to_pylist()) == list(range(5_000))


def test_big_snapshots_are_bounded_by_bytes_not_rows(tmp_path, monkeypatch):
    import numpy as np

    w = tiny_writer_with_slow_disk(tmp_path / "r", monkeypatch, "block", 0.05)
    w._core.max_pending_bytes = 4 * 8_000_000  # four 1M-float64 histograms
    values = np.zeros(1_000_000)
    peak = 0
    for step in range(12):
        w.add_histogram("h", values, step)
        peak = max(peak, w._core.bytes_in - w._core.bytes_out)
    w.close()
    assert peak <= 5 * 8_000_000
    stored = read_stream(tmp_path / "r", "histograms")
    assert stored is not None and stored.column("step").to_pylist() == list(range(12))
