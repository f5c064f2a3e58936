"""Child process for test_tensorboard_patch.py: the frameworks' stock TensorBoard paths,
patched by localtrack, in an interpreter where the `tensorboard` package does not exist.

`tensorboard` may be installed in the test venv, so it is hidden first: every finder on
sys.meta_path is wrapped so that `tensorboard` and `tensorboard.*` are not found (an import
raises ModuleNotFoundError, importlib.util.find_spec returns None) and its distribution
metadata is not listed, which is what an environment without the package looks like to
Lightning, transformers and Accelerate. With --hide-tensorboardX, tensorboardX is hidden too.
Usage: python tb_child.py ROOT [--hide-tensorboardX] [--ignite] [--torchtitan]
(--ignite / --torchtitan run only that framework's path.)
"""

from __future__ import annotations

import json
import os
import sys
import warnings

HIDDEN = ["tensorboard"] + (["tensorboardX"] if "--hide-tensorboardX" in sys.argv else [])


def hidden(name: str) -> bool:
    return any(name == h or name.startswith(h + ".") for h in HIDDEN)


class Hide:
    def __init__(self, inner):
        self._inner = inner

    def find_spec(self, name, path=None, target=None):
        if hidden(name):
            return None
        find = getattr(self._inner, "find_spec", None)
        return None if find is None else find(name, path, target)

    def find_distributions(self, *args, **kwargs):
        find = getattr(self._inner, "find_distributions", None)
        if find is None:
            return iter(())
        names = {h.lower() for h in HIDDEN}
        return (d for d in find(*args, **kwargs) if (d.metadata["Name"] or "").lower() not in names)

    def __getattr__(self, name):
        return getattr(self._inner, name)


sys.meta_path[:] = [Hide(f) for f in sys.meta_path]
import localtrack  # noqa: E402

# A localtrack warning (a summary kept raw, a bad value) fails the test; frameworks' own
# noise about tiny CPU runs does not.
warnings.simplefilter("error", localtrack.LocaltrackWarning)

localtrack.patch_tensorboard()

import torch  # noqa: E402

root = sys.argv[1]
report: dict = {}


