import numpy as np
from localtrack_daemon.plan import Batch, Group, Mark, apply_marks, groups, plan_batches
from localtrack_daemon.state import WriterProgress


def test_groups_split_on_writer_and_seq():
    codes, seqs = np.array([0, 0, 0, 1, 1]), np.array([1, 1, 2, 2, 2])
    assert groups(["a", "b"], codes, seqs) == [
        Group("a", 1, 0, 2),
        Group("a", 2, 2, 1),
        Group("b", 2, 3, 2),
    ]
    assert groups([], np.zeros(0, int), np.zeros(0, int)) == []


def test_batches_hold_at_most_limit_rows_and_every_row_once():
    found = [Group("a", 0, 0, 3), Group("a", 1, 3, 4), Group("b", 0, 7, 2)]
    batches = plan_batches(found, {}, limit=4)
    assert [b.size for b in batches] == [4, 4, 1]
    rows = [i for b in batches for s, e in b.slices for i in range(s, e)]
    assert rows == list(range(9))
    assert batches[0].marks == (Mark("a", 0, 3, True), Mark("a", 1, 1, False))
    assert batches[1].marks == (Mark("a", 1, 4, True), Mark("b", 0, 1, False))


def test_done_groups_are_skipped_and_partial_ones_resume():
    progress = {"a": WriterProgress(done=[[0, 0]], partial={1: 3})}
    found = [Group("a", 0, 0, 3), Group("a", 1, 3, 4), Group("a", 2, 7, 1)]
    batches = plan_batches(found, progress, limit=1000)
    assert batches == [Batch(((6, 7), (7, 8)), (Mark("a", 1, 4, True), Mark("a", 2, 1, True)))]


def test_a_group_sent_whole_but_never_marked_is_marked_without_resending():
    progress = {"a": WriterProgress(partial={5: 2})}
    batches = plan_batches([Group("a", 5, 0, 2)], progress, limit=10)
    assert batches == [Batch((), (Mark("a", 5, 2, True),))]


def test_resuming_from_every_acknowledged_prefix_sends_each_row_once():
    found = [Group("w", s, s * 5, 5) for s in range(7)]  # 35 rows
    for acked in range(5):
        progress: dict[str, WriterProgress] = {}
        sent = []
        plan = plan_batches(found, progress, limit=8)
        for b in plan[:acked]:
            sent += [i for s, e in b.slices for i in range(s, e)]
            apply_marks(progress, b.marks)
        for b in plan_batches(found, progress, limit=8):
            sent += [i for s, e in b.slices for i in range(s, e)]
        assert sorted(sent) == list(range(35))


def test_progress_ranges_merge():
    p = WriterProgress()
    for s in (3, 1, 2, 7):
        p.mark_done(s)
    p.mark_range(8, 10)
    assert p.done == [[1, 3], [7, 10]]
    assert p.covers(7, 10) and not p.covers(3, 7)
