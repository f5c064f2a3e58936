"""/api/live: which runs' scalars changed since a snapshot generation (the page polls it)."""

from __future__ import annotations

from localtrack._ui import params as p
from localtrack._ui.answer import Answer, json_answer
from localtrack._ui.snapshot import Snapshots


def live_answer(snapshots: Snapshots, query: dict[str, str]) -> Answer:
    since = p.integer(query.get("since"), "since", 0, -1, 2**62)
    snapshots.wait_ready()
    return json_answer(snapshots.live(since))
