"""The runs, config and summary views over runs written with the W&B-style API."""

from __future__ import annotations

from pathlib import Path

from localtrack._query import connect, sql
from localtrack._writer.run import init


def test_runs_view_holds_config_tags_and_metadata(tmp_path: Path) -> None:
    run = init(
        project="wb",
        name="first",
        config={"lr": 0.01, "model": {"depth": 3, "act": "relu"}},
        dir=tmp_path,
        tags=["baseline", "cpu"],
        notes="a note",
        group="g1",
    )
    for step in range(10):
        run.log({"loss": 1.0 / (step + 1), "acc": step / 10}, step=step)
    run.summary["best_acc"] = 0.9
    run.config.update({"lr": 0.02}, allow_val_change=True)
    run.finish()
    con = connect(tmp_path)
    row = con.execute(
        "SELECT project, name, status, tags, notes, \"group\", config['lr']::DOUBLE, "
        "config['model/depth']::INT, config['model/act']->>'$', writers, api, "
        "metadata->>'$.python' IS NOT NULL, ended_at >= started_at FROM runs"
    ).fetchall()
    assert row == [
        ("wb", "first", "finished", ["baseline", "cpu"], "a note", "g1", 0.02, 3, "relu", 1,
         "wandb", True, True),
    ]  # fmt: skip
    summary = con.execute("SELECT key, value::DOUBLE FROM summary ORDER BY key").fetchall()
    assert summary == [("acc", 0.9), ("best_acc", 0.9), ("loss", 0.1)]  # last logged values too
    keys = [r[0] for r in con.execute("SELECT key FROM config ORDER BY key").fetchall()]
    assert keys == ["lr", "model/act", "model/depth"]
    rows = sql(
        "SELECT tag, count(*), max(step), arg_max(value, step) FROM scalars GROUP BY tag ORDER BY tag",
        tmp_path,
    ).fetchall()
    assert rows == [("acc", 10, 9, 0.9), ("loss", 10, 9, 0.1)]


def test_two_projects_and_a_failed_run(tmp_path: Path) -> None:
    for project, name, code in (("a", "ok", 0), ("b", "broken", 1)):
        run = init(project=project, name=name, dir=tmp_path)
        run.log({"x": 1.0}, step=0)
        run.finish(exit_code=code)
    rows = (
        connect(tmp_path)
        .execute("SELECT project, name, status FROM runs ORDER BY project")
        .fetchall()
    )
    assert rows == [("a", "ok", "finished"), ("b", "broken", "failed")]