def lightning_tensorboard_logger() -> None:
    import lightning.pytorch as pl
    from lightning.pytorch.loggers import TensorBoardLogger

    class Model(pl.LightningModule):
        def __init__(self, lr: float = 0.1, width: int = 4) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.layer = torch.nn.Linear(width, 1)

        def training_step(self, batch, batch_idx):
            loss = self.layer(batch).pow(2).mean()
            self.log("train_loss", loss)
            return loss

        def test_step(self, batch, batch_idx):
            self.log("test_loss", self.layer(batch).pow(2).mean())

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    data = torch.utils.data.DataLoader(torch.randn(8, 4), batch_size=4)
    logger = TensorBoardLogger(os.path.join(root, "lightning"), name="tb")
    trainer = pl.Trainer(
        logger=logger,
        max_epochs=1,
        log_every_n_steps=1,
        accelerator="cpu",
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    model = Model()
    trainer.fit(model, train_dataloaders=data)
    trainer.test(model, dataloaders=data)  # logs again after finalize() closed the writer
    report["lightning"] = {"log_dir": logger.log_dir, "writer": type(logger.experiment).__name__}


def hf_report_to_tensorboard() -> None:
    import transformers

    os.environ["TENSORBOARD_LOGGING_DIR"] = os.path.join(root, "hf")
    config = transformers.BertConfig(
        vocab_size=32,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=16,
    )
    ids = torch.randint(0, 32, (8, 6), generator=torch.Generator().manual_seed(0))
    rows = [{"input_ids": ids[i], "labels": i % 2} for i in range(8)]
    args = transformers.TrainingArguments(
        output_dir=os.path.join(root, "hf-out"),
        max_steps=2,
        logging_steps=1,
        per_device_train_batch_size=4,
        report_to="tensorboard",
        use_cpu=True,
        disable_tqdm=True,
        save_strategy="no",
    )
    trainer = transformers.Trainer(
        model=transformers.BertForSequenceClassification(config),
        args=args,
        train_dataset=rows,
        eval_dataset=rows[:4],
    )
    trainer.train()
    trainer.evaluate()  # after on_train_end closed the writer: HF makes a new one
    report["hf"] = {"log_dir": os.environ["TENSORBOARD_LOGGING_DIR"]}


def accelerate_log_with_tensorboard() -> None:
    import accelerate

    accelerator = accelerate.Accelerator(
        cpu=True, log_with="tensorboard", project_dir=os.path.join(root, "accelerate")
    )
    accelerator.init_trackers("acc", config={"lr": 0.5, "opt": "sgd"})
    for step in range(3):
        accelerator.log({"loss": 1.0 / (step + 1), "phase": "train"}, step=step)
    accelerator.end_training()
    report["accelerate"] = {"log_dir": os.path.join(root, "accelerate", "acc")}


def ignite_tensorboard_logger() -> None:
    """ignite's TensorboardLogger + OutputHandler / OptimizerParamsHandler on a real Engine
    training a tiny model; what it logged is recorded here to compare with the store."""
    from ignite.engine import Engine, Events
    from ignite.handlers.tensorboard_logger import (
        OptimizerParamsHandler,
        OutputHandler,
        TensorboardLogger,
    )

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    data = [(torch.randn(4, 4), torch.randn(4, 1)) for _ in range(3)]
    logged: dict[str, list] = {"loss": [], "lr": []}

    def step(engine, batch):
        x, y = batch
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    trainer = Engine(step)
    log_dir = os.path.join(root, "ignite")
    tb_logger = TensorboardLogger(log_dir=log_dir)
    tb_logger.attach(
        trainer,
        log_handler=OutputHandler(tag="training", output_transform=lambda loss: {"loss": loss}),
        event_name=Events.ITERATION_COMPLETED,
    )
    tb_logger.attach(
        trainer,
        log_handler=OptimizerParamsHandler(optimizer),
        event_name=Events.ITERATION_STARTED,
    )

    @trainer.on(Events.ITERATION_STARTED)
    def record_lr(engine):
        logged["lr"].append([engine.state.iteration, optimizer.param_groups[0]["lr"]])

    @trainer.on(Events.ITERATION_COMPLETED)
    def record_loss(engine):
        logged["loss"].append([engine.state.iteration, engine.state.output])
        scheduler.step()

    trainer.run(data, max_epochs=2)
    tb_logger.close()
    report["ignite"] = {
        "log_dir": log_dir,
        "writer": type(tb_logger.writer).__name__,
        "logged": logged,
    }


def torchtitan_tensorboard_logger() -> None:
    """torchtitan's metrics TensorBoardLogger (it builds torch.utils.tensorboard's
    SummaryWriter at import), used directly as its MetricsProcessor does, no launch."""
    from torchtitan.components.metrics import TensorBoardLogger

    log_dir = os.path.join(root, "torchtitan")
    tb = TensorBoardLogger(log_dir, tag="rank0")
    metrics = [
        {"loss_metrics/global_avg_loss": 2.0 / (s + 1), "lr": 1e-3, "tps": 100 + s}
        for s in range(3)
    ]
    for s, m in enumerate(metrics, start=1):
        tb.log(m, s)
    tb.close()
    report["torchtitan"] = {"log_dir": log_dir, "writer": type(tb.writer).__name__}


if "--ignite" in sys.argv:
    ignite_tensorboard_logger()
elif "--torchtitan" in sys.argv:
    torchtitan_tensorboard_logger()
elif "--hide-tensorboardX" in sys.argv:  # neither package: HF's check passes, the others refuse
    hf_report_to_tensorboard()
else:
    lightning_tensorboard_logger()
    hf_report_to_tensorboard()
    accelerate_log_with_tensorboard()
report["tensorboard_imported"] = sorted(
    m
    for m, module in sys.modules.items()
    if hidden(m) and not getattr(module, "__localtrack_stand_in__", False)
)
report["torch_tb_is_stand_in"] = getattr(
    sys.modules["torch.utils.tensorboard"], "__localtrack_stand_in__", False
)
print("REPORT " + json.dumps(report))
