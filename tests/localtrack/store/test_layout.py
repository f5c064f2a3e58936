"""Pure naming rules of the store: segment names, coverage, and safe folder names."""

import pytest

from localtrack._store.layout import (
    SegmentName,
    covered_segments,
    live_segments,
    parse_segment_name,
    safe_component,
)

W = "0123abcd"


def test_segment_name_round_trips():
    name = SegmentName(W, 3, 17)
    assert name.filename == "0123abcd-0000000003-0000000017.parquet"
    assert parse_segment_name(name.filename) == name


@pytest.mark.parametrize(
    "filename",
    [".0123abcd-0000000003-0000000003.parquet.tmp", "foo.parquet", "0123abcd-3-3.parquet", "x"],
)
def test_other_files_are_not_segments(filename):
    assert parse_segment_name(filename) is None


def test_live_drops_ranges_covered_by_a_merged_file():
    small = [SegmentName(W, i, i) for i in range(5)]
    merged = SegmentName(W, 0, 3)
    other_writer = SegmentName("ffffffff", 1, 1)
    live = live_segments([*small, merged, other_writer])
    assert live == [merged, SegmentName(W, 4, 4), other_writer]
    assert covered_segments([*small, merged]) == small[:4]


def test_nested_merges_keep_only_the_widest():
    names = [SegmentName(W, 0, 15), SegmentName(W, 0, 255), SegmentName(W, 16, 31)]
    assert live_segments(names) == [SegmentName(W, 0, 255)]


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "../x", " p", "a\\b"])
def test_unsafe_folder_names_raise_with_the_fix(bad):
    with pytest.raises(ValueError, match="cannot be used as a folder name"):
        safe_component(bad, "project")


def test_unicode_project_names_are_fine():
    assert safe_component("проект-1", "project") == "проект-1"
