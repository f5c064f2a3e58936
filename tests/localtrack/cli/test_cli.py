from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from cli_store import write_run

from localtrack._cli.main import main
from localtrack._store.marker import read_marker


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store")
    write_run(root / "exp" / "alpha", points=50)
    write_run(root / "exp" / "beta", points=20)
    write_run(root / "other" / "gamma", points=5)
    return root


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_id(root: Path, *parts: str) -> str:
    return read_marker(root.joinpath(*parts))["run_id"]


def test_runs_lists_every_run_with_last_step_and_values(store: Path, capsys) -> None:
    code, out, _ = run_cli(capsys, "--root", str(store), "runs", "--json")
    assert code == 0
    runs = {r["name"]: r for r in json.loads(out)}
    assert set(runs) == {"alpha", "beta", "gamma"}
    assert runs["alpha"]["status"] == "finished"
    assert runs["alpha"]["last_step"] == 49
    assert runs["alpha"]["Loss/train"] == pytest.approx(1 / 50)
    assert runs["beta"]["Accuracy/val"] == pytest.approx(0.19)
    assert runs["gamma"]["project"] == "other"


@pytest.mark.parametrize(
    ("filters", "names"),
    [
        (["--project", "exp"], ["alpha", "beta"]),
        (["--status", "finished", "--name", "gam"], ["gamma"]),
        (["--name", "*ta"], ["beta"]),
        (["--status", "crashed"], []),
    ],
)
def test_runs_filters(store: Path, capsys, filters: list[str], names: list[str]) -> None:
    code, out, _ = run_cli(capsys, "runs", "--root", str(store), "--json", *filters)
    assert code == 0
    assert sorted(r["name"] for r in json.loads(out)) == names


def test_runs_table_has_a_header_and_a_row_per_run(store: Path, capsys) -> None:
    code, out, _ = run_cli(capsys, "--root", str(store), "runs")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split()[:4] == ["run_id", "project", "name", "status"]
    assert len(lines) == 2 + 3


