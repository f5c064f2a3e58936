"""A dashboard over a store, asked over real HTTP: for the media views' endpoint tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from localtrack import ui


def serve_query(
    root: Path, path: str, params: dict[str, str], run_id: str | None = None
) -> tuple[Any, str]:
    """GET `path` on a fresh server over `root` (for the first run, unless `run_id`): the
    answer (JSON decoded, else bytes) and the run id."""
    handle = ui.serve(root=root, port=0, token=False)
    try:
        base = handle.url.rstrip("/")
        if run_id is None:
            run_id = requests.get(base + "/api/runs", timeout=30).json()["runs"][0]["run_id"]
        answer = requests.get(base + path, params={"run": run_id, **params}, timeout=60)
        assert answer.status_code == 200, answer.text
        if answer.headers["Content-Type"].startswith("application/json"):
            return answer.json(), run_id
        return answer.content, run_id
    finally:
        handle.stop()
