"""/api/sync/status over real HTTP: each (run, remote) row is the daemon's own report (what
`localtrack sync --status` prints), sync states written by the daemon's own functions; remotes
come from the state files and MLFLOW_TRACKING_URI, without credentials; the library never
imports the daemon when it is imported, and says how to get it back when it is missing."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from localtrack_daemon.report import report
from localtrack_daemon.state import Problem, SyncState, public_url, save_state

import localtrack

REMOTE = "http://tracker.example:5000"
OTHER = "https://mlflow.other.example"


def write_run(root: Path, name: str, points: int) -> tuple[Path, str]:
    run = localtrack.init(project="syncview", name=name, dir=root)
    for step in range(points):
        run.log({"loss": 1.0 / (step + 1), "acc": step / points}, step=step)
    run.finish()
    return Path(run.dir), run.id


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "runs"


@pytest.fixture
def serve(root: Path) -> Iterator[localtrack.ui.Dashboard]:
    handles: list[localtrack.ui.Dashboard] = []

    def start() -> localtrack.ui.Dashboard:
        handles.append(localtrack.ui.serve(root, port=0))
        return handles[-1]

    yield start  # type: ignore[misc]
    for h in handles:
        h.stop()


def status(handle: localtrack.ui.Dashboard) -> requests.Response:
    return requests.get(
        f"http://127.0.0.1:{handle.port}/api/sync/status",
        headers={"Authorization": f"token {handle.token}"},
        timeout=60,
    )


def test_rows_are_the_daemons_report_per_run_and_remote(root: Path, serve, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    never, _ = write_run(root, "never", 12)
    person, person_id = write_run(root, "person", 7)
    retry, retry_id = write_run(root, "retry", 3)
    problem = Problem("needs_person", "401 Unauthorized: set MLFLOW_TRACKING_TOKEN", time.time())
    save_state(person, REMOTE, SyncState(public_url(REMOTE), person_id, problem=problem))
    save_state(
        retry,
        OTHER,
        SyncState(
            public_url(OTHER),
            retry_id,
            problem=Problem("retry_later", "503 from the server", 1.0),
        ),
    )

    body = status(serve()).json()
    assert body["remotes"] == sorted([REMOTE, OTHER])
    assert body["env_remote"] is None
    rows = {(r["name"], r["remote"]): r for r in body["rows"]}
    assert len(rows) == 6  # three runs × two remotes
    for (name, remote), row in rows.items():
        run_dir = {"never": never, "person": person, "retry": retry}[name]
        want = report(run_dir, remote)
        assert (row["status"], row["pending_points"], row["pending_files"], row["detail"]) == (
            want.status,
            want.pending_points,
            want.pending_files,
            want.detail,
        )
        assert row["line"] == want.line()
    assert rows[("never", REMOTE)]["status"] == "never synced"
    assert rows[("never", REMOTE)]["pending_points"] == 24
    assert rows[("person", REMOTE)]["status"] == "needs a person"
    assert rows[("person", REMOTE)]["error"] == problem.message
    assert rows[("person", REMOTE)]["error_at"] == pytest.approx(problem.at)
    assert rows[("person", OTHER)]["status"] == "never synced"
    assert rows[("retry", OTHER)]["status"] == "retry later"
    assert rows[("retry", OTHER)]["error_kind"] == "retry_later"
    assert body["counts"]["never synced"] == 4 and body["counts"]["needs a person"] == 1


def test_the_environment_names_a_remote_without_its_credentials(root, serve, monkeypatch) -> None:
    write_run(root, "only", 4)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://alice:s3cret@tracker.example:5000/")
    response = status(serve())
    assert "s3cret" not in response.text and "alice" not in response.text
    body = response.json()
    assert body["remotes"] == [REMOTE] and body["env_remote"] == REMOTE
    [row] = body["rows"]
    assert (row["status"], row["pending_points"], row["remote"]) == ("never synced", 8, REMOTE)


def test_no_remote_yet_lists_every_run_never_synced_with_all_its_points(
    root, serve, monkeypatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    write_run(root, "a", 5)
    write_run(root, "b", 9)
    body = status(serve()).json()
    assert body["remotes"] == []
    got = sorted((r["name"], r["status"], r["pending_points"], r["remote"]) for r in body["rows"])
    assert got == [("a", "never synced", 10, None), ("b", "never synced", 18, None)]


def test_the_status_reads_and_writes_nothing_in_the_store(root, serve, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run_dir, run_id = write_run(root, "kept", 6)
    save_state(run_dir, REMOTE, SyncState(public_url(REMOTE), run_id))
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")}
    handle = serve()
    assert status(handle).status_code == 200
    assert status(handle).status_code == 200
    assert {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")} == before


def test_a_missing_daemon_is_a_clear_error(root, serve, monkeypatch) -> None:
    write_run(root, "x", 2)
    handle = serve()
    monkeypatch.setitem(sys.modules, "localtrack_daemon", None)  # as if not installed
    response = status(handle)
    assert response.status_code == 503
    message = response.json()["error"]
    assert "localtrack_daemon" in message and "reinstall localtrack" in message


def test_importing_the_library_and_its_views_never_imports_the_daemon() -> None:
    code = (
        "import sys, localtrack, localtrack.ui\n"
        "from localtrack._ui import server, views\n"
        "assert any(m.VIEW.name == 'sync' for m in views.discover())\n"
        "bad = sorted(m for m in sys.modules if m.startswith('localtrack_daemon'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
