from __future__ import annotations

import json
import os
import time
from pathlib import Path

import duckdb
import pytest
from segment_store import make_run, scalar_rows

from localtrack._errors import FormatVersionError, UsageError
from localtrack._query import connect, sql
from localtrack._query.files import SkippedFileWarning
from localtrack._store.layout import MARKER_NAME, SegmentName
from localtrack._store.schema import STREAMS
from localtrack._store.segments import publish, read_segment

PUBLIC_VIEWS = [*STREAMS, "runs"]


@pytest.mark.parametrize("exists", [True, False])
def test_every_view_exists_and_is_empty_on_a_fresh_store(tmp_path: Path, exists: bool) -> None:
    root = tmp_path / "runs"
    if exists:
        root.mkdir()
    con = connect(root)
    for view in PUBLIC_VIEWS:
        assert con.execute(f"SELECT count(*) FROM {view}").fetchone() == (0,), view


@pytest.mark.parametrize("stream", sorted(set(STREAMS) - {"config", "summary"}))
def test_stream_view_has_the_format_columns(tmp_path: Path, stream: str) -> None:
    con = connect(tmp_path)
    # DESCRIBE SELECT: a bare `DESCRIBE tables` is DuckDB's SHOW TABLES
    columns = [row[0] for row in con.sql(f"DESCRIBE SELECT * FROM {stream}").fetchall()]
    assert columns == STREAMS[stream].names


def test_scalars_come_back_as_logged(tmp_path: Path) -> None:
    make_run(tmp_path / "p" / "a", "runa", points=7, per_segment=3)
    make_run(tmp_path / "p" / "b", "runb", points=4, per_segment=1, tag="acc")
    con = connect(tmp_path)
    rows = con.sql(
        "SELECT run_id, tag, count(*), min(step), max(step), sum(value) "
        "FROM scalars GROUP BY ALL ORDER BY run_id"
    ).fetchall()
    assert rows == [
        ("runa", "loss", 7, 0, 6, pytest.approx(2.1)),
        ("runb", "acc", 4, 0, 3, pytest.approx(0.6)),
    ]
    types = dict(con.sql("SELECT column_name, column_type FROM (DESCRIBE scalars)").fetchall())
    assert types["wall_time"] == "TIMESTAMP"
    assert types["value"] == "DOUBLE"


def test_runs_view_reports_status_config_and_tags(tmp_path: Path) -> None:
    make_run(tmp_path / "p" / "ok", "okrun", config={"lr": 0.01, "opt/name": "adam"}, tags=["x"])
    make_run(tmp_path / "p" / "bad", "badrun", finished="failed")
    make_run(tmp_path / "q" / "dead", "deadrun", project="q", finished=None)
    con = connect(tmp_path)
    rows = con.sql(
        "SELECT run_id, project, status, ended_at IS NOT NULL, config['lr']::DOUBLE, "
        "config['opt/name']->>'$', tags FROM runs ORDER BY run_id"
    ).fetchall()
    assert rows == [
        ("badrun", "proj", "failed", True, None, None, []),
        ("deadrun", "q", "crashed", False, None, None, []),
        ("okrun", "proj", "finished", True, 0.01, "adam", ["x"]),
    ]


def test_a_run_killed_before_its_first_seal_is_crashed_as_run_status_says(tmp_path: Path) -> None:
    from localtrack._store.marker import create_or_join, make_marker
    from localtrack._store.runs import run_status

    run_dir = tmp_path / "p" / "early"
    run_dir.mkdir(parents=True)
    create_or_join(run_dir, make_marker("earlyrun", "p", "early", "wandb"))  # no events, no lease
    query = "SELECT run_id, status, ended_at FROM runs"
    assert connect(tmp_path).sql(query).fetchall() == [("earlyrun", "running", None)]
    assert run_status(run_dir) == "running"  # created moments ago: its writer may be starting
    old = time.time() - 3600
    os.utime(run_dir / MARKER_NAME, (old, old))
    assert connect(tmp_path).sql(query).fetchall() == [("earlyrun", "crashed", None)]
    assert run_status(run_dir) == "crashed"


