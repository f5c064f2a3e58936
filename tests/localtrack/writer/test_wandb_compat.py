"""What W&B users write every day works as in W&B (issue #11): init's keywords, watch counting
backward passes, step/commit rules, define_metric, Table, save, login, alert, the summary."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import localtrack
from localtrack import Image, LocaltrackWarning, Table, UsageError
from localtrack._store.runs import run_status
from localtrack._store.segments import read_stream

torch = pytest.importorskip("torch")


def stream(run_dir, name):
    table = read_stream(Path(run_dir), name)
    return [] if table is None else table.to_pylist()


def latest(run_dir, name):
    rows = sorted(stream(run_dir, name), key=lambda r: (r["wall_time"], r["seq"]))
    return {r["key"]: json.loads(r["value"]) for r in rows}


def start_payload(run_dir):
    start = next(r for r in stream(run_dir, "events") if r["kind"] == "start")
    return json.loads(start["payload"])


def test_the_seed_first_line_and_every_init_keyword(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "train.py"
    script.write_text("print('training')\n")
    monkeypatch.setattr(sys.modules["__main__"], "__file__", str(script), raising=False)
    run = localtrack.init(
        project="my-test-project",
        entity="jinmang2",
        dir=tmp_path,
        mode="online",
        reinit=True,
        settings={"console": "off"},
        save_code=True,
        anonymous="never",
        magic=False,
        allow_val_change=True,
        force=False,
        monitor_gym=False,
        id="seedrun1",
        resume="allow",
        fork_from="other?_step=10",
        config={"lr": 0.1},
    )
    run.config.lr = 0.2  # allow_val_change=True at init lets it change
    assert run.entity == "jinmang2" and run.url is None and run.id == "seedrun1"
    run.finish()
    meta = start_payload(run.dir)
    assert meta["entity"] == "jinmang2" and meta["fork_from"] == "other?_step=10"
    assert meta["settings"] == {"console": "off"} and meta["mode"] == "online"
    assert (Path(run.dir) / "files" / "code" / "train.py").read_text() == "print('training')\n"
    assert latest(run.dir, "config") == {"lr": 0.2}
    got = localtrack.sql(
        "SELECT metadata->>'entity' FROM runs WHERE run_id = 'seedrun1'", root=tmp_path
    ).fetchall()
    assert got == [("jinmang2",)]
    from localtrack._cli.main import main

    assert main(["--root", str(tmp_path), "show", "seedrun1"]) == 0
    assert "entity      jinmang2" in capsys.readouterr().out


def test_unknown_keywords_warn_and_bad_modes_raise(tmp_path):
    with pytest.warns(LocaltrackWarning, match="unknown keyword 'nonsense'"):
        run = localtrack.init(project="p", dir=tmp_path, nonsense=1)
    run.finish()
    with pytest.raises(UsageError, match="mode must be one of"):
        localtrack.init(project="p", dir=tmp_path, mode="cloud")


def test_sync_tensorboard_is_recorded_and_patches_tensorboard(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(localtrack, "patch_tensorboard", lambda *a, **k: calls.append(a))
    run = localtrack.init(project="p", dir=tmp_path, sync_tensorboard=True)
    run.finish()
    assert start_payload(run.dir)["sync_tensorboard"] is True and calls == [(run,)]


def test_disabled_mode_does_nothing(tmp_path, monkeypatch):
    run = localtrack.init(project="p", dir=tmp_path, mode="disabled", config={"a": 1})
    run.config.batch_size = 4
    run.log({"loss": 1.0})
    localtrack.log({"loss": 2.0})
    run.watch(torch.nn.Linear(2, 2))
    run.define_metric("loss", summary="min")
    run.summary["best"] = 1
    run.alert("t", "x")
    run.finish()
    localtrack.finish()
    assert run.config.a == 1 and run.config.batch_size == 4 and run.disabled
    assert not (tmp_path / "p").exists()
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert localtrack.init(project="p", dir=tmp_path).disabled
    localtrack.finish()


def test_second_init_finishes_the_first_and_leaves_no_empty_run(tmp_path):
    empty = localtrack.init(project="p", dir=tmp_path)
    kept = None
    second = localtrack.init(project="p", dir=tmp_path)
    assert not Path(empty.dir).exists()  # it logged nothing: removed, not left behind
    second.log({"x": 1.0})
    third = localtrack.init(project="p", dir=tmp_path)
    assert run_status(Path(second.dir)) == "finished"
    assert localtrack.init(project="p", dir=tmp_path, reinit="return_previous") is third
    kept = localtrack.init(project="p", dir=tmp_path, reinit="create_new")
    third.log({"y": 1.0})  # still open
    third.finish()
    kept.finish()
    assert [r["value"] for r in stream(third.dir, "scalars")] == [1.0]


def test_watch_called_and_config_as_the_seed_writes_them(tmp_path):
    localtrack.init(project="p", dir=tmp_path)
    localtrack.watch_called = False
    config = localtrack.config
    config.batch_size = 4
    config.epochs = 2
    assert localtrack.config.batch_size == 4
    run = localtrack.run
    localtrack.finish()
    assert latest(run.dir, "config") == {"batch_size": 4, "epochs": 2}


def test_watch_counts_backward_passes_not_forwards(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    other = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD([*model.parameters(), *other.parameters()], lr=0.1)
    run = localtrack.init(project="p", dir=tmp_path)
    run.watch([model, other], log="all", log_freq=3)
    for _ in range(9):
        x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
        loss = torch.nn.functional.cross_entropy(model(x), y) + other(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        acc = (model(x).argmax(1) == y).float().mean()  # a second forward, in train mode
        with torch.no_grad():
            model.eval()
            model(x)  # and an eval forward
            model.train()
        run.log({"loss": loss, "acc": acc})
    run.finish()
    rows = stream(run.dir, "histograms")
    grads = sorted(r["step"] for r in rows if r["tag"] == "gradients/0.weight")
    assert grads == [2, 5, 8]  # the 3rd, 6th and 9th backward pass
    assert sorted(r["step"] for r in rows if r["tag"] == "graph_1/gradients/weight") == [2, 5, 8]
    params = [r["step"] for r in rows if r["tag"] == "parameters/0.weight"]
    assert len(params) == 6  # 18 forwards in train mode, every 3rd


def test_steps_and_commit_follow_wandb(tmp_path):
    run = localtrack.init(project="p", dir=tmp_path)
    run.log({"a": 1.0}, step=5)
    run.log({"b": 2.0}, commit=False)  # keeps step 5
    run.log({"c": 3.0}, step=5)  # the same step again: merged, no warning
    run.log({"d": 4.0})  # commits step 5
    run.log({"e": 5.0})  # step 6
    with pytest.warns(LocaltrackWarning, match="W&B drops") as caught:
        run.log({"late": 1.0}, step=2)
        run.log({"late": 2.0}, step=3)  # warned once
    assert len(caught) == 1 and "step 2 is lower than the run's current step 7" in str(
        caught[0].message
    )
    run.finish()
    got = {r["tag"]: r["step"] for r in stream(run.dir, "scalars")}
    assert got == {"a": 5, "b": 5, "c": 5, "d": 5, "e": 6}


def test_define_metric_summaries(tmp_path):
    run = localtrack.init(project="p", dir=tmp_path)
    run.define_metric("loss", summary="min,last")
    run.define_metric("val/*", summary="max,mean", step_metric="epoch")
    run.define_metric("acc", summary="best", goal="maximize")
    for i, loss in enumerate([3.0, 1.0, 2.0]):
        run.log({"loss": loss, "val/acc": torch.tensor(i / 2), "acc": 0.1 * i, "epoch": i})
    with pytest.raises(UsageError, match="goal="):
        run.define_metric("x", summary="best")
    run.finish()
    summary = latest(run.dir, "summary")
    assert summary["loss/min"] == 1.0 and summary["loss/last"] == 2.0 and "loss" not in summary
    assert summary["val/acc/max"] == 1.0 and summary["val/acc/mean"] == 0.5
    assert summary["acc/best"] == pytest.approx(0.2) and summary["epoch"] == 2
    metrics = [json.loads(r["payload"]) for r in stream(run.dir, "events") if r["kind"] == "metric"]
    assert metrics[1]["step_metric"] == "epoch"


def test_table_is_stored_and_shown_by_sql(tmp_path):
    run = localtrack.init(project="p", dir=tmp_path)
    table = Table(columns=["id", "pred", "img"], data=[[1, 0.5, None]])
    run.log({"preds": table})
    table.add_data(2, np.float32(0.25), Image(np.zeros((2, 3, 3), dtype=np.uint8)))
    run.log({"preds": table})
    run.summary["t"] = table
    run.finish()
    rows = localtrack.sql(
        "SELECT step, columns, column_types, num_rows, data FROM tables ORDER BY step",
        root=tmp_path,
    ).fetchall()
    assert [(r[0], r[1], r[3]) for r in rows] == [
        (0, ["id", "pred", "img"], 1),
        (1, ["id", "pred", "img"], 2),
    ]
    assert rows[1][2] == ["number", "number", "image"]
    last = json.loads(rows[1][4])
    assert last[1][:2] == [2, 0.25] and last[1][2]["_type"] == "image"
    assert latest(run.dir, "summary")["t"] == {"_type": "table", "ncols": 3, "nrows": 2}


def test_save_login_alert_and_run_fields(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "model.pt").write_bytes(b"weights")
    (tmp_path / "out" / "notes.txt").write_text("v1")
    assert localtrack.login() is True
    run = localtrack.init(
        project="p", dir=tmp_path / "runs", tags=["a"], notes="n", group="g", entity="e"
    )
    saved = localtrack.save("out/*.pt")
    assert [Path(p).name for p in saved] == ["model.pt"]
    run.save(str(tmp_path / "out" / "notes.txt"), policy="end")
    (tmp_path / "out" / "notes.txt").write_text("v2")
    localtrack.alert("diverged", "loss is NaN", level="WARN")
    assert (run.tags, run.notes, run.group, run.entity, run.url) == (("a",), "n", "g", "e", None)
    run.tags = ("a", "b")
    run.finish()
    files = Path(run.dir) / "files"
    assert (files / "model.pt").read_bytes() == b"weights"
    assert (files / "notes.txt").read_text() == "v2"  # policy="end": copied at finish
    err = capsys.readouterr().err
    assert "nothing to do" in err and "localtrack alert [WARN] diverged: loss is NaN" in err
    alerts = [json.loads(r["payload"]) for r in stream(run.dir, "events") if r["kind"] == "alert"]
    assert alerts == [{"title": "diverged", "text": "loss is NaN", "level": "WARN"}]


def test_summary_describes_media_and_is_written_at_exit_without_finish(tmp_path):
    code = textwrap.dedent(
        f"""
        import numpy as np, localtrack
        run = localtrack.init(project="p", dir={str(tmp_path)!r}, id="noend")
        run.log({{"loss": 0.5, "img": localtrack.Image(np.zeros((4, 5, 3), np.uint8)),
                  "w": np.arange(5000.0), "h": localtrack.Histogram([1, 2, 3])}})
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    run_dir = tmp_path / "p" / "noend"
    summary = latest(run_dir, "summary")
    assert summary["loss"] == 0.5
    assert summary["img"] == {
        "_type": "image-file",
        "format": "png",
        "width": 5,
        "height": 4,
        "caption": None,
    }
    assert summary["w"] == {"_type": "histogram", "shape": [5000], "dtype": "float64"}
    assert summary["h"]["_type"] == "histogram"
    assert max(len(r["value"]) for r in stream(run_dir, "summary")) < 200
    assert run_status(run_dir) == "finished"


