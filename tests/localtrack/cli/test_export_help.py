"""`localtrack --help`, `import --help` and `export --help` show the interop commands with examples."""

from __future__ import annotations

import pytest

from localtrack._cli.main import main


def help_of(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_has_import_and_export_examples(capsys):
    out = help_of([], capsys)
    assert "localtrack import tensorboard ./tb_logs --follow" in out
    assert "localtrack import wandb ./wandb" in out
    assert "--format tensorboard --out ./tb" in out and "docs/INTEROP.md" in out


def test_import_offers_tensorboard_and_wandb(capsys):
    out = help_of(["import"], capsys)
    assert "tensorboard" in out and "wandb" in out
    assert "localtrack import wandb ./wandb/offline-run-" in out
    assert "W&B" in help_of(["import", "wandb"], capsys)


def test_export_help_names_the_tensorboard_format(capsys):
    out = help_of(["export"], capsys)
    assert "{csv,parquet,tensorboard}" in out
    assert "localtrack export run-a run-b --format tensorboard --out ./tb" in out
