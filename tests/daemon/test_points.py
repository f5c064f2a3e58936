import json

import pyarrow as pa
from localtrack_daemon.plan import Group
from localtrack_daemon.points import pending_segments, read_points
from sync_store import Store, compact

from localtrack._store.layout import SegmentName
from localtrack._store.schema import STREAMS
from localtrack._store.segments import publish


def _sent(run_dir, files):
    pts = read_points(run_dir, "scalars", files)
    body = json.loads(pts.text.body("r", [(0, len(pts))]))
    return pts, [(m["key"], m["step"], m["value"]) for m in body["metrics"]]


def test_a_compacted_file_gives_the_same_points_in_the_same_order(tmp_path):
    run = Store(tmp_path)
    run.scalars([("b", 1, 1.0), ("a", 1, 2.0), ("b", 2, 3.0)])  # file order, not sorted
    run.scalars([("a", 2, 4.0)])
    run.scalars([("c", 0, 5.0), ("a", 3, 6.0)])
    fresh, fresh_points = _sent(run.dir, pending_segments(run.dir, "scalars", {}))
    assert compact(run.dir) == 3
    files = pending_segments(run.dir, "scalars", {})
    assert [(f.lo, f.hi) for f in files] == [(1, 3)]  # seq 0 is the start event
    merged, merged_points = _sent(run.dir, files)
    assert merged_points == fresh_points
    assert fresh_points[:3] == [("b", 1, 1.0), ("a", 1, 2.0), ("b", 2, 3.0)]
    w = run.writer
    assert (
        merged.groups == fresh.groups == [Group(w, 1, 0, 3), Group(w, 2, 3, 1), Group(w, 3, 4, 2)]
    )
    assert sorted(merged.tags) == ["a", "b", "c"]


def _rows(seqs, values, wall_us, writer="00aa11bb"):
    n = len(seqs)
    return pa.table(
        {
            "run_id": ["r"] * n,
            "tag": ["t"] * n,
            "step": list(range(n)),
            "wall_time": wall_us,
            "value": values,
            "writer": [writer] * n,
            "seq": seqs,
            "rank": [0] * n,
            "host": ["h"] * n,
            "pid": [1] * n,
        },
        schema=STREAMS["scalars"],
    )


def test_rows_out_of_seq_order_are_grouped_stably_and_unsendable_ones_skipped(tmp_path):
    run_dir = tmp_path / "run"
    t = 1_700_000_000_000_000
    table = _rows(
        seqs=[1, 1, 0, 1, 0],
        values=[10.0, None, 30.0, 40.0, 50.0],  # a null value is not sendable
        wall_us=[t, t, t, -5_000, t + 3_000],  # nor a time before 1970
    )
    publish(run_dir, "scalars", SegmentName("00aa11bb", 0, 1), table)
    pts, points = _sent(run_dir, [SegmentName("00aa11bb", 0, 1)])
    assert pts.skipped == 2
    assert pts.groups == [Group("00aa11bb", 0, 0, 2), Group("00aa11bb", 1, 2, 1)]
    assert [(step, value) for _, step, value in points] == [(2, 30.0), (4, 50.0), (0, 10.0)]
    body = json.loads(pts.text.body("r", [(1, 2)]))
    assert body["metrics"] == [{"key": "t", "value": 50.0, "timestamp": t // 1000 + 3, "step": 4}]
