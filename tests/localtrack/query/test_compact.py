from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

import pytest
from segment_store import make_run

from localtrack._query import connect, sql
from localtrack._query.compact import compact
from localtrack._query.files import SkippedFileWarning
from localtrack._query.pins import PINNING
from localtrack._store.compaction import delete_segments, merge_segments
from localtrack._store.layout import SegmentName, lease_path


def parquet_names(run: Path, stream: str = "scalars") -> list[str]:
    return sorted(p.name for p in (run / stream).glob("*.parquet"))


def totals(root: Path) -> tuple[int, int]:
    rows = sql("SELECT count(*), sum(step) FROM scalars", root).fetchall()
    return int(rows[0][0]), int(rows[0][1] or 0)


def test_compact_merges_a_stopped_writers_segments_into_one(tmp_path: Path) -> None:
    run = make_run(tmp_path / "p" / "a", "cmp1", points=30, per_segment=2)
    assert len(parquet_names(run)) == 15
    report = compact(tmp_path, grace=0)
    assert parquet_names(run) == [SegmentName("aaaaaaaa", 0, 14).filename]
    assert (report.runs, report.merged_files, report.written_files) == (1, 15 + 2, 1 + 1)
    assert totals(tmp_path) == (30, sum(range(30)))
    rows = sql("SELECT seq, step FROM scalars ORDER BY step", tmp_path).fetchall()
    assert rows[:3] == [(0, 0), (0, 1), (1, 2)]  # rows keep the seq they were sealed in


def test_compact_leaves_a_live_writer_alone(tmp_path: Path) -> None:
    run = make_run(tmp_path / "a", "live1", points=6, finished=None)
    lease = lease_path(run, "aaaaaaaa")
    lease.parent.mkdir()
    lease.touch()
    before = parquet_names(run)
    report = compact(tmp_path, grace=0)
    assert parquet_names(run) == before
    assert report.skipped_writers == 1


def test_compact_removes_files_an_interrupted_compaction_left(tmp_path: Path) -> None:
    run = make_run(tmp_path / "a", "left1", points=4)
    import pyarrow as pa

    from localtrack._store.segments import publish, read_segment

    parts = [read_segment(run / "scalars" / SegmentName("aaaaaaaa", i, i).filename) for i in (0, 1)]
    publish(run, "scalars", SegmentName("aaaaaaaa", 0, 1), pa.concat_tables(parts))
    report = compact(tmp_path, grace=0)
    assert report.deleted_covered == 2
    assert parquet_names(run) == [SegmentName("aaaaaaaa", 0, 3).filename]
    assert totals(tmp_path) == (4, 6)


def test_compact_never_merges_or_deletes_a_corrupt_file(tmp_path: Path) -> None:
    run = make_run(tmp_path / "a", "bad1", points=7)
    bad = run / "scalars" / SegmentName("aaaaaaaa", 3, 3).filename
    bad.write_bytes(b"PAR1 not really")
    with pytest.warns(SkippedFileWarning):
        compact(tmp_path, grace=0)
    assert parquet_names(run) == [
        SegmentName("aaaaaaaa", 0, 2).filename,
        bad.name,
        SegmentName("aaaaaaaa", 4, 6).filename,
    ]
    with pytest.warns(SkippedFileWarning):
        assert totals(tmp_path) == (6, 21 - 3)


def test_queries_during_compaction_count_every_row_once(tmp_path: Path) -> None:
    runs, points = 12, 40
    for i in range(runs):
        make_run(tmp_path / "p" / f"r{i}", f"hammer{i:02d}", points=points, per_segment=1)
    expected = (runs * points, runs * sum(range(points)))
    done = threading.Event()
    errors: list[BaseException] = []

    def compact_all() -> None:
        try:
            compact(tmp_path)
        except BaseException as e:
            errors.append(e)
        finally:
            done.set()

    worker = threading.Thread(target=compact_all)
    worker.start()
    answers = []
    while not done.is_set():
        answers.append(totals(tmp_path))
    worker.join()
    answers.append(totals(tmp_path))
    assert not errors
    assert len(answers) >= 2
    assert set(answers) == {expected}
    assert sum(len(parquet_names(r)) for r in (tmp_path / "p").iterdir()) == runs


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def mark_live(run: Path, writer: str = "aaaaaaaa") -> None:
    lease = lease_path(run, writer)
    lease.parent.mkdir(exist_ok=True)
    lease.touch()


@pytest.mark.skipif(not PINNING, reason="needs /proc/self/fd")
def test_a_held_connection_keeps_its_snapshot_while_a_live_writer_compacts(
    tmp_path: Path,
) -> None:
    run = make_run(tmp_path / "a", "held1", points=20, per_segment=1, finished=None)
    mark_live(run)
    con = connect(tmp_path)
    # What the writer does to its own files: publish the merge, then delete the inputs.
    names = [SegmentName("aaaaaaaa", i, i) for i in range(16)]
    merge_segments(run, "scalars", names)
    delete_segments(run, "scalars", names)
    assert len(parquet_names(run)) == 1 + 4
    assert con.execute("SELECT count(*), sum(step) FROM scalars").fetchone() == (20, 190)
    assert connect(tmp_path).execute("SELECT count(*), sum(step) FROM scalars").fetchone() == (
        20,
        190,
    )


@pytest.mark.skipif(not PINNING, reason="needs /proc/self/fd")
def test_descriptors_are_closed_with_the_connection(tmp_path: Path) -> None:
    run = make_run(tmp_path / "a", "fds1", points=30, per_segment=1, finished=None)
    mark_live(run)
    gc.collect()
    before = open_descriptors()
    for _ in range(3):
        assert totals(tmp_path) == (30, 435)
    assert open_descriptors() == before
    con = connect(tmp_path)
    assert open_descriptors() >= before + 30
    del con
    gc.collect()
    assert open_descriptors() == before


def test_a_group_with_a_damaged_file_inside_is_left_whole(tmp_path: Path) -> None:
    run = make_run(tmp_path / "a", "bad2", points=5)
    bad = run / "scalars" / SegmentName("aaaaaaaa", 2, 2).filename
    data = bytearray(bad.read_bytes())
    data[4:-8] = b"\xff" * (len(data) - 12)
    bad.write_bytes(bytes(data))
    before = parquet_names(run)
    with pytest.warns(SkippedFileWarning, match="not merged"):
        compact(tmp_path, grace=0)
    assert parquet_names(run) == before
    assert parquet_names(run, "events") == [SegmentName("aaaaaaaa", 0, 1).filename]
