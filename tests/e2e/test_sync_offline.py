"""No server at all: `sync --once` gives up after a few tries, says why, and keeps everything."""

from __future__ import annotations

import pytest
from localtrack_daemon.cli import main as cli
from mlflow_server import free_port
from sync_store import Store


def test_sync_once_with_the_server_down_fails_as_retry_later(tmp_path, capsys):
    runs = [Store(tmp_path, project="offline") for _ in range(3)]
    for r in runs:
        r.scalars([("a", 0, 1.0)])
    url = f"http://127.0.0.1:{free_port()}"
    args = ["sync", "--once", "--root", str(tmp_path), "--uri", url, "--backoff-max", "0.2"]
    assert cli(args) == 2
    capsys.readouterr()
    assert cli(["sync", "--status", "--root", str(tmp_path), "--uri", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert all("1 points pending" in x for x in lines), lines
    assert any("retry later" in x and "cannot reach" in x for x in lines), lines


@pytest.mark.parametrize("uri", ["file:///tmp/mlruns", "databricks"])
def test_only_http_servers_are_accepted(tmp_path, uri):
    with pytest.raises(SystemExit, match="http"):
        cli(["sync", "--once", "--root", str(tmp_path), "--uri", uri])