def test_config_view_keeps_the_latest_value_of_each_key(tmp_path: Path) -> None:
    from segment_store import config_rows

    run = make_run(tmp_path / "r", "cfgrun", config={"lr": 0.1, "bs": 32})
    publish(
        run,
        "config",
        SegmentName("aaaaaaaa", 1, 1),
        config_rows("cfgrun", "aaaaaaaa", 1, {"lr": 0.5}),
    )
    rows = connect(tmp_path).sql("SELECT key, value::DOUBLE FROM config ORDER BY key").fetchall()
    assert rows == [("bs", 32.0), ("lr", 0.5)]


def test_a_covered_segment_is_read_once(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", "cov", points=6, per_segment=2)  # seq 0, 1, 2
    merged = read_segment(run / "scalars" / SegmentName("aaaaaaaa", 0, 0).filename)
    rest = read_segment(run / "scalars" / SegmentName("aaaaaaaa", 1, 1).filename)
    import pyarrow as pa

    publish(run, "scalars", SegmentName("aaaaaaaa", 0, 1), pa.concat_tables([merged, rest]))
    assert len(list((run / "scalars").glob("*.parquet"))) == 4
    assert connect(tmp_path).execute("SELECT count(*), sum(step) FROM scalars").fetchone() == (
        6,
        15,
    )


def test_a_truncated_file_is_reported_skipped_and_kept(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", "trunc", points=5, per_segment=1)
    bad = run / "scalars" / SegmentName("aaaaaaaa", 2, 2).filename
    bad.write_bytes(bad.read_bytes()[:40])
    with pytest.warns(SkippedFileWarning, match="trunc"):
        con = connect(tmp_path)
    assert con.execute("SELECT count(*), sum(step) FROM scalars").fetchone() == (4, 8)
    assert bad.exists()


def test_a_corrupt_file_with_intact_magic_is_skipped_by_sql(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", "corrupt", points=5, per_segment=1)
    bad = run / "scalars" / SegmentName("aaaaaaaa", 3, 3).filename
    data = bytearray(bad.read_bytes())
    data[4:-8] = b"\xff" * (len(data) - 12)
    bad.write_bytes(bytes(data))
    with pytest.warns(SkippedFileWarning, match="0000000003"):
        rows = sql("SELECT count(*), sum(step) FROM scalars", tmp_path).fetchall()
    assert rows == [(4, 7)]
    assert bad.exists()


def test_a_newer_format_is_refused_with_the_fix(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", "newer")
    marker = json.loads((run / MARKER_NAME).read_text())
    marker["format_version"] = 99
    (run / MARKER_NAME).write_text(json.dumps(marker))
    with pytest.raises(FormatVersionError, match="upgrade localtrack"):
        connect(tmp_path)


def _store_state(root: Path) -> dict[Path, bytes]:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("live", [True, False])
def test_nothing_through_connect_writes_to_the_store(tmp_path: Path, live: bool) -> None:
    run = make_run(tmp_path / "r", "ro", points=3)
    if not live:  # a stopped run's files are read by path, a live one's through descriptors
        old = time.time() - 3600
        os.utime(run / MARKER_NAME, (old, old))
    before = _store_state(tmp_path)
    con = connect(tmp_path)
    listed = con.execute("SELECT current_setting('allowed_paths')").fetchall()[0][0]
    assert listed, "the connection reads the segments through allowed paths"
    target = listed[0]  # a path DuckDB may open: the one a COPY would need to overwrite
    attempts = [
        f"COPY (SELECT 1) TO '{target}' (FORMAT csv, USE_TMP_FILE false)",
        f"COPY (SELECT 1) TO '{target}' (FORMAT parquet)",
        f"COPY (SELECT 1) TO '{run}/scalars/x.parquet'",
        f"COPY (SELECT 1) TO '{tmp_path}/out.csv'",
        f"EXPORT DATABASE '{tmp_path}/export'",
        f"ATTACH '{tmp_path}/db.duckdb'",
        f"PREPARE p AS COPY (SELECT 1) TO '{target}' (USE_TMP_FILE false)",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        f"SET profiling_output = '{target}'",
        f"CALL enable_logging(storage = 'file', storage_path = '{tmp_path}/log')",
        f"SELECT * FROM read_parquet('{run}/**/*.parquet')",
    ]
    for statement in attempts:
        with pytest.raises((duckdb.Error, UsageError)):
            con.execute(statement)
        with pytest.raises((duckdb.Error, UsageError)):
            con.sql(statement)
    relation = con.sql("SELECT 1 AS x")
    for write in ("write_csv", "to_parquet"):
        with pytest.raises(UsageError, match="read-only"):
            getattr(relation, write)(target)
    with pytest.raises(UsageError, match="read-only"):
        con.sql("SELECT 1").query("t", f"COPY t TO '{target}' (USE_TMP_FILE false)")
    with pytest.raises(UsageError, match="read-only"):
        con.cursor().execute(f"COPY (SELECT 1) TO '{target}' (USE_TMP_FILE false)")
    assert _store_state(tmp_path) == before
    assert con.execute("SELECT count(*) FROM scalars").fetchall() == [(3,)]
    assert con.sql("SELECT sum(step) AS s FROM scalars").fetchall() == [(3,)]
    assert list(con.table("scalars").df()["step"]) == [0, 1, 2]
    con.execute("CREATE TABLE mine AS SELECT 1 AS x")  # in the connection's memory only
    con.execute("SET threads = 1")
    assert con.sql("SELECT * FROM mine").fetchall() == [(1,)]
    assert _store_state(tmp_path) == before


@pytest.mark.parametrize(
    "statement", ["COPY (SELECT 1) TO 'x.csv'", "CREATE TABLE t AS SELECT 1", "SET threads = 1", ""]
)
def test_sql_runs_queries_only(tmp_path: Path, statement: str) -> None:
    with pytest.raises(UsageError):
        sql(statement, tmp_path)


def test_sql_result_outlives_the_store(tmp_path: Path) -> None:
    make_run(tmp_path / "r", "gone", points=4)
    result = sql("SELECT step FROM scalars ORDER BY step", tmp_path)
    for p in sorted(tmp_path.rglob("*.parquet")):
        p.unlink()
    assert [r[0] for r in result.fetchall()] == [0, 1, 2, 3]


def test_scalars_written_by_two_writers_are_both_read(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", "two", points=3)
    publish(
        run,
        "scalars",
        SegmentName("bbbbbbbb", 0, 0),
        scalar_rows("two", "loss", [3, 4], [0.3, 0.4], "bbbbbbbb", 0),
    )
    assert connect(tmp_path).execute(
        "SELECT count(DISTINCT writer), count(*) FROM scalars"
    ).fetchone() == (2, 5)


def test_sql_result_converts_like_a_relation(tmp_path: Path) -> None:
    make_run(tmp_path / "r", "conv", points=5)
    result = sql("SELECT step, value FROM scalars ORDER BY step", tmp_path)
    assert len(result) == 5
    assert result.columns == ["step", "value"]
    assert result.df()["step"].tolist() == [0, 1, 2, 3, 4]
    assert result.arrow().column("value").to_pylist() == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert result.filter("step > 2").fetchall() == [(3, 0.3), (4, 0.4)]


def test_sql_result_prints_as_a_table(tmp_path: Path) -> None:
    make_run(tmp_path / "r", "shown", points=2)
    text = repr(sql("SELECT run_id, status FROM runs", tmp_path))
    assert "run_id" in text and "shown" in text and "finished" in text
