"""The SQL console's endpoints over real HTTP, on a store written by the real writer:
the rows are localtrack.sql's, writes and reads outside the store are refused, the store
stays byte-identical, a slow query is stopped at its limit."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

import localtrack
from localtrack._ui.views import sql as sql_view

ROWS = 25_000


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sqlstore") / "runs"
    w = localtrack.SummaryWriter(root / "exp" / "alpha")
    for step in range(ROWS):
        w.add_scalar("loss", 1.0 / (step + 1), step)
    for step in range(3):
        w.add_scalar("acc", step / 10, step)
        w.add_histogram("weights", np.arange(10.0) + step, step)
    w.add_text("notes", "<script>x</script>", 0)
    w.close()
    run = localtrack.init(project="wb", name="beta", dir=root, config={"lr": 0.1})
    for i in range(5):
        run.log({"reward": float(i)})
    run.finish()
    return root


@pytest.fixture(scope="module")
def server(root: Path) -> Iterator[localtrack.ui.Dashboard]:
    with localtrack.ui.serve(root, port=0) as handle:
        yield handle


@pytest.fixture
def http(server: localtrack.ui.Dashboard) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"token {server.token}"
    return s


def ask(http: requests.Session, server: localtrack.ui.Dashboard, sql: str, path: str = "query"):
    return http.get(f"http://127.0.0.1:{server.port}/api/sql/{path}", params={"sql": sql})


def fingerprint(root: Path) -> dict[str, tuple[int, str, int]]:
    """Every file and folder under root: size, sha256, mtime (byte-identical means equal)."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.stat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        out[str(p.relative_to(root))] = (st.st_size if p.is_file() else 0, digest, st.st_mtime_ns)
    return out


@pytest.mark.parametrize(
    "query",
    [
        "SELECT step, value FROM scalars WHERE tag = 'acc' ORDER BY step",
        "SELECT r.name, s.tag, count(*) AS n FROM scalars s JOIN runs r USING (run_id) "
        "GROUP BY ALL ORDER BY ALL",
        "SELECT run_id, key, value FROM config ORDER BY key",
        "SELECT tag, step, num, sum FROM histograms ORDER BY step",
    ],
)
def test_rows_equal_localtrack_sql(http, server, root: Path, query: str) -> None:
    body = ask(http, server, query).json()
    expected = localtrack.sql(query, root).arrow()
    assert [c["name"] for c in body["columns"]] == expected.column_names
    assert body["total"] == body["rows"] == expected.num_rows > 0
    got_rows = list(zip(*body["data"], strict=True))
    want_rows = [tuple(r.values()) for r in expected.to_pylist()]
    assert got_rows == want_rows


def test_first_ten_thousand_rows_and_the_total(http, server, root: Path) -> None:
    body = ask(
        http, server, "SELECT step, value FROM scalars WHERE tag = 'loss' ORDER BY step"
    ).json()
    assert body["rows"] == sql_view.ROW_LIMIT == 10_000
    assert body["total"] == ROWS and body["total_exact"] is True
    assert body["data"][0] == list(range(10_000))
    assert body["data"][1][:3] == [1.0, 0.5, 1.0 / 3]
    assert [c["kind"] for c in body["columns"]] == ["number", "number"]
    assert [c["type"] for c in body["columns"]] == ["BIGINT", "DOUBLE"]


def test_csv_download_holds_every_row(http, server, root: Path) -> None:
    query = "SELECT step, value, [step, 1] AS pair FROM scalars WHERE tag = 'loss' ORDER BY step"
    r = ask(http, server, query, "query.csv")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["step", "value", "pair"]
    assert len(rows) == ROWS + 1
    expected = localtrack.sql(query, root).fetchall()
    assert [(int(a), float(b)) for a, b, _ in rows[1:]] == [(a, b) for a, b, _ in expected]
    assert rows[2][2] == "[1, 1]"


