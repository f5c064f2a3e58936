"""LocaltrackLogger under Lightning's own logger contract (tests_pytorch/loggers/test_all.py)
and a real tiny Trainer: fit, validate, test, checkpoints, a failing fit, ddp_spawn."""

from __future__ import annotations

import json
import os
import pickle
from argparse import Namespace
from pathlib import Path

import pytest

pl = pytest.importorskip("lightning.pytorch")
torch = pytest.importorskip("torch")

from lightning.fabric.loggers.logger import _DummyExperiment  # noqa: E402
from lightning.pytorch.callbacks import Callback, ModelCheckpoint  # noqa: E402

import localtrack  # noqa: E402
from localtrack._store.runs import run_status  # noqa: E402
from localtrack._store.segments import read_stream  # noqa: E402
from localtrack.integrations.lightning import LocaltrackLogger  # noqa: E402

pytestmark = [
    # Lightning's own advice about tiny CPU-only loaders (workers, batches), not ours
    pytest.mark.filterwarnings("ignore::lightning.fabric.utilities.warnings.PossibleUserWarning"),
    pytest.mark.filterwarnings("ignore:.*GPU available but not used.*:UserWarning"),
]


class TinyModel(pl.LightningModule):
    """Lightning's BoringModel, logging what test_all.py's CustomModel logs."""

    def __init__(self, lr: float = 0.1, fail: bool = False, nested: dict | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(4, 2)
        self.example_input_array = torch.zeros(1, 4)

    def forward(self, x):
        return self.layer(x)

    def training_step(self, batch, batch_idx):
        if self.hparams.fail:
            raise RuntimeError("boom")
        loss = self(batch).sum()
        self.log("train_some_val", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        loss = self(batch).sum()
        self.log_dict({"early_stop_on": loss, "val_loss": loss})

    def test_step(self, batch, batch_idx):
        self.log("test_loss", self(batch).sum())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    def _loader(self):
        return torch.utils.data.DataLoader(torch.randn(8, 4), batch_size=4)

    def train_dataloader(self):
        return self._loader()

    def val_dataloader(self):
        return self._loader()

    def test_dataloader(self):
        return self._loader()


def trainer(tmp_path: Path, logger, **kwargs) -> pl.Trainer:
    options = {
        "max_epochs": 1,
        "limit_train_batches": 1,
        "limit_val_batches": 1,
        "limit_test_batches": 1,
        "log_every_n_steps": 1,
        "accelerator": "cpu",
        "devices": 1,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": tmp_path,
        **kwargs,
    }
    return pl.Trainer(logger=logger, **options)


def rows(run_dir: Path, stream: str) -> list[dict]:
    table = read_stream(run_dir, stream)
    return [] if table is None else table.to_pylist()


def latest(run_dir: Path, stream: str) -> dict:
    ordered = sorted(rows(run_dir, stream), key=lambda r: (r["wall_time"], r["seq"]))
    return {r["key"]: json.loads(r["value"]) for r in ordered}


@pytest.fixture(autouse=True)
def no_current_run():
    yield
    localtrack.finish()


def test_fit_then_test_logs_lightnings_keys_and_steps(tmp_path):
    logger = LocaltrackLogger(project="lit", save_dir=tmp_path)
    sent = []
    log_metrics = logger.log_metrics
    logger.log_metrics = lambda metrics, step=None: (  # record as test_all.py does
        sent.append((step, sorted(metrics))),
        log_metrics(metrics, step),
    )
    t = trainer(tmp_path, logger)
    t.fit(TinyModel(nested={"a": {"b": 1}}))
    t.test(ckpt_path="best")
    assert sent == [  # test_all.py's expectations for every logger
        (0, ["epoch", "train_some_val"]),
        (0, ["early_stop_on", "epoch", "val_loss"]),
        (1, ["epoch", "test_loss"]),
    ]
    run_dir = Path(logger.log_dir)
    assert run_dir == tmp_path / "lit" / logger.version
    got = sorted((r["tag"], r["step"]) for r in rows(run_dir, "scalars"))
    assert got == [
        ("early_stop_on", 0),
        ("epoch", 0),
        ("epoch", 0),
        ("epoch", 1),
        ("test_loss", 1),
        ("train_some_val", 0),
        ("val_loss", 0),
    ]
    assert latest(run_dir, "config") == {"lr": 0.1, "fail": False, "nested/a/b": 1}
    # checkpoints land in the run's own folder, never in version_None
    (ckpt,) = (run_dir / "checkpoints").glob("*.ckpt")
    events = [
        json.loads(r["payload"]) for r in rows(run_dir, "events") if r["kind"] == "checkpoint"
    ]
    assert [e["path"] for e in events] == [str(ckpt)]
    assert rows(run_dir, "graphs") == []  # log_graph=False is Lightning's default
    logger.experiment.finish()
    assert run_status(run_dir) == "finished"
    assert localtrack.connect(tmp_path).sql("SELECT count(*) FROM runs").fetchall() == [(1,)]


def test_validate_alone_and_log_graph(tmp_path):
    logger = LocaltrackLogger(project="lit", save_dir=tmp_path, name="readable", log_graph=True)
    model = TinyModel()
    t = trainer(tmp_path, logger)
    t.validate(model)  # Lightning asks for the graph when a stage starts
    logger.experiment.finish()
    run_dir = Path(logger.log_dir)
    assert {r["tag"] for r in rows(run_dir, "scalars")} == {"early_stop_on", "epoch", "val_loss"}
    assert [r["tag"] for r in rows(run_dir, "graphs")] == ["TinyModel"]
    assert json.loads((run_dir / "localtrack-run.json").read_text())["name"] == "readable"


def test_a_failing_fit_makes_the_run_failed(tmp_path):
    logger = LocaltrackLogger(project="lit", save_dir=tmp_path)
    logger.log_metrics({"before": 1.0}, step=0)
    with pytest.raises(RuntimeError, match="boom"):
        trainer(tmp_path, logger).fit(TinyModel(fail=True))
    assert run_status(Path(logger.log_dir)) == "failed"


def test_log_model_copies_checkpoints_into_the_run(tmp_path):
    logger = LocaltrackLogger(project="lit", save_dir=tmp_path, log_model=True)
    checkpoint = ModelCheckpoint(monitor="val_loss", save_top_k=1)
    trainer(tmp_path, logger, callbacks=[checkpoint]).fit(TinyModel())
    run_dir = Path(logger.log_dir)
    copied = list((run_dir / "files" / "checkpoints").glob("*.ckpt"))
    assert [p.name for p in copied] == [Path(checkpoint.best_model_path).name]
    events = [
        json.loads(r["payload"]) for r in rows(run_dir, "events") if r["kind"] == "checkpoint"
    ]
    assert events[-1]["copied_to"] == str(copied[0])
    assert events[-1]["monitor"] == "val_loss"
    assert isinstance(events[-1]["score"], float)


def test_prefix_is_joined_with_a_dash(tmp_path):
    """test_all.py's test_logger_with_prefix_all."""
    logger = LocaltrackLogger(save_dir=tmp_path, prefix="tmp")
    logger.log_metrics({"test": 1.0}, step=0)
    logger.experiment.finish()
    assert [(r["tag"], r["step"]) for r in rows(Path(logger.log_dir), "scalars")] == [
        ("tmp-test", 0)
    ]


def test_names_and_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCALTRACK_DIR", str(tmp_path))
    logger = LocaltrackLogger()
    assert logger.name == "uncategorized"
    assert logger.save_dir == str(tmp_path)
    assert logger.root_dir == str(tmp_path / "uncategorized")
    assert logger.log_dir == str(tmp_path / "uncategorized" / logger.version)
    assert logger._experiment is None  # the version is known before any run exists
    assert LocaltrackLogger(version="abc123").version == "abc123"
    with pytest.raises(ValueError, match="log_model"):
        LocaltrackLogger(log_model="sometimes")


def test_pickling_the_logger_and_a_trainer(tmp_path):
    """test_all.py's test_loggers_pickle_all: the copy logs into the same run."""
    logger = LocaltrackLogger(project="lit", save_dir=tmp_path)
    logger.log_metrics({"a": 1.0}, step=0)
    t = trainer(tmp_path, logger)
    copy = pickle.loads(pickle.dumps(t))
    assert copy.logger.version == logger.version
    logger.experiment.finish()
    copy.logger.log_metrics({"acc": 1.0}, step=1)
    copy.logger.experiment.finish()
    assert pickle.loads(pickle.dumps(logger)).version == logger.version
    got = sorted((r["tag"], r["step"]) for r in rows(Path(logger.log_dir), "scalars"))
    assert got == [("a", 0), ("acc", 1)]
    assert len(list((tmp_path / "lit").iterdir())) == 1


class RankZeroLoggerCheck(Callback):
    """test_all.py's check: the run on rank 0, Lightning's dummy elsewhere; and every rank
    has the same version (the run id)."""

    def __init__(self, version: str) -> None:
        self.version = version

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        is_dummy = isinstance(trainer.logger.experiment, _DummyExperiment)
        assert is_dummy == (not trainer.is_global_zero)
        if is_dummy:
            assert pl_module.logger.experiment.something(foo="bar") is None
        assert trainer.logger.version == self.version


@pytest.mark.slow
def test_ddp_spawn_on_two_cpu_processes_makes_one_run(tmp_path):
    logger = LocaltrackLogger(project="lit", save_dir=tmp_path)
    t = trainer(
        tmp_path,
        logger,
        devices=2,
        strategy="ddp_spawn",
        max_steps=1,
        limit_val_batches=0,
        callbacks=[RankZeroLoggerCheck(logger.version)],
    )
    t.fit(TinyModel())
    assert t.state.finished
    (run_dir,) = (tmp_path / "lit").iterdir()
    assert run_dir.name == logger.version
    assert list((run_dir / "checkpoints").glob("*.ckpt"))  # in the run, not version_None
    assert {r["rank"] for r in rows(run_dir, "scalars")} == {0}
    assert {r["tag"] for r in rows(run_dir, "scalars")} == {"epoch", "train_some_val"}


def test_as_a_fabric_logger(tmp_path):
    from lightning.fabric import Fabric

    logger = LocaltrackLogger(project="fabric", save_dir=tmp_path)
    fabric = Fabric(accelerator="cpu", devices=1, loggers=[logger])
    fabric.log_dict({"loss": 0.5, "acc": 0.25}, step=0)
    fabric.log("loss", 0.4, step=1)
    fabric.logger.log_hyperparams(Namespace(lr=0.1, opt={"name": "sgd"}))  # as argparse gives
    logger.finalize("success")
    logger.experiment.finish()
    run_dir = Path(logger.log_dir)
    got = sorted((r["tag"], r["step"], r["value"]) for r in rows(run_dir, "scalars"))
    assert got == [("acc", 0, 0.25), ("loss", 0, 0.5), ("loss", 1, 0.4)]
    assert latest(run_dir, "config") == {"lr": 0.1, "opt/name": "sgd"}


def test_ranks_started_as_new_processes_take_rank_zeros_run_id(tmp_path, monkeypatch):
    """strategy="ddp" re-runs the script for ranks > 0 with RANK/LOCAL_RANK set and rank 0's
    environment, which holds the run id rank 0's logger made."""
    from localtrack.integrations.lightning import RUN_ID_ENV

    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv(RUN_ID_ENV, raising=False)
    rank0 = LocaltrackLogger(save_dir=tmp_path)
    assert os.environ[RUN_ID_ENV] == rank0.version
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert LocaltrackLogger(save_dir=tmp_path).version == rank0.version
    assert LocaltrackLogger(save_dir=tmp_path, version="given").version == "given"
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert LocaltrackLogger(save_dir=tmp_path).version != rank0.version  # a new rank-0 logger
