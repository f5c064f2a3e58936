"""`localtrack ui` as a user starts it: a process that prints its URL and stops on Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests

import localtrack


def start(*args: str) -> subprocess.Popen[str]:
    exe = Path(sys.executable).with_name("localtrack")
    return subprocess.Popen(
        [str(exe), "ui", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_prints_the_url_serves_it_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    w = localtrack.SummaryWriter(tmp_path / "p" / "r")
    w.add_scalar("loss", 1.0, 0)
    w.close()
    with start("--root", str(tmp_path), "--port", "0") as proc:
        run_and_stop(proc)


def run_and_stop(proc: subprocess.Popen[str]) -> None:
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("localtrack ui: http://127.0.0.1:") and "(Ctrl-C to stop)" in line
        url = line.split()[2]
        assert "?token=" in url
        s = requests.Session()
        assert s.get(url).status_code == 200
        assert [r["name"] for r in s.get(url.split("?")[0] + "api/runs").json()["runs"]] == ["r"]
        assert requests.get(url.split("?")[0] + "api/runs").status_code == 401
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_port_in_use_names_the_option(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with start("--root", str(tmp_path), "--port", str(port)) as proc:
            out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "--port" in err and str(port) in err


def test_no_token_and_a_non_loopback_host_warn(tmp_path: Path) -> None:
    with start("--root", str(tmp_path), "--port", "0", "--host", "0.0.0.0", "--no-token") as proc:
        open_and_warn(proc)


def open_and_warn(proc: subprocess.Popen[str]) -> None:
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline()
        url = line.split()[2]
        assert "token" not in url and url.startswith("http://127.0.0.1:")
        assert requests.get(url + "api/runs").status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert "warning" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_import_localtrack_loads_no_server_code() -> None:
    code = (
        "import sys, localtrack\n"
        "assert not any(m.startswith('localtrack._ui') for m in sys.modules), sorted(sys.modules)\n"
        "assert 'http.server' not in sys.modules\n"
        "assert callable(localtrack.ui.serve) and 'localtrack._ui.server' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