def test_sql_answers_as_table_csv_json_and_parquet(store: Path, capsys, tmp_path: Path) -> None:
    query = (
        "SELECT r.name, max(s.step) AS last, min(s.value) AS best FROM scalars s "
        "JOIN runs r USING (run_id) WHERE s.tag = 'Loss/train' GROUP BY r.name ORDER BY r.name"
    )
    code, out, _ = run_cli(capsys, "--root", str(store), "sql", query, "--csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["name", "last", "best"]
    assert [(r[0], int(r[1]), float(r[2])) for r in rows[1:]] == [
        ("alpha", 49, pytest.approx(0.02)),
        ("beta", 19, pytest.approx(0.05)),
        ("gamma", 4, pytest.approx(0.2)),
    ]
    code, out, _ = run_cli(capsys, "--root", str(store), "sql", query, "--json")
    assert [r["last"] for r in json.loads(out)] == [49, 19, 4]
    code, out, _ = run_cli(capsys, "--root", str(store), "sql", query)
    assert out.splitlines()[2].split()[:2] == ["alpha", "49"]
    target = tmp_path / "out.parquet"
    code, _, err = run_cli(capsys, "--root", str(store), "sql", query, "--parquet", str(target))
    assert code == 0 and "3 rows" in err
    assert pq.read_table(target).column("last").to_pylist() == [49, 19, 4]


def test_sql_reads_the_query_from_stdin(store: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("SELECT count(*) AS n FROM images"))
    code, out, _ = run_cli(capsys, "--root", str(store), "sql", "-", "--json")
    assert (code, json.loads(out)) == (0, [{"n": 3}])


@pytest.mark.parametrize(
    "query", ["SELECT * FROM nosuchview", "COPY (SELECT 1) TO 'x.csv'", "SELEC 1"]
)
def test_sql_errors_are_one_line_and_non_zero(store: Path, capsys, query: str) -> None:
    code, out, err = run_cli(capsys, "--root", str(store), "sql", query)
    assert code != 0
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("localtrack sql: error:")


def test_show_prints_config_and_each_scalar_with_last_min_max(store: Path, capsys) -> None:
    rid = run_id(store, "exp", "beta")
    code, out, _ = run_cli(capsys, "--root", str(store), "show", rid[:6])
    assert code == 0
    assert f"run_id      {rid}" in out
    loss = next(line for line in out.splitlines() if line.startswith("Loss/train"))
    assert loss.split() == ["Loss/train", "20", "19", "0.05", "0.05", "1"]
    assert "histograms" in out and "images" in out


def test_show_by_name_and_unknown_run(store: Path, capsys) -> None:
    assert run_cli(capsys, "--root", str(store), "show", "gamma")[0] == 0
    code, _, err = run_cli(capsys, "--root", str(store), "show", "nosuchrun")
    assert code == 1
    assert "no run 'nosuchrun'" in err


def test_tail_without_follow_prints_the_last_rows(store: Path, capsys) -> None:
    code, out, _ = run_cli(
        capsys, "--root", str(store), "tail", "alpha", "-n", "3", "--tag", "Loss/%", "--no-follow"
    )
    assert code == 0
    steps = [int(line.split()[2]) for line in out.splitlines()]
    assert steps == [47, 48, 49]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_writes_every_stream(store: Path, capsys, tmp_path: Path, fmt: str) -> None:
    out_dir = tmp_path / "export"
    code, _, err = run_cli(
        capsys, "--root", str(store), "export", "alpha", "--format", fmt, "--out", str(out_dir)
    )
    assert code == 0
    assert "export: [" in err
    names = {p.name for p in out_dir.iterdir()}
    assert {f"scalars.{fmt}", f"images.{fmt}", f"histograms.{fmt}", f"events.{fmt}"} <= names
    if fmt == "parquet":
        scalars = pq.read_table(out_dir / "scalars.parquet")
    else:
        with open(out_dir / "scalars.csv", newline="") as f:
            scalars = list(csv.DictReader(f))
    assert len(scalars) == 2 * 50 + 1  # add_hparams also logs its metric as a scalar
    if fmt == "csv":
        import base64

        with open(out_dir / "images.csv", newline="") as f:
            image = next(csv.DictReader(f))
        assert (image["width"], image["height"], image["channels"]) == ("6", "8", "3")
        assert base64.b64decode(image["data"]).startswith(b"\x89PNG")


def test_rm_asks_and_deletes_only_on_yes(tmp_path: Path, capsys, monkeypatch) -> None:
    write_run(tmp_path / "p" / "doomed", points=2)
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    code, _, err = run_cli(capsys, "--root", str(tmp_path), "rm", "doomed")
    assert code == 1 and "Delete run" in err
    assert (tmp_path / "p" / "doomed").exists()
    code, _, _ = run_cli(capsys, "--root", str(tmp_path), "rm", "doomed", "--yes")
    assert code == 0
    assert not (tmp_path / "p" / "doomed").exists()


def test_compact_reports_progress_and_keeps_every_row(tmp_path: Path, capsys) -> None:
    from localtrack._store.layout import SegmentName
    from localtrack._store.schema import STREAMS
    from localtrack._store.segments import publish, read_stream

    run = tmp_path / "p" / "many"
    write_run(run, points=10)
    table = read_stream(run, "scalars")
    assert table is not None
    for f in (run / "scalars").glob("*.parquet"):
        f.unlink()
    for seq in range(10):
        part = table.slice(seq * 2, 2).cast(STREAMS["scalars"])
        publish(run, "scalars", SegmentName("0123abcd", seq, seq), part)
    code, _, err = run_cli(capsys, "--root", str(tmp_path), "compact")
    assert code == 0
    assert "compact: [1/1]" in err
    assert len(list((run / "scalars").glob("*.parquet"))) == 1
    code, out, _ = run_cli(
        capsys, "--root", str(tmp_path), "sql", "SELECT count(*) AS n FROM scalars", "--json"
    )
    assert json.loads(out) == [{"n": 20}]


@pytest.mark.parametrize(
    "argv", [[], ["runs"], ["sql"], ["show"], ["tail"], ["export"], ["compact"], ["rm"]]
)
def test_help_everywhere(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    assert "usage: localtrack" in capsys.readouterr().out


def test_console_script_uses_localtrack_dir(store: Path) -> None:
    exe = Path(sys.executable).with_name("localtrack")
    env = {**os.environ, "LOCALTRACK_DIR": str(store)}
    done = subprocess.run(
        [str(exe), "sql", "SELECT count(DISTINCT run_id) AS n FROM scalars", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"n": 3}]


def test_rm_refuses_a_running_run_without_force(tmp_path: Path, capsys) -> None:
    from localtrack._writer.summary_writer import SummaryWriter

    writer = SummaryWriter(tmp_path / "p" / "busy")
    try:
        writer.add_scalar("x", 1.0, 0)
        writer.flush()
        code, _, err = run_cli(capsys, "--root", str(tmp_path), "rm", "busy", "--yes")
        assert code == 1
        assert "is running" in err and "--force" in err
        assert (tmp_path / "p" / "busy").exists()
        code, out, _ = run_cli(capsys, "--root", str(tmp_path), "runs", "--json")
        assert [r["status"] for r in json.loads(out)] == ["running"]
    finally:
        writer.close()
    code, out, _ = run_cli(capsys, "--root", str(tmp_path), "runs", "--json")
    assert [r["status"] for r in json.loads(out)] == ["finished"]


def test_runs_on_a_missing_root_says_so(tmp_path: Path, capsys) -> None:
    code, out, err = run_cli(capsys, "--root", str(tmp_path / "nowhere"), "runs")
    assert code == 0
    assert "no runs under" in err and "does not exist" in err
    code, out, _ = run_cli(capsys, "--root", str(tmp_path / "nowhere"), "runs", "--json")
    assert json.loads(out) == []


def test_a_newer_store_is_refused_in_one_line(tmp_path: Path, capsys) -> None:
    from localtrack._store.layout import MARKER_NAME

    write_run(tmp_path / "p" / "future", points=2)
    marker_path = tmp_path / "p" / "future" / MARKER_NAME
    marker = json.loads(marker_path.read_text())
    marker["format_version"] = 2
    marker_path.write_text(json.dumps(marker))
    code, out, err = run_cli(capsys, "--root", str(tmp_path), "sql", "SELECT 1")
    assert (code, out) == (1, "")
    assert err.count("\n") == 1
    assert "format version 2" in err and "upgrade localtrack" in err
