"""The writer's footprint: it never makes pyarrow import pandas, and compaction stays off
the sealer's path (a merge cancelled by close() loses nothing)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from localtrack import SummaryWriter
from localtrack._store.marker import create_or_join, make_marker
from localtrack._store.runs import run_status
from localtrack._store.segments import read_stream


def test_logging_every_kind_of_data_does_not_import_pandas(tmp_path):
    pytest.importorskip("pandas")  # the point is that it is installed and still not loaded
    code = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        import localtrack
        w = localtrack.SummaryWriter({str(tmp_path / "tb")!r})
        for i in range(20_000):
            w.add_scalar("loss", 1.0 / (i + 1), i)
        w.add_histogram("h", np.arange(100.0), 0)
        w.add_image("i", np.zeros((3, 4, 4)), 0)
        w.add_text("t", "x", 0)
        w.close()
        run = localtrack.init(project="p", dir={str(tmp_path)!r}, config={{"lr": 0.1}})
        run.log({{"a": 1.0, "b": 2}})
        run.finish()
        print("pandas" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_close_cancels_a_merge_in_flight_and_keeps_every_row(tmp_path, monkeypatch):
    started = []

    def slow_merge(run_dir, stream, names, check):
        started.append(names)
        while True:  # a merge that only ends when close() cancels it
            check()
            time.sleep(0.01)

    monkeypatch.setattr("localtrack._writer.compactor.merge_segments", slow_merge)
    w = SummaryWriter(tmp_path / "r", flush_secs=60)
    for i in range(20):
        w.add_scalar("x", float(i), i)
        w.flush()
    while not started:
        time.sleep(0.01)
    w.close()
    files = sorted(os.listdir(tmp_path / "r" / "scalars"))
    assert not [f for f in files if f.endswith(".tmp")]
    table = read_stream(tmp_path / "r", "scalars")
    assert table is not None and table.column("step").to_pylist() == list(range(20))


def test_a_run_that_died_before_its_start_event_is_crashed(tmp_path):
    run_dir = tmp_path / "r"
    create_or_join(run_dir, make_marker("abcdefgh", "p", "r", "tensorboard"))
    assert run_status(run_dir) == "running"  # just created: it may still be starting
    old = os.path.getmtime(run_dir / "localtrack-run.json") - 3600
    os.utime(run_dir / "localtrack-run.json", (old, old))
    assert run_status(run_dir) == "crashed"
