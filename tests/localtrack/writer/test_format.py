"""The store reads with plain pyarrow by following docs/FORMAT.md, without localtrack."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import pyarrow.parquet as pq

from localtrack import SummaryWriter


def read_like_the_docs(run_dir, stream):
    """FORMAT.md's rules, done by hand: match the name, drop covered ranges, check the version."""
    pattern = re.compile(r"^([0-9a-f]{8,32})-(\d{10})-(\d{10})\.parquet$")
    names = []
    for entry in os.listdir(run_dir / stream):
        m = pattern.match(entry)
        if m:
            names.append((m[1], int(m[2]), int(m[3]), entry))
    live = [
        n
        for n in names
        if not any(o[0] == n[0] and o[1] <= n[1] and n[2] <= o[2] and o != n for o in names)
    ]
    rows = []
    for _, _, _, entry in sorted(live):
        table = pq.read_table(run_dir / stream / entry)
        meta = table.schema.metadata
        assert int(meta[b"localtrack.format_version"]) == 1
        assert meta[b"localtrack.stream"] == stream.encode()
        rows += table.to_pylist()
    return rows


def test_pyarrow_alone_reads_what_was_logged(tmp_path):
    run = tmp_path / "ex3"
    with SummaryWriter(run, flush_secs=60) as w:
        for step in range(50):
            w.add_scalar("Loss/train", step * 0.5, step)
            w.flush()  # 50 segments: compaction merges them while we log
    marker = json.loads((run / "localtrack-run.json").read_text())
    assert marker["format_version"] == 1 and marker["format"] == "localtrack-run"
    rows = read_like_the_docs(run, "scalars")
    assert sorted((r["step"], r["value"]) for r in rows) == [(s, s * 0.5) for s in range(50)]
    assert {r["run_id"] for r in rows} == {marker["run_id"]}
    events = read_like_the_docs(run, "events")
    assert [e["kind"] for e in events] == ["start", "finish"]
    assert events[1]["status"] == "finished"


def test_the_documented_columns_match_the_schemas():
    from localtrack._store.schema import STREAMS

    doc = (
        __import__("pathlib").Path(__file__).resolve().parents[3] / "docs" / "FORMAT.md"
    ).read_text()
    for stream, schema in STREAMS.items():
        assert f"`{stream}`" in doc, stream
        for name in schema.names:
            assert f"`{name}`" in doc, f"{stream}.{name} is not documented"


def test_duckdb_reads_the_store_with_a_glob(tmp_path):
    import duckdb

    with SummaryWriter(tmp_path / "logs" / "a") as w:
        w.add_scalar("x", 1.0, 0)
    with SummaryWriter(tmp_path / "logs" / "b") as w:
        w.add_scalar("x", 2.0, 0)
    got = duckdb.sql(
        f"SELECT sum(value) FROM read_parquet('{tmp_path}/logs/**/scalars/*.parquet')"
    ).fetchall()
    assert got == [(3.0,)]


def test_metadata_is_captured_without_asking(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.email=a@b", "-c", "user.name=a", "-C", str(repo)]
    subprocess.run([*git[:5], "init", "-q", str(repo)], check=True)
    (repo / "f").write_text("x")
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-qm", "c"], check=True)
    (repo / "f").write_text("changed")
    code = textwrap.dedent(
        f"""
        import localtrack
        w = localtrack.SummaryWriter({str(tmp_path / "r")!r})
        w.close()
        """
    )
    env = {**os.environ, "RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4"}
    subprocess.run([sys.executable, "-c", code, "--lr", "0.1"], cwd=repo, env=env, check=True)
    (start,) = [e for e in read_like_the_docs(tmp_path / "r", "events") if e["kind"] == "start"]
    meta = json.loads(start["payload"])
    assert (meta["rank"], meta["local_rank"], meta["world_size"]) == (3, 1, 4)
    assert meta["argv"][-2:] == ["--lr", "0.1"]
    assert meta["git"]["dirty"] is True and len(meta["git"]["commit"]) == 40
    assert meta["python"] == ".".join(map(str, sys.version_info[:3]))
    assert start["rank"] == 3 and start["pid"] != os.getpid()
