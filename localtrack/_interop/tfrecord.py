"""TFRecord framing of TensorBoard event files: each record is checked before it is used.

A record is `length` (uint64 LE), `masked_crc32c(length)` (uint32 LE), `data`, and
`masked_crc32c(data)`. `read_records` walks the framing from a byte offset and checks every
CRC, vectorised with numpy over all records of one length at once (a per-byte Python loop
only for the few long records), so a million small records are checked in a fraction of a
second. A record whose CRC does not match ends the walk with a CorruptRecordError naming the
file and the record's offset (the good records before it are returned); a last record cut short (a writer killed mid-write) ends the walk and is
reported in `Records.truncated`, everything before it is returned.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from localtrack._errors import LocaltrackError

HEADER = 12
"""Bytes before a record's data: length and its CRC."""
FOOTER = 4
_MASK_DELTA = 0xA282EAD8
_GATHER = 1 << 22
"""Bytes gathered at once for a vectorised CRC."""
_LONG = 2048
"""Records longer than this have their CRC computed one by one (few: images, audio, graphs)."""


class CorruptRecordError(LocaltrackError, ValueError):
    """A record whose CRC does not match its bytes: the file is damaged at `offset`."""

    def __init__(self, path: Path, offset: int, what: str) -> None:
        super().__init__(
            f"{path}: corrupt record at byte offset {offset} ({what}). The file is damaged "
            "there; nothing of it was imported. Restore it from a copy, or cut it before that "
            f"offset (`truncate -s {offset} {path}`) to import what precedes it"
        )
        self.path = path
        self.offset = offset


def _crc_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0x82F63B78), table >> 1)
    return table.astype(np.uint32)


TABLE = _crc_table()
_TABLE_LIST = [int(x) for x in TABLE]


def crc32c_rows(rows: np.ndarray) -> np.ndarray:
    """CRC32C of each row of a 2-D uint8 array (one numpy pass per column)."""
    crc = np.full(rows.shape[0], 0xFFFFFFFF, np.uint32)
    eight = np.uint32(8)
    for j in range(rows.shape[1]):
        crc = TABLE[(crc ^ rows[:, j]) & 0xFF] ^ (crc >> eight)
    out: np.ndarray = crc ^ np.uint32(0xFFFFFFFF)
    return out


