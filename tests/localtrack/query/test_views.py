from __future__ import annotations

import json
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
    columns = [row[0] for row in con.sql(f"DESCRIBE {stream}").fetchall()]
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


def test_nothing_through_connect_writes_to_the_store(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", "ro", points=3)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    con = connect(tmp_path)
    attempts = [
        f"COPY (SELECT 1) TO '{run}/scalars/x.parquet'",
        f"COPY (SELECT 1) TO '{tmp_path}/out.csv'",
        f"ATTACH '{tmp_path}/db.duckdb'",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        f"SELECT * FROM read_parquet('{run}/**/*.parquet')",
    ]
    for statement in attempts:
        with pytest.raises(duckdb.Error):
            con.execute(statement)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert con.execute("SELECT count(*) FROM scalars").fetchone() == (3,)


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
