"""The text view's endpoints: every logged step, and the text of one step as stored (HTML in
it included: the page, not the server, decides how it is shown)."""

from __future__ import annotations

from pathlib import Path

import localtrack
from tests.localtrack.ui.media_views_http import serve_query

TEXT = "# step {step}\n<script>alert(1)</script>"


def test_steps_and_text_of_a_step(tmp_path: Path) -> None:
    writer = localtrack.SummaryWriter(str(tmp_path / "p" / "r"))
    for step in (0, 10, 20):
        writer.add_text("log", TEXT.format(step=step), step)
    writer.close()
    steps, run = serve_query(tmp_path, "/api/text/steps", {"tag": "log"})
    assert steps["step"] == [0, 10, 20]
    answer, _ = serve_query(tmp_path, "/api/text/text", {"tag": "log", "step": "10"}, run)
    assert answer == {"run_id": run, "tag": "log", "step": 10, "text": TEXT.format(step=10)}
    tags, _ = serve_query(tmp_path, "/api/text/tags", {"runs": run}, run)
    assert [t["tag"] for t in tags["tags"]] == ["log"]
