"""Which rows go in which request, and what progress each acknowledged request proves: pure.

Rows are identified by (writer, seq, position within that seq in a deterministic order), never
by file name, so compaction (which merges segments into one file, keeping every row's writer and
seq) never causes a row to be sent twice or skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .state import WriterProgress


@dataclass(frozen=True)
class Group:
    """The rows of one (writer, seq) in a sorted table: `count` rows from `first` on."""

    writer: str
    seq: int
    first: int
    count: int


@dataclass(frozen=True)
class Mark:
    """After its batch is acknowledged: `rows` rows of (writer, seq) are done; all if `complete`."""

    writer: str
    seq: int
    rows: int
    complete: bool


@dataclass(frozen=True)
class Batch:
    """Row ranges [start, stop) of the sorted table, and the progress marks they prove."""

    slices: tuple[tuple[int, int], ...]
    marks: tuple[Mark, ...]

    @property
    def size(self) -> int:
        return sum(stop - start for start, stop in self.slices)


def groups(writers: list[str], codes: np.ndarray, seqs: np.ndarray) -> list[Group]:
    """Runs of equal (writer, seq) in rows ordered by writer, then seq; row i is of writer
    `writers[codes[i]]` and of seq `seqs[i]`."""
    n = len(seqs)
    if n == 0:
        return []
    starts = [0, *(np.flatnonzero((np.diff(seqs) != 0) | (np.diff(codes) != 0)) + 1).tolist()]
    ends = [*starts[1:], n]
    first_codes, first_seqs = codes[starts].tolist(), seqs[starts].tolist()
    return [
        Group(writers[c], s, start, end - start)
        for c, s, start, end in zip(first_codes, first_seqs, starts, ends, strict=True)
    ]


def plan_batches(
    found: list[Group], progress: dict[str, WriterProgress], limit: int
) -> list[Batch]:
    """Batches of at most `limit` rows holding every row not yet done, in table order.

    A group already done is skipped; a partly done group resumes after its done rows. Each
    batch's marks say, per group it touches, how many of its rows are done once the batch and
    every batch before it are acknowledged.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    batches: list[Batch] = []
    slices: list[tuple[int, int]] = []
    marks: list[Mark] = []
    room = limit
    for g in found:
        p = progress.get(g.writer)
        if p is not None and p.is_done(g.seq):
            continue
        done = min(p.rows_done(g.seq), g.count) if p is not None else 0
        if done == g.count:  # every row sent, but the group was never marked complete
            marks.append(Mark(g.writer, g.seq, g.count, True))
        while done < g.count:
            take = min(room, g.count - done)
            slices.append((g.first + done, g.first + done + take))
            done += take
            room -= take
            marks.append(Mark(g.writer, g.seq, done, done == g.count))
            if room == 0:
                batches.append(Batch(tuple(slices), tuple(marks)))
                slices, marks, room = [], [], limit
    if slices or marks:
        batches.append(Batch(tuple(slices), tuple(marks)))
    return batches


def apply_marks(progress: dict[str, WriterProgress], marks: tuple[Mark, ...]) -> None:
    """Record an acknowledged batch's marks in the writers' progress."""
    for m in marks:
        p = progress.setdefault(m.writer, WriterProgress())
        if m.complete:
            p.mark_done(m.seq)
        else:
            p.mark_partial(m.seq, m.rows)
