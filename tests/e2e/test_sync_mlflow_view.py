"""What a user sees in MLflow after a real sync: mapped keys of every kind, who ran which
script, and the commit of the script's repository (read back through MlflowClient)."""

from __future__ import annotations

import getpass
import json
import shlex
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from localtrack_daemon import encode
from localtrack_daemon.artifacts import image_key
from localtrack_daemon.cli import main as cli
from mlflow import MlflowClient
from sync_store import assert_synced

import localtrack

pytestmark = pytest.mark.mlflow


def sync(root, server) -> int:
    return cli(["sync", "--once", "--root", str(root), "--uri", server.url, "--grace", "0"])


def local_id(run_dir) -> str:
    return json.loads((run_dir / "localtrack-run.json").read_text())["run_id"]


def test_every_mapped_key_of_every_kind_is_in_the_key_map(tmp_path, mlflow_server):
    log_dir = tmp_path / "keys" / "all-kinds"
    with localtrack.SummaryWriter(log_dir) as w:
        w.add_scalar("loss@val", 1.0, 0)
        w.add_scalar("system/cpu.percent", 12.5, 0)
        w.add_image("samples/ünï", np.zeros((3, 8, 8)), 0)
        w.add_histogram("weights (l1)", np.arange(10.0), 0)
        w.add_hparams({"lr#1": 0.1}, {"hparam/acc@top1": 0.9}, run_name="t")
    assert sync(tmp_path, mlflow_server) == 0
    client = MlflowClient(mlflow_server.url)
    rid = assert_synced(client, log_dir, local_id(log_dir))
    tag_map = json.loads(client.get_run(rid).data.tags["localtrack.key_map"])
    path = client.download_artifacts(rid, "localtrack/key_map.json", str(tmp_path / "dl"))
    with open(path, encoding="utf-8") as f:
        file_map = json.load(f)
    expected = {
        "loss@val": encode.mlflow_key("loss@val"),
        "system/cpu.percent": "system/cpu_utilization_percentage",
        "samples/ünï": image_key("samples/ünï"),
        "weights (l1)": encode.mlflow_key("weights (l1)"),
        "lr#1": encode.mlflow_key("lr#1"),
        "hparam/acc@top1": encode.mlflow_key("hparam/acc@top1"),
    }
    assert tag_map == file_map == expected
    assert image_key("samples/ünï").startswith("samples/_n__")
    images = [a.path for a in client.list_artifacts(rid, "images")]
    assert any(p.startswith("images/samples~_n__") for p in images)


def git(repo, *args):
    base = ["git", "-c", "user.email=a@b", "-c", "user.name=a", "-C", str(repo)]
    return subprocess.run([*base, *args], check=True, capture_output=True, text=True).stdout


def make_repo(path):
    path.mkdir(parents=True)
    git(path, "init", "-q")
    (path / "README").write_text(path.name)
    git(path, "add", "README")
    git(path, "commit", "-qm", "first")
    return git(path, "rev-parse", "HEAD").strip()


TRAIN = textwrap.dedent(
    """
    import sys
    import localtrack
    with localtrack.SummaryWriter(sys.argv[1]) as w:
        w.add_scalar("loss", 1.0, 0)
    """
)


def synced_tags(root, run_dir, server):
    assert sync(root, server) == 0
    client = MlflowClient(server.url)
    return client.get_run(assert_synced(client, run_dir, local_id(run_dir))).data.tags


def test_user_script_command_line_and_the_scripts_own_commit(tmp_path, mlflow_server):
    script_commit = make_repo(tmp_path / "code")
    cwd_commit = make_repo(tmp_path / "work")
    script = tmp_path / "code" / "train.py"
    script.write_text(TRAIN)
    run_dir = tmp_path / "runs" / "view" / "scripted"
    command = [sys.executable, str(script), str(run_dir), "--lr", "0.1"]
    subprocess.run(command, cwd=tmp_path / "work", check=True)

    tags = synced_tags(tmp_path / "runs", run_dir, mlflow_server)
    assert tags["mlflow.user"] == getpass.getuser()
    assert tags["mlflow.source.name"] == str(script)
    assert tags["mlflow.source.type"] == "LOCAL"
    assert tags["localtrack.command"] == shlex.join(command)
    assert tags["mlflow.source.git.commit"] == script_commit != cwd_commit


def test_a_script_outside_any_repository_records_no_commit(tmp_path, mlflow_server):
    make_repo(tmp_path / "work")
    (tmp_path / "loose").mkdir()
    script = tmp_path / "loose" / "train.py"
    script.write_text(TRAIN)
    run_dir = tmp_path / "runs" / "view" / "loose"
    subprocess.run([sys.executable, str(script), str(run_dir)], cwd=tmp_path / "work", check=True)

    tags = synced_tags(tmp_path / "runs", run_dir, mlflow_server)
    assert tags["mlflow.source.name"] == str(script)
    assert "mlflow.source.git.commit" not in tags


def test_python_c_falls_back_to_the_working_directorys_commit(tmp_path, mlflow_server):
    cwd_commit = make_repo(tmp_path / "work")
    run_dir = tmp_path / "runs" / "view" / "inline"
    subprocess.run([sys.executable, "-c", TRAIN, str(run_dir)], cwd=tmp_path / "work", check=True)

    tags = synced_tags(tmp_path / "runs", run_dir, mlflow_server)
    assert tags["mlflow.source.git.commit"] == cwd_commit
    assert tags["mlflow.source.name"] == "-c"
