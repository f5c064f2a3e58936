"""LocaltrackCallback with a real transformers.Trainer: a tiny BERT built from a config
(nothing downloaded), train with evaluation and checkpoints, then a later evaluate()."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

import localtrack  # noqa: E402
from localtrack._store.runs import run_status  # noqa: E402
from localtrack._store.segments import read_stream  # noqa: E402
from localtrack.integrations.transformers import LocaltrackCallback, rewrite_logs  # noqa: E402


def rows(run_dir: Path, stream: str) -> list[dict]:
    table = read_stream(run_dir, stream)
    return [] if table is None else table.to_pylist()


def tiny_bert():
    config = transformers.BertConfig(
        vocab_size=32,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=16,
        num_labels=2,
    )
    return transformers.BertForSequenceClassification(config)


def dataset(n: int = 8):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 32, (n, 6), generator=g)
    return [
        {"input_ids": ids[i], "attention_mask": torch.ones(6, dtype=torch.long), "labels": i % 2}
        for i in range(n)
    ]


def make_trainer(tmp_path: Path, callback, **kwargs):
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"),
        max_steps=4,
        per_device_train_batch_size=2,
        per_device_eval_batch_size=4,
        logging_steps=2,
        eval_strategy="steps",
        eval_steps=2,
        save_steps=2,
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        run_name="tiny-bert",
        **kwargs,
    )
    return transformers.Trainer(
        model=tiny_bert(),
        args=args,
        train_dataset=dataset(),
        eval_dataset=dataset(4),
        callbacks=[callback] if callback is not None else None,
    )


def test_rewrite_logs_matches_hf():
    from transformers.integrations.integration_utils import rewrite_logs as hf_rewrite_logs

    logs = {"loss": 1.0, "eval_loss": 2.0, "test_acc": 3.0, "learning_rate": 0.1, "epoch": 1}
    assert rewrite_logs(logs) == hf_rewrite_logs(logs)


def test_train_then_evaluate_logs_into_one_run(tmp_path):
    callback = LocaltrackCallback(project="hf", dir=tmp_path)
    trainer = make_trainer(tmp_path, callback)
    trainer.train()
    metrics = trainer.evaluate()  # after on_train_end: still the same run
    callback.finish()
    run_dir = Path(callback.run.dir)
    assert run_status(run_dir) == "finished"
    assert [p.name for p in (tmp_path / "hf").iterdir()] == [run_dir.name]
    got = {(r["tag"], r["step"]) for r in rows(run_dir, "scalars")}
    assert {("train/loss", 2), ("train/loss", 4), ("eval/loss", 2), ("eval/loss", 4)} <= got
    assert {("train/learning_rate", 2), ("train/epoch", 4), ("train/train_loss", 4)} <= got
    assert sum(1 for tag, step in got if tag == "eval/loss") == 2  # steps 2 and 4
    evaluated = [r for r in rows(run_dir, "scalars") if r["tag"] == "eval/loss" and r["step"] == 4]
    assert metrics["eval_loss"] in [r["value"] for r in evaluated]
    assert len(evaluated) == 2  # once during training, once by evaluate()
    config = {r["key"]: json.loads(r["value"]) for r in rows(run_dir, "config")}
    assert config["max_steps"] == 4  # TrainingArguments
    assert config["hidden_size"] == 8  # the model's config
    assert config["model_type"] == "bert"
    marker = json.loads((run_dir / "localtrack-run.json").read_text())
    assert marker["name"] == "tiny-bert"
    saved = [json.loads(r["payload"]) for r in rows(run_dir, "events") if r["kind"] == "checkpoint"]
    assert [s["step"] for s in saved] == [2, 4]
    assert all(Path(s["path"]).is_dir() for s in saved)


def test_evaluate_alone_starts_the_run(tmp_path):
    callback = LocaltrackCallback(project="hf", dir=tmp_path)
    trainer = make_trainer(tmp_path, callback)
    trainer.evaluate()
    callback.finish()
    got = {r["tag"] for r in rows(Path(callback.run.dir), "scalars")}
    assert "eval/loss" in got
    localtrack.finish()