def crc32c(data: bytes | memoryview) -> int:
    """CRC32C of one byte string (table-driven, for the few long records)."""
    crc = 0xFFFFFFFF
    table = _TABLE_LIST
    for b in bytes(data):
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def mask(crc: np.ndarray) -> np.ndarray:
    """TFRecord's masked CRC: rotate right by 15 bits and add a constant."""
    c = crc.astype(np.uint64)
    out: np.ndarray = ((((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF).astype(np.uint32)
    return out


def frame(data: bytes) -> bytes:
    """One record's bytes in TFRecord framing."""
    length = len(data).to_bytes(8, "little")
    return length + crc_at(length).to_bytes(4, "little") + data + crc_at(data).to_bytes(4, "little")


@dataclass
class Records:
    """The whole records of a file from `start`: data of record i is buf[data_at[i]:][:length[i]]."""

    buf: bytes
    start: int
    data_at: np.ndarray  # int64 offsets of each record's data in buf (buf begins at `start`)
    length: np.ndarray  # int64 data lengths
    end: int  # file offset just after the last whole (good) record
    truncated: int  # bytes of a cut-short last record left unread (0: none)
    corrupt: CorruptRecordError | None = None  # the first bad record: nothing from it on

    def __len__(self) -> int:
        return len(self.length)

    def data(self, i: int) -> bytes:
        at = int(self.data_at[i])
        return self.buf[at : at + int(self.length[i])]

    def offset(self, i: int) -> int:
        """File offset of record i's framing."""
        return self.start + int(self.data_at[i]) - HEADER


CHUNK_BYTES = 32 << 20
"""Bytes read at a time: a file of any size is read in bounded memory."""


def iter_records(path: Path, start: int = 0, chunk: int = CHUNK_BYTES) -> Iterator[Records]:
    """The whole records of `path` from byte `start`, CRC-checked, a chunk at a time.

    The last chunk's `truncated` counts the bytes of a cut-short last record (0: none); a
    chunk holding a corrupt record ends before it, carries the error in `corrupt`, and is
    the last one."""
    with open(path, "rb") as f:
        f.seek(start)
        pos = start
        while True:
            buf = f.read(chunk)
            final = len(buf) < chunk
            data_at, length, end = _walk(buf)
            if end == 0 and not final and len(buf) >= HEADER:  # one record bigger than chunk
                size = int.from_bytes(buf[:8], "little")
                buf += f.read(HEADER + size + FOOTER - len(buf))
                final = len(buf) < HEADER + size + FOOTER
                data_at, length, end = _walk(buf)
            rec = Records(buf, pos, data_at, length, pos + end, len(buf) - end if final else 0)
            _check(path, rec)
            if rec.truncated >= HEADER and not rec.corrupt:
                _check_tail(path, rec)
            if len(rec) or final or rec.corrupt:
                yield rec
            if final or rec.corrupt:
                return
            pos += end
            f.seek(pos)


def read_records(path: Path, start: int = 0) -> Records:
    """Every whole record of `path` from byte `start` at once (small files, tests)."""
    size = max(0, path.stat().st_size - start)
    parts = list(iter_records(path, start, chunk=size + 1))
    return parts[-1]


def _walk(buf: bytes) -> tuple[np.ndarray, np.ndarray, int]:
    """Offsets and lengths of the whole records in buf; the end of the last whole one.

    Record by record, except where the last few lengths repeat with a short period (one
    tag, or a few tags logged in turn, at steps of the same varint size: most of a scalar
    log): there the headers a block further on are read at once, and as many periods taken
    as match."""
    at, n = 0, len(buf)
    arr = np.frombuffer(buf, np.uint8)
    starts: list[int] = []
    lengths: list[int] = []
    blocks: list[tuple[np.ndarray, np.ndarray]] = []
    from_bytes = int.from_bytes
    while at + HEADER <= n:
        size = from_bytes(buf[at : at + 8], "little")
        end = at + HEADER + size + FOOTER
        if end > n:
            break
        starts.append(at + HEADER)
        lengths.append(size)
        at = end
        if len(lengths) >= _RUN_PROBE and not len(lengths) % _RUN_PROBE:
            found = _periodic_run(arr, at, lengths[-_RUN_PROBE:])
            if found is not None:
                blocks.append((np.array(starts, np.int64), np.array(lengths, np.int64)))
                blocks.append(found[:2])
                starts, lengths, at = [], [], found[2]
    blocks.append((np.array(starts, np.int64), np.array(lengths, np.int64)))
    return np.concatenate([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks]), at


_RUN_PROBE = 16
"""Records walked one by one between two looks for a repeating run of lengths."""


def _periodic_run(
    arr: np.ndarray, at: int, recent: list[int]
) -> tuple[np.ndarray, np.ndarray, int] | None:
    """The records from `at` on whose lengths repeat the period of `recent`'s tail (period 1
    to 8), as (data offsets, lengths, end); None when there is no such run."""
    for period in range(1, 9):
        tail = recent[-period:]
        if recent[-2 * period :] != tail * 2:
            continue
        sizes = np.array(tail, np.int64)
        strides = sizes + HEADER + FOOTER
        cycle = int(strides.sum())
        cycles = (len(arr) - at) // cycle
        if cycles < 2:
            return None
        cycles = min(cycles, 1 << 16)
        heads = at + (
            np.arange(cycles)[:, None] * cycle + np.concatenate([[0], np.cumsum(strides)[:-1]])
        )
        got = arr[heads.reshape(-1)[:, None] + np.arange(8)].view("<u8").reshape(cycles, period)
        whole = np.all(got == sizes, axis=1)
        taken = int(cycles if whole.all() else np.argmin(whole))
        if not taken:
            return None
        heads = heads[:taken].reshape(-1)
        return heads + HEADER, np.tile(sizes, taken), at + taken * cycle
    return None


def _check(path: Path, rec: Records) -> None:
    """Cut `rec` before its first record whose CRC does not match, and say where it is."""
    if not len(rec):
        return
    buf = np.frombuffer(rec.buf, np.uint8)
    heads = rec.data_at - HEADER
    bad: list[tuple[int, str]] = []
    step = _GATHER // 8
    for lo in range(0, len(heads), step):
        part = np.arange(lo, min(lo + step, len(heads)))
        rows = buf[heads[part][:, None] + np.arange(8)]
        bad += _mismatches(rec, part, rows, heads[part] + 8, "length")
        if bad:
            break
    for size in np.unique(rec.length).tolist():
        idx = np.flatnonzero(rec.length == size)
        if size > _LONG:
            for i in idx.tolist():
                a = int(rec.data_at[i])
                got = crc_at(rec.buf[a : a + size])
                if got != int.from_bytes(rec.buf[a + size : a + size + 4], "little"):
                    bad.append((i, "data"))
                    break
            continue
        chunk = max(1, _GATHER // max(size, 1))  # bounded index arrays
        for lo in range(0, len(idx), chunk):
            part = idx[lo : lo + chunk]
            at = rec.data_at[part]
            found = _mismatches(rec, part, buf[at[:, None] + np.arange(size)], at + size, "data")
            if found:
                bad += found
                break
    if bad:
        first, what = min(bad)
        rec.corrupt = CorruptRecordError(path, rec.offset(first), f"CRC of the {what}")
        rec.end = rec.offset(first)
        rec.data_at, rec.length = rec.data_at[:first], rec.length[:first]


def _check_tail(path: Path, rec: Records) -> None:
    """A cut-short last record is truncation only if its length is intact; else corruption."""
    at = rec.end - rec.start
    head = rec.buf[at : at + 8]
    if crc_at(head) != int.from_bytes(rec.buf[at + 8 : at + 12], "little"):
        rec.corrupt = CorruptRecordError(path, rec.end, "CRC of the length")
        rec.truncated = 0


def crc_at(data: bytes) -> int:
    """The masked CRC32C of `data`, as framing stores it."""
    return int(mask(np.array([crc32c(data)], np.uint32))[0])


def _mismatches(
    rec: Records, part: np.ndarray, rows: np.ndarray, crc_at: np.ndarray, what: str
) -> list[tuple[int, str]]:
    raw = np.frombuffer(rec.buf, np.uint8)[crc_at[:, None] + np.arange(4)]
    stored = np.ascontiguousarray(raw).view("<u4").reshape(-1)
    bad = np.flatnonzero(mask(crc32c_rows(rows)) != stored)
    return [(int(part[bad[0]]), what)] if bad.size else []
