"""The Sync view in a real browser, over runs synced for real to a real MLflow server: each
run's status and pending points are what `localtrack sync --status` prints, the status chips
filter the rows, the lock holder shows, and the page follows a later sync by itself."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from localtrack_daemon.cli import main as daemon_cli
from localtrack_daemon.lock import Locks
from sync_store import Store

import localtrack

pytestmark = pytest.mark.mlflow

LINE = re.compile(
    r"^(?P<run>\S+)  (?P<status>[a-z ]+?)(?:  (?P<points>\d+) points pending)?(?:  |$)"
)


def sync_once(root: Path, url: str) -> None:
    daemon_cli(["sync", "--once", "--root", str(root), "--uri", url, "--grace", "0"])


def cli_status(root: Path, url: str) -> dict[str, tuple[str, int]]:
    """`localtrack sync --status`, as a person runs it: run id -> (status, points pending)."""
    out = subprocess.run(
        [str(Path(sys.executable).with_name("localtrack")), "sync", "--status", "--root", str(root),
         "--uri", url],
        capture_output=True, text=True, check=False, timeout=120,
    ).stdout  # fmt: skip
    found = {}
    for line in out.splitlines():
        m = LINE.match(line)
        assert m, line
        found[m["run"]] = (m["status"], int(m["points"] or 0))
    return found


def write_runs(root: Path, url: str) -> tuple[dict[str, str], Path]:
    synced = localtrack.init(project="sync", name="synced", dir=root, config={"lr": 0.1})
    for step in range(30):
        synced.log({"loss": 1.0 / (step + 1)}, step=step)
    synced.finish()
    person = Store(root, project="sync", name="param-changed")
    person.config({"lr": 0.1})
    grown = Store(root, project="sync", name="grown")
    grown.scalars([("loss", s, float(s)) for s in range(10)])
    sync_once(root, url)
    person.config({"lr": 0.2})  # MLflow keeps a param's first value: a person must decide
    person.scalars([("loss", s, float(s)) for s in range(5)])
    sync_once(root, url)
    grown.scalars([("loss", s, float(s)) for s in range(10, 25)])
    never = localtrack.init(project="sync", name="never", dir=root)
    for step in range(40):
        never.log({"loss": 2.0 / (step + 1), "acc": step / 40}, step=step)
    never.finish()
    ids = {"synced": synced.id, "person": person.run_id, "grown": grown.run_id, "never": never.id}
    return ids, Path(never.dir)


def open_view(page: Any, handle: Any, query: str = "") -> None:
    page.goto(handle.url)
    page.goto(handle.url.split("?")[0] + "?view=sync" + query)
    page.wait_for_selector("[data-testid=sync-view][data-state=done]")


def shown(page: Any) -> dict[str, dict[str, str]]:
    return {
        r["run"]: r
        for r in page.locator("[data-testid=sync-row]").evaluate_all(
            """rows => rows.map(r => ({run: r.dataset.runId, remote: r.dataset.remote,
                 status: r.querySelector('[data-testid=sync-status]').textContent,
                 pending: r.querySelector('[data-testid=sync-pending]').textContent,
                 error: r.querySelector('[data-testid=sync-error]').textContent,
                 holder: r.querySelector('[data-testid=sync-holder]').textContent}))"""
        )
    }


def test_each_status_and_pending_count_is_sync_status_s(
    tmp_path: Path, mlflow_server: Any, ui: Any, page: Any, screenshot: Any
) -> None:
    root = tmp_path / "runs"
    ids, _ = write_runs(root, mlflow_server.url)
    expected = cli_status(root, mlflow_server.url)
    assert {expected[ids[k]][0] for k in ids} == {
        "synced",
        "needs a person",
        "pending",
        "never synced",
    }
    assert expected[ids["grown"]] == ("pending", 15)
    assert expected[ids["never"]] == ("never synced", 80)

    handle = ui(root)
    open_view(page, handle)
    rows = shown(page)
    assert set(rows) == set(ids.values())
    for run_id, (status, points) in expected.items():
        assert rows[run_id]["status"] == status
        assert int(rows[run_id]["pending"].replace(",", "")) == points
        assert rows[run_id]["remote"] == mlflow_server.url
    assert "'lr'" in rows[ids["person"]]["error"]  # the param conflict, as sync --status says
    assert rows[ids["synced"]]["error"] == ""
    screenshot(page, "view-sync")

    page.click("[data-testid=sync-filter][data-status='needs a person']")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=sync-row]').length === 1")
    assert list(shown(page)) == [ids["person"]]
    assert "syncstatus=needs+a+person" in page.url
    page.click("[data-testid=sync-filter][data-status='']")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=sync-row]').length === 4")


def test_the_page_follows_a_sync_and_shows_who_holds_the_lock(
    tmp_path: Path, mlflow_server: Any, ui: Any, page: Any
) -> None:
    root = tmp_path / "runs"
    ids, never_dir = write_runs(root, mlflow_server.url)
    handle = ui(root)
    open_view(page, handle, "&syncstatus=never+synced")
    assert list(shown(page)) == [ids["never"]]

    locks = Locks(mlflow_server.url)
    lease = locks.acquire(never_dir)
    try:
        page.wait_for_function(
            "() => (document.querySelector('[data-testid=sync-holder]') || {}).textContent?.includes('being uploaded by')",
            timeout=30_000,
        )
    finally:
        locks.release(lease)  # type: ignore[arg-type]
        locks.close()

    sync_once(root, mlflow_server.url)  # the page polls: the never-synced run turns synced
    page.click("[data-testid=sync-filter][data-status='']")
    page.wait_for_function(
        """id => { const r = document.querySelector(`[data-testid=sync-row][data-run-id="${id}"]`);
                   return r && r.dataset.status === 'synced'; }""",
        arg=ids["never"],
        timeout=30_000,
    )
    assert cli_status(root, mlflow_server.url)[ids["never"]] == ("synced", 0)