@pytest.mark.parametrize(
    "bad",
    [np.zeros((4, 4, 7)), "no/such/file.png", np.array(["a", "b"]), torch.zeros(2, 3, 4, 5)],
)
def test_a_bad_image_warns_and_is_skipped(tmp_path, bad):
    run = localtrack.init(project="p", dir=tmp_path)
    image = Image(bad)  # never raises: the private BadValue does not escape
    with pytest.warns(LocaltrackWarning, match="bad Image"):
        run.log({"img": image, "loss": 1.0})
    with pytest.warns(LocaltrackWarning, match="'imgs'"):  # a list with one bad image
        run.log({"imgs": [Image(np.zeros((2, 2, 3))), image]})
    run.finish()
    assert [r["tag"] for r in stream(run.dir, "scalars")] == ["loss"]
    assert stream(run.dir, "images") == []


def test_a_bad_histogram_warns_and_is_skipped(tmp_path):
    run = localtrack.init(project="p", dir=tmp_path)
    with pytest.warns(LocaltrackWarning, match="finite"):
        run.log({"h": localtrack.Histogram([float("nan")]), "x": 1.0})
    with pytest.raises(UsageError):
        localtrack.Histogram()
    run.finish()
    assert stream(run.dir, "histograms") == []


def test_table_from_a_dataframe_and_module_level_define_metric(tmp_path):
    pd = pytest.importorskip("pandas")
    run = localtrack.init(project="p", dir=tmp_path)
    localtrack.define_metric("loss", summary="max")
    frame = pd.DataFrame({"name": ["a", "b"], "score": [0.5, 0.75]})
    localtrack.log({"frame": Table(dataframe=frame), "loss": 2.0})
    localtrack.log({"loss": 1.0})
    run.finish()
    ((columns, data),) = localtrack.sql(
        "SELECT columns, data FROM tables", root=tmp_path
    ).fetchall()
    assert columns == ["name", "score"] and json.loads(data) == [["a", 0.5], ["b", 0.75]]
    assert latest(run.dir, "summary")["loss/max"] == 2.0
