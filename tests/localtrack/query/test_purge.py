"""purge_step in the query views: the same rows TensorBoard's own reader shows, for the same calls."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests
import torch.utils.tensorboard as tb
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import localtrack
from localtrack._cli.main import main as cli_main
from localtrack._query import connect, sql
from localtrack._query.purge import EventRow, Purge, hidden_sql, multi_writer_runs, rules
from localtrack._query.purge_events import events_cache_path
from localtrack._store.schema import TAGGED_STREAMS
from localtrack._ui.wire import decode_series

Writer = tuple[int | None, range]
"""One writer of a scenario: its purge_step, and the steps it logs (then it closes)."""

SCENARIOS: dict[str, list[Writer]] = {
    "resume": [(None, range(100)), (50, range(50, 150))],
    "two-resumes": [(None, range(100)), (50, range(50, 120)), (80, range(80, 131))],
    "purge-past-the-end": [(None, range(50)), (80, range(80, 90))],
    "purge-everything": [(None, range(30)), (0, range(10))],
    "no-purge": [(None, range(100)), (None, range(50))],
    "resume-back-further": [(None, range(100)), (90, range(90, 110)), (20, range(20, 40))],
}


def value(writer: int, step: int) -> float:
    """Exact in float32 (TensorBoard stores scalars as float32), different per writer."""
    return step + writer / 4


def histogram_values(writer: int, step: int) -> np.ndarray:
    return np.arange(5, dtype=np.float64) + step + 100 * writer


def log(writer: object, index: int, steps: range) -> None:
    for step in steps:
        writer.add_scalar("loss", value(index, step), step)  # type: ignore[attr-defined]
        if step % 10 == 0:
            writer.add_scalar("lr", 0.5, step)  # type: ignore[attr-defined]
            writer.add_histogram("w", histogram_values(index, step), step)  # type: ignore[attr-defined]


def write_tensorboard(log_dir: Path, writers: list[Writer]) -> None:
    """torch's SummaryWriter, one after the other; event files renamed to sort in that order
    (TensorBoard reads a directory's files sorted by name, as its names sort by time)."""
    log_dir.mkdir(parents=True)
    for i, (purge_step, steps) in enumerate(writers):
        before = set(log_dir.iterdir())
        w = tb.SummaryWriter(str(log_dir), purge_step=purge_step)
        log(w, i, steps)
        w.close()
        (new,) = set(log_dir.iterdir()) - before
        new.rename(log_dir / f"events.out.tfevents.{i:010d}.test")


def write_localtrack(log_dir: Path, writers: list[Writer]) -> None:
    for i, (purge_step, steps) in enumerate(writers):
        w = localtrack.SummaryWriter(log_dir, purge_step=purge_step)
        log(w, i, steps)
        w.close()


def tensorboard_rows(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    out = {tag: sorted((e.step, e.value) for e in acc.Scalars(tag)) for tag in ("loss", "lr")}
    out["w"] = sorted((e.step, e.histogram_value.min) for e in acc.Histograms("w"))
    return out


def localtrack_rows(root: Path) -> dict[str, list[tuple[int, float]]]:
    con = connect(root)
    out = {
        tag: con.execute(
            "SELECT step, value FROM scalars WHERE tag = ? ORDER BY step, value", [tag]
        ).fetchall()
        for tag in ("loss", "lr")
    }
    out["w"] = con.sql("SELECT step, min FROM histograms ORDER BY step, min").fetchall()
    return out


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_views_show_what_tensorboard_shows(tmp_path: Path, name: str) -> None:
    writers = SCENARIOS[name]
    write_tensorboard(tmp_path / "tb" / "run", writers)
    write_localtrack(tmp_path / "lt" / "p" / "run", writers)
    expected = tensorboard_rows(tmp_path / "tb" / "run")
    assert localtrack_rows(tmp_path / "lt") == expected
    if name == "resume":  # one curve: each step once, the resumed writer's from 50 on
        assert [s for s, _ in expected["loss"]] == list(range(150))
        assert dict(expected["loss"])[49] == 49 and dict(expected["loss"])[50] == 50.25


def test_raw_views_keep_every_row_and_purges_are_listed(tmp_path: Path) -> None:
    write_localtrack(tmp_path / "p" / "run", SCENARIOS["resume"])
    con = connect(tmp_path)
    assert con.sql("SELECT count(*) FROM _scalars_all WHERE tag = 'loss'").fetchall() == [(200,)]
    assert con.sql("SELECT count(*) FROM scalars WHERE tag = 'loss'").fetchall() == [(150,)]
    assert con.sql("SELECT count(*) FROM _histograms_all").fetchall() == [(20,)]
    assert con.sql("SELECT count(*) FROM histograms").fetchall() == [(15,)]
    purges = con.sql("SELECT step, writer <> purged_by FROM _purges").fetchall()
    assert purges == [(50, True)]
    for stream in TAGGED_STREAMS:  # every tagged stream has both views
        con.sql(f"SELECT count(*) FROM _{stream}_all").fetchall()
    assert len(sql("SELECT * FROM scalars WHERE tag = 'loss'", tmp_path)) == 150


def test_images_and_texts_of_earlier_writers_are_hidden_too(tmp_path: Path) -> None:
    run = tmp_path / "p" / "run"
    for purge_step, steps in [(None, range(10)), (5, range(5, 8))]:
        w = localtrack.SummaryWriter(run, purge_step=purge_step)
        for s in steps:
            w.add_image("img", np.zeros((3, 4, 4), np.uint8), s)
            w.add_text("note", f"{purge_step}:{s}", s)
        w.close()
    con = connect(tmp_path)
    assert con.sql("SELECT step FROM images ORDER BY step").fetchall() == [(s,) for s in range(8)]
    texts = dict(con.sql("SELECT step, text FROM texts").fetchall())
    assert texts == {**{s: f"None:{s}" for s in range(5)}, **{s: f"5:{s}" for s in range(5, 8)}}


def test_other_runs_and_single_writer_runs_are_read_plain(tmp_path: Path) -> None:
    write_localtrack(tmp_path / "p" / "resumed", SCENARIOS["resume"])
    write_localtrack(tmp_path / "p" / "alone", [(None, range(100))])
    events = sorted((tmp_path / "p").glob("*/events/*.parquet"))
    assert {p.parent.parent.name for p in multi_writer_runs(events)} == {"resumed"}
    con = connect(tmp_path)
    counts = con.sql(
        "SELECT r.name, count(*) FROM scalars s JOIN runs r USING (run_id) "
        "WHERE tag = 'loss' GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert counts == [("alone", 100), ("resumed", 150)]
    (definition,) = con.sql("SELECT sql FROM duckdb_views() WHERE view_name = 'scalars'").fetchall()
    plain, filtered = definition[0].split("UNION ALL")
    # one file each: "alone" and the resumed writer's read plain, the first writer's filtered
    assert plain.count("'/") == 2 and "WHERE" not in plain
    assert filtered.count("'/") == 1 and "step >= 50" in filtered


def test_a_store_without_purges_reads_the_raw_files_directly(tmp_path: Path) -> None:
    write_localtrack(tmp_path / "p" / "run", SCENARIOS["no-purge"])
    con = connect(tmp_path)
    assert con.sql("SELECT count(*) FROM _purges").fetchall() == [(0,)]
    definition = con.sql("SELECT sql FROM duckdb_views() WHERE view_name = 'scalars'").fetchall()[0]
    assert definition is not None and "WHERE" not in definition[0]


def row(run: str, writer: str, kind: str, us: int, step: int | None = None) -> EventRow:
    return EventRow(run, writer, kind, us, None if step is None else json.dumps({"step": step}))


def test_rule_hides_only_writers_that_started_before_the_purging_one() -> None:
    events = [
        row("r", "aaaaaaaa", "start", 10),
        row("r", "bbbbbbbb", "start", 20),  # another rank of the first job
        row("r", "cccccccc", "start", 100),  # the resumed job's rank 0 ...
        row("r", "cccccccc", "purge", 101, 50),
        row("r", "dddddddd", "start", 100),  # ... and rank 1, started at the same instant
        row("x", "eeeeeeee", "start", 1),  # another run
        row("r", "ffffffff", "purge", 5, 7),  # a purge without a start: its own time counts
    ]
    assert rules(events) == [
        Purge("r", "aaaaaaaa", 50, 101, "cccccccc"),
        Purge("r", "bbbbbbbb", 50, 101, "cccccccc"),
    ]


@pytest.mark.parametrize("payload", ["", "not json", "[]", '{"step": "5"}', '{"step": true}'])
def test_a_malformed_purge_event_hides_nothing(payload: str) -> None:
    events = [row("r", "aaaaaaaa", "start", 1), EventRow("r", "bbbbbbbb", "purge", 9, payload)]
    assert rules([*events, row("r", "bbbbbbbb", "start", 5)]) == []


def test_hidden_sql_quotes_and_spells_time_in_microseconds() -> None:
    text = hidden_sql([Purge("it's", "aaaaaaaa", -3, 1_500_000, "bbbbbbbb")])
    assert "run_id = 'it''s'" in text and "step >= -3" in text
    assert "TIMESTAMP '1970-01-01 00:00:01.500000'" in text
    assert hidden_sql([]) == "FALSE"


LOSS = "SELECT step FROM scalars WHERE tag = 'loss'"


def test_events_are_read_once_per_file_and_new_files_are_seen(tmp_path: Path) -> None:
    run = tmp_path / "p" / "run"
    write_localtrack(run, [(None, range(100))])
    connect(tmp_path)
    assert not events_cache_path().exists()  # one writer: no events read at all
    write_localtrack(run, [(50, range(50, 60))])
    assert len(sql(LOSS, tmp_path)) == 60
    cached = pq.read_table(events_cache_path())
    files = {str(p.resolve()) for p in run.glob("events/*.parquet")}
    assert set(cached["path"].to_pylist()) == files
    # A cached file is not read again: its rows come from the cache (here, doctored).
    doctored = cached.set_column(
        cached.schema.get_field_index("payload"),
        "payload",
        pa.array([json.dumps({"step": 0}) if k == "purge" else p for k, p in
                  zip(cached["kind"].to_pylist(), cached["payload"].to_pylist(), strict=True)]),
    )  # fmt: skip
    pq.write_table(doctored, events_cache_path())
    assert len(sql(LOSS, tmp_path)) == 10
    events_cache_path().unlink()  # always safe to delete
    assert len(sql(LOSS, tmp_path)) == 60
    write_localtrack(run, [(55, range(55, 57))])  # a third writer
    steps = [s for (s,) in sql(LOSS + " ORDER BY step", tmp_path).fetchall()]
    assert steps == list(range(57))


def test_cli_runs_and_show_count_only_what_the_views_show(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Resumed at 50 and stopped again at 69: TensorBoard's last loss is step 69, not 99.
    write_localtrack(tmp_path / "p" / "run", [(None, range(100)), (50, range(50, 70))])
    for _ in range(2):  # again from the tails cache: the purged run's files are never cached
        assert cli_main(["--root", str(tmp_path), "runs", "--json", "--metric", "loss"]) == 0
        (listed,) = json.loads(capsys.readouterr().out)
        assert listed["last_step"] == 69 and listed["loss"] == 69.25
    assert cli_main(["--root", str(tmp_path), "show", "run"]) == 0
    (line,) = [x.split() for x in capsys.readouterr().out.splitlines() if x.startswith("loss ")]
    assert line == ["loss", "70", "69", "69.25", "0", "69.25"]  # points, last step, last, …


def test_the_dashboard_draws_one_curve(tmp_path: Path) -> None:
    write_localtrack(tmp_path / "p" / "run", SCENARIOS["resume"])
    with localtrack.ui.serve(tmp_path, port=0) as server:
        http = requests.Session()
        http.headers["Authorization"] = f"token {server.token}"
        url = f"http://127.0.0.1:{server.port}/api"
        (run,) = http.get(url + "/runs").json()["runs"]
        got = http.get(url + "/series", params={"tag": "loss", "runs": run["run_id"]})
        _, (cols,) = decode_series(got.content)
        assert list(cols["x"]) == list(range(150))
        assert list(cols["y"]) == [value(0, s) for s in range(50)] + [
            value(1, s) for s in range(50, 150)
        ]
        rows = http.get(url + "/series.csv", params={"tag": "loss", "runs": run["run_id"]})
        assert rows.status_code == 200 and len(rows.text.strip().splitlines()) == 1 + 150
