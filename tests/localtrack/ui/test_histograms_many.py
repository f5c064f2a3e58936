"""The distribution of one tag over 10,000 steps of histograms with hundreds of buckets
(about 100 MB of bucket lists, more than the dashboard's 128 MB DuckDB limit once a query
holds them all): every step's bands come back, equal to those of its stored histogram, and
a step logged twice counts once, with its last value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import requests

import localtrack
from localtrack import ui
from localtrack._ui.views import _histogram_bands as hb
from localtrack._ui.views._columns import decode_columns

STEPS = 10_000


def test_ten_thousand_wide_histograms_all_come_back(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    writer = localtrack.SummaryWriter(str(tmp_path / "p" / "r"))
    for step in range(STEPS):
        writer.add_histogram("w", rng.normal(step / STEPS, 1.0, 256), step)
    writer.add_histogram("w", np.full(50, 7.0), 123)  # step 123 again: this one wins
    writer.close()
    stored = localtrack.sql(
        "SELECT step, min, max, bucket_limits, bucket_counts FROM histograms "
        "WHERE step IN (0, 123, 9999) QUALIFY row_number() OVER "
        "(PARTITION BY step ORDER BY wall_time DESC, seq DESC) = 1 ORDER BY step",
        tmp_path,
    ).fetchall()
    assert max(len(r[3]) for r in stored) > 300  # wide: hundreds of buckets a step

    handle = ui.serve(root=tmp_path, port=0, token=False)
    try:
        base = handle.url.rstrip("/")
        run = requests.get(base + "/api/runs", timeout=30).json()["runs"][0]["run_id"]
        got = requests.get(
            base + "/api/histograms/distribution", {"run": run, "tag": "w"}, timeout=300
        )
        assert got.status_code == 200, got.text[:300]
        _, columns = decode_columns(got.content)
    finally:
        handle.stop()
    assert np.array_equal(columns["step"], np.arange(STEPS, dtype=float))
    for step, lo, hi, limits, counts in stored:
        want = hb.bands([np.asarray(limits)], [np.asarray(counts)], np.array([lo]), np.array([hi]))
        row = [columns[name][step] for name in hb.BAND_NAMES]
        assert np.allclose(row, want[0]), step
    assert columns["p50"][123] == 7.0