def test_cells_a_browser_can_hold(http, server) -> None:
    body = ask(
        http,
        server,
        "SELECT 9007199254740993::BIGINT AS big, 'nan'::DOUBLE AS nan, NULL::INT AS nothing, "
        "'ab'::BLOB AS blob, TIMESTAMP '2026-01-02 03:04:05' AS t, [1, 2] AS list, repeat('x', 2000) AS long",
    ).json()
    big, nan, nothing, blob, t, lst, long = (c[0] for c in body["data"])
    assert big == "9007199254740993"  # beyond 2**53: as text, exact
    assert nan == "NaN" and nothing is None and blob == "<2 bytes>"
    assert t == "2026-01-02T03:04:05Z" and lst == "[1, 2]"
    assert len(long) == 500 and long.endswith("…")


@pytest.mark.parametrize(
    "attack",
    [
        "CREATE TABLE stolen AS SELECT * FROM scalars",
        "CREATE VIEW scalars2 AS SELECT 1",
        "INSERT INTO scalars VALUES (1)",
        "DROP VIEW scalars",
        "COPY (SELECT 1) TO '{segment}' (FORMAT parquet, USE_TMP_FILE false)",
        "COPY scalars TO '{outside}/copy.csv'",
        "EXPORT DATABASE '{outside}/export'",
        "ATTACH '{outside}/other.duckdb' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "PRAGMA memory_limit = '64GB'",
        "SELECT 1; CREATE TABLE t AS SELECT 1",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('{outside}/secret.txt')",
        "SELECT * FROM read_parquet('{outside}/foreign.parquet')",
        "SELECT * FROM glob('{outside}/*')",
        "SELECT * FROM query('CREATE TABLE t AS SELECT 1')",
    ],
)
def test_writes_and_reads_outside_the_store_are_refused(
    http, server, root: Path, attack: str, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("CONTENT-NOT-TO-LEAK")
    pq.write_table(pa.table({"x": [1]}), outside / "foreign.parquet")
    segment = next(root.rglob("scalars/*.parquet"))
    before = fingerprint(root)
    listed = sorted(outside.iterdir())
    r = ask(http, server, attack.format(segment=segment, outside=outside))
    assert r.status_code == 400, r.text
    assert "CONTENT-NOT-TO-LEAK" not in r.text
    assert fingerprint(root) == before
    assert sorted(outside.iterdir()) == listed
    still = ask(http, server, "SELECT count(*) AS n FROM scalars").json()
    assert still["data"] == [[ROWS + 3 + 5]]
    views = ask(http, server, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'stolen'")
    assert views.json()["data"] == [[0]]


def test_a_query_past_its_time_limit_is_stopped(http, server, monkeypatch) -> None:
    monkeypatch.setattr(sql_view, "QUERY_SECONDS", 0.3)
    r = ask(http, server, "SELECT count(*) FROM range(1000000000000) a")
    assert r.status_code == 400
    assert r.json() == {
        "error": "the query ran past the 0.3 s limit and was stopped",
        "kind": "timeout",
    }
    assert ask(http, server, "SELECT 42 AS answer").json()["data"] == [[42]]


def test_errors_name_the_problem(http, server) -> None:
    r = ask(http, server, "SELECT nope FROM scalars")
    assert r.status_code == 400 and "nope" in r.json()["error"]
    assert ask(http, server, "   ").json() == {"error": "the query is empty", "kind": "refused"}


def test_schema_lists_the_views_and_their_columns(http, server) -> None:
    views = {v["name"]: v["columns"] for v in ask(http, server, "", "schema").json()["views"]}
    assert {"runs", "scalars", "histograms", "texts", "config", "hparams"} <= set(views)
    assert not any(name.startswith("_") for name in views)
    assert [c["name"] for c in views["scalars"]][:5] == [
        "run_id",
        "tag",
        "step",
        "wall_time",
        "value",
    ]
