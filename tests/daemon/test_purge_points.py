"""Points a purge hides: kept in the row counts, left out of every request body."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from localtrack_daemon.plan import Mark
from localtrack_daemon.points import pending_segments, read_points, run_purges, visible_slices
from localtrack_daemon.purged import purge_tags, sent_and_hidden
from localtrack_daemon.state import WriterProgress
from sync_store import Store

from localtrack._store.segments import read_stream


@pytest.mark.parametrize(
    ("slices", "hidden", "expected"),
    [
        (((0, 6),), [0, 0, 0, 0, 0, 0], ((0, 6),)),
        (((0, 6),), [1, 1, 1, 1, 1, 1], ()),
        (((0, 6),), [0, 1, 1, 0, 0, 1], ((0, 1), (3, 5))),
        (((1, 3), (4, 6)), [0, 0, 1, 0, 1, 0], ((1, 2), (5, 6))),
        ((), [1, 0], ()),
    ],
)
def test_visible_slices_cut_out_hidden_rows(slices, hidden, expected) -> None:
    assert visible_slices(slices, np.array(hidden, bool)) == expected


def resumed_run(root: Path) -> tuple[Store, Store]:
    """Writer 1 logs steps 0..9 in one segment; writer 2 starts later, purges at 5, logs 5..7."""
    first = Store(root)
    first.scalars([("loss", s, float(s)) for s in range(10)])
    first.finish()
    second = Store(root, project="proj", run_id=first.run_id)
    second.clock_us = max(second.clock_us, first.clock_us)
    second.event("purge", payload={"step": 5})
    second.scalars([("loss", s, s + 0.5) for s in range(5, 8)])
    return first, second


def points_of(root: Path, run: Store, progress: dict[str, WriterProgress]):
    purges = run_purges(read_stream(run.dir, "events"))
    files = pending_segments(run.dir, "scalars", progress)
    return read_points(run.dir, "scalars", files, purges), purges


def sent(pts, batches) -> list[tuple[int, float]]:
    out = []
    for b in batches:
        if b.slices:
            body = json.loads(pts.text.body("r", b.slices))
            out += [(m["step"], m["value"]) for m in body["metrics"]]
    return out


def test_hidden_rows_are_counted_as_handled_but_never_sent(tmp_path: Path) -> None:
    first, second = resumed_run(tmp_path)
    pts, purges = points_of(tmp_path, first, {})
    assert [(p.writer, p.step, p.purged_by) for p in purges] == [(first.writer, 5, second.writer)]
    assert pts.purged == 5
    batches = pts.batches({}, limit=4)
    expected = [(s, float(s)) for s in range(5)] + [(5, 5.5), (6, 6.5), (7, 7.5)]
    assert sorted(sent(pts, batches)) == expected  # writers come in the order of their ids
    # The first writer's seq is done whole, its five hidden rows included.
    marks = [m for b in batches for m in b.marks if m.writer == first.writer]
    assert marks[-1] == Mark(first.writer, 1, 10, True)
    assert sum(b.size for b in batches) == 8  # what is counted as sent


def test_a_partly_sent_seq_resumes_at_the_same_row_after_a_purge(tmp_path: Path) -> None:
    first, _ = resumed_run(tmp_path)
    # Three rows of the first writer's seq were sent before the purge appeared.
    progress = {first.writer: WriterProgress(partial={1: 3})}
    pts, _ = points_of(tmp_path, first, progress)
    batches = pts.batches(progress, limit=1000)
    mine = [p for p in sent(pts, batches) if p[1] == p[0]]
    assert mine == [(3, 3.0), (4, 4.0)]  # rows 3 and 4; 5.. are hidden
    assert (
        sent_and_hidden(first.dir, run_purges(read_stream(first.dir, "events")), [], progress) == 0
    )


def test_hidden_points_already_sent_are_counted(tmp_path: Path) -> None:
    first, _ = resumed_run(tmp_path)
    purges = run_purges(read_stream(first.dir, "events"))
    whole = {first.writer: WriterProgress(done=[[0, 1]])}
    assert sent_and_hidden(first.dir, purges, [], whole) == 5
    assert (
        sent_and_hidden(first.dir, purges, [], {first.writer: WriterProgress(partial={1: 7})}) == 2
    )
    assert sent_and_hidden(first.dir, purges, purges, whole) == 0  # counted before: not again
    assert purge_tags(purges) == [("localtrack.purged_steps", "5")]
    assert purge_tags([]) == []


def test_without_purges_nothing_changes(tmp_path: Path) -> None:
    run = Store(tmp_path)
    run.scalars([("loss", s, float(s)) for s in range(10)])
    pts, purges = points_of(tmp_path, run, {})
    assert purges == [] and pts.hidden is None and pts.purged == 0
    assert [b.slices for b in pts.batches({}, 4)] == [((0, 4),), ((4, 8),), ((8, 10),)]
