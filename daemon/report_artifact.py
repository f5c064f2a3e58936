"""Each run's self-contained report as the MLflow artifact `localtrack/report.html`.

MLflow's artifact view previews HTML, so a team on MLflow sees what it has no view for: the
histograms, texts, PR curves, meshes and hparams that otherwise reach it as Parquet files
(artifacts.py). The page is the one `localtrack ui --export --every-stream` writes for the
run (localtrack/_ui/report/): every number, image and script inlined, no request possible.

It is made again when the run changed: any stream's set of segment files, a purge, or the
run's status; while the run is live at most every REPORT_EVERY_S (or 30 times as long as the
last report took to make, if longer). A report that cannot be made (a damaged file, say) is
logged and tried again later; it never stops the pass.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from localtrack._query.purge import Purge
from localtrack._store.layout import live_segments
from localtrack._store.schema import STREAMS
from localtrack._store.segments import list_segments

from .state import digest

if TYPE_CHECKING:
    from .upload import RunUpload

REPORT_ARTIFACT = "localtrack/report.html"
REPORT_KEY = "localtrack/report.html"
"""Its entry in the state's `artifacts` / `artifacts_at` (beside the streams' entries)."""
REPORT_EVERY_S = 60.0
"""Least time between two uploads of a live run's report."""
WAIT_KEY = "localtrack/report.html wait_s"
"""In `artifacts_at`: how long a live run's next report waits after the last one."""
WAIT_PER_SECOND = 30.0
"""A live run's report waits this many times as long as the last one took to make, when that
is more than REPORT_EVERY_S: a report of many long series (seconds of M4) then takes at most
~3 % of a core, however long the run stays live."""


def fingerprint(run_dir: Path, purges: Sequence[Purge], status: str) -> str:
    """What the report depends on: every stream's live segment names, purges, the status."""
    names = [
        f"{stream}/{n.filename}"
        for stream in sorted(STREAMS)
        for n in live_segments(list_segments(run_dir / stream))
    ]
    return digest(names + [repr(p) for p in purges] + [status])


def sync_report(upload: RunUpload, status: str) -> None:
    """Upload the run's report when it changed since the last upload (rate-limited while live)."""
    state = upload.state
    fp = fingerprint(upload.run_dir, upload.purges, status)
    if state.artifacts.get(REPORT_KEY) == fp:
        return
    last = state.artifacts_at.get(REPORT_KEY, 0.0)
    wait = max(REPORT_EVERY_S, state.artifacts_at.get(WAIT_KEY, 0.0))
    if status == "running" and abs(time.time() - last) < wait:  # abs: a clock set back
        return
    from localtrack._ui.report.export import run_report

    run_id = upload.marker["run_id"]
    started = time.monotonic()
    try:
        body = run_report(upload.run_dir, run_id)
    except Exception as e:  # a report is a convenience: the data itself is uploaded anyway
        state.artifacts_at[REPORT_KEY] = time.time()
        upload.log("report_skipped", run=run_id, error=str(e).strip().splitlines()[0][:500])
        return
    took = time.monotonic() - started
    upload.remote.put_artifact(upload.artifact_uri(), REPORT_ARTIFACT, body)
    state.artifacts_at[REPORT_KEY] = time.time()
    state.artifacts_at[WAIT_KEY] = WAIT_PER_SECOND * took
    state.artifacts[REPORT_KEY] = fp
    upload.save()
    upload.log("report_uploaded", run=run_id, bytes=len(body), seconds=round(took, 3))
