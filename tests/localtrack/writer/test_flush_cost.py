"""flush() every step: what it promises (rows visible to a new query at once), not its cost.

The cost is measured by `scripts/bench_writer.py --only flush`; these tests pin the guarantee
and the files behind it: small segments written by localtrack._writer.quick_parquet, read
back by pyarrow and DuckDB exactly as pyarrow's own writer would have stored them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import localtrack
from localtrack import SummaryWriter
from localtrack._store.arrays import column
from localtrack._store.schema import STREAMS
from localtrack._writer.quick_parquet import encode, supports


def values(root, tag):
    rows = localtrack.sql(
        f"SELECT step, value FROM scalars WHERE tag = '{tag}' ORDER BY step", root=root
    )
    return rows.fetchall()


def test_rows_logged_before_flush_are_visible_to_a_new_query(tmp_path):
    w = SummaryWriter(tmp_path / "r", flush_secs=60)  # the sealer never runs on its own
    for step in range(30):
        for k in range(3):
            w.add_scalar(f"m/{k}", step + k / 10, step)
        w.flush()
        got = values(tmp_path, "m/2")
        assert got == [(s, s + 0.2) for s in range(step + 1)]
    w.close()
    assert values(tmp_path, "m/0") == [(s, float(s)) for s in range(30)]


def test_run_log_then_flush_and_other_streams(tmp_path):
    run = localtrack.init(project="p", dir=tmp_path, flush_secs=60)
    run.log({"loss": 0.5, "acc": 0.25})
    run.config.lr = 0.1
    run._core.flush()
    assert localtrack.sql(
        "SELECT tag, value FROM scalars ORDER BY tag", root=tmp_path
    ).fetchall() == [
        ("acc", 0.25),
        ("loss", 0.5),
    ]
    assert localtrack.sql("SELECT key, value::DOUBLE FROM config", root=tmp_path).fetchall() == [
        ("lr", 0.1)
    ]
    run.finish()


def test_close_leaves_no_spare_files_and_syncs_everything(tmp_path):
    w = SummaryWriter(tmp_path / "r", flush_secs=60)
    for step in range(40):
        w.add_scalar("x", float(step), step)
        w.flush()
    w.close()
    hidden = [p for p in (tmp_path / "r").rglob(".*") if p.is_file()]
    assert hidden == []
    assert w._core._unsynced == []
    assert values(tmp_path, "x") == [(s, float(s)) for s in range(40)]


def test_flushed_rows_survive_sigkill(tmp_path):
    code = textwrap.dedent(
        f"""
        import os, signal, sys
        from localtrack import SummaryWriter
        w = SummaryWriter({str(tmp_path / "r")!r}, flush_secs=60)
        for step in range(50):
            w.add_scalar("x", float(step), step)
            w.flush()
        print("flushed", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL and "flushed" in proc.stdout
    assert values(tmp_path, "x") == [(s, float(s)) for s in range(50)]


def table(stream, rows):
    schema = STREAMS[stream]
    return pa.Table.from_arrays(
        [column([r.get(f.name) for r in rows], f.type) for f in schema], schema=schema
    )


def scalar_rows(n):
    return [
        {
            "run_id": "run1",
            "tag": ["loss", "é/ü", "", "a" * 70][i % 4],
            "step": i,
            "wall_time": 1_700_000_000_000_000 + i,
            "value": None if i % 5 == 0 else i / 3,
            "writer": "w1",
            "seq": 3,
            "rank": None if i % 3 == 0 else i % 2,
            "host": None if i % 7 == 0 else "node-1",
            "pid": 42,
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [1, 5, 64, 65, 300])
def test_quick_files_read_back_as_pyarrow_wrote_them(tmp_path, n):
    import duckdb

    t = table("scalars", scalar_rows(n))
    data = encode("scalars", t)
    back = pq.read_table(pa.BufferReader(data))
    assert back.schema.metadata[b"localtrack.format_version"] == b"1"
    assert back.replace_schema_metadata(None).equals(t)
    sliced = t.slice(n // 3, n - n // 3)
    again = pq.read_table(pa.BufferReader(encode("scalars", sliced)))
    assert again.replace_schema_metadata(None).equals(sliced)
    path = tmp_path / "x.parquet"
    path.write_bytes(data)
    ours = duckdb.sql(f"SELECT * FROM read_parquet('{path}') ORDER BY step").fetchall()
    pq.write_table(t, tmp_path / "y.parquet")
    theirs = duckdb.sql(f"SELECT * FROM read_parquet('{tmp_path / 'y.parquet'}') ORDER BY step")
    assert ours == theirs.fetchall()


def test_quick_files_cover_the_flat_streams():
    assert supports("scalars") and supports("events") and supports("config")
    assert not supports("histograms")  # lists: pyarrow writes those
    row = {
        "run_id": "r",
        "kind": "start",
        "wall_time": 5,
        "status": None,
        "exit_code": None,
        "payload": '{"a": 1}',
        "writer": "w",
        "seq": 0,
        "rank": 0,
        "host": "h",
        "pid": 1,
    }
    t = table("events", [row])
    assert (
        pq.read_table(pa.BufferReader(encode("events", t))).replace_schema_metadata(None).equals(t)
    )


def test_sealer_syncs_what_flush_left_unsynced(tmp_path):
    w = SummaryWriter(tmp_path / "r", flush_secs=0.2)
    w.add_scalar("x", 1.0, 0)
    w.flush()
    deadline = time.monotonic() + 10
    while w._core._unsynced and time.monotonic() < deadline:
        time.sleep(0.05)
    assert w._core._unsynced == []
    w.close()
    assert os.listdir(tmp_path / "r" / "scalars")


def test_scalars_built_straight_from_python_match_the_arrow_path():
    from localtrack._writer.identity import WriterIdentity
    from localtrack._writer.quick_parquet import scalars_file
    from localtrack._writer.sealing import seal_scalars
    from localtrack._writer.values import WarnOnce

    ident = WriterIdentity.here()
    flat = []
    for i in range(70):
        flat.extend(
            (["loss", "ü/acc", "x" * 80][i % 3], [0.5, 3, -1e300][i % 3], i - 5, 1.7e9 + i / 7)
        )
    want = seal_scalars(flat, "run1", ident, 4, WarnOnce())
    data = scalars_file(flat, "run1", ident.writer, 4, ident.rank, ident.host, ident.pid)
    assert data is not None
    assert pq.read_table(pa.BufferReader(data)).replace_schema_metadata(None).equals(want)
    for bad in (None, float("nan")):  # a step of None, a time that is not a time: Arrow path
        rows = ["x", 1.0, 0 if bad is not None else None, bad if bad is not None else 1.0]
        assert scalars_file(rows, "r", "w", 0, 0, "h", 1) is None
    assert scalars_file(["", 1.0, 0, 1.0], "r", "w", 0, 0, "h", 1) is None
