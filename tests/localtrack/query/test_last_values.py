from __future__ import annotations

from pathlib import Path

from segment_store import make_run, scalar_rows

from localtrack._query.compact import compact
from localtrack._query.connect import run_on_listing
from localtrack._query.last_values import cache_path, run_tags
from localtrack._store.layout import SegmentName
from localtrack._store.segments import publish


def last(root: Path) -> dict[tuple[str, str], tuple[int, int, float, float, float]]:
    table = run_on_listing(root, run_tags)
    return {
        (r["run_id"], r["tag"]): (r["points"], r["last_step"], r["last_value"], r["min"], r["max"])
        for r in table.to_pylist()
    }


def test_last_values_are_exact_and_cached_per_file(tmp_path: Path, private_cache: Path) -> None:
    run = make_run(tmp_path / "s" / "a", "lv1", points=10, per_segment=3)
    make_run(tmp_path / "s" / "b", "lv2", points=4, tag="acc")
    assert last(tmp_path / "s") == {
        ("lv1", "loss"): (10, 9, 0.9, 0.0, 0.9),
        ("lv2", "acc"): (4, 3, 0.3, 0.0, 0.3),
    }
    assert cache_path().parent == private_cache
    assert cache_path().exists()
    # A new segment is scanned on the next call; the others come from the cache.
    publish(
        run,
        "scalars",
        SegmentName("aaaaaaaa", 4, 4),
        scalar_rows("lv1", "loss", [10, 11], [5.0, -1.0], "aaaaaaaa", 4),
    )
    assert last(tmp_path / "s")[("lv1", "loss")] == (12, 11, -1.0, -1.0, 5.0)


def test_compaction_and_a_broken_cache_change_nothing(tmp_path: Path) -> None:
    make_run(tmp_path / "a", "lv3", points=9, per_segment=2)
    before = last(tmp_path)
    compact(tmp_path, grace=0)
    assert last(tmp_path) == before
    cache_path().write_bytes(b"not parquet")
    assert last(tmp_path) == before
    assert last(tmp_path) == {("lv3", "loss"): (9, 8, 0.8, 0.0, 0.8)}
