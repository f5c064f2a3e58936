"""The framing of W&B's transaction log (`run-<id>.wandb`): records of wandb's Record proto.

W&B writes every run, online or offline, to a LevelDB-style log: a 7-byte header (`:W&B`,
magic 0xBEE1, version 0), then 32 KiB blocks of chunks, each `crc32 (u32) | length (u16) |
type (u8) | data`, the CRC being zlib's CRC-32 of the data seeded with that of the type byte;
a record is one FULL chunk or a FIRST, MIDDLEs and a LAST; fewer than 7 bytes left in a block
are zero padding. wandb ≤ 0.19 read it with `wandb.sdk.internal.datastore.DataStore`; since
then the reader lives in the Go `wandb-core` binary, with no Python API, so this module reads
the framing (as DataStore did) and wandb's own `wandb_internal_pb2.Record` parses each record.

Reading resumes at a byte offset that ended a record. An incomplete last record (a run still
writing, or killed mid-write) ends the read there, to be read once whole; a checksum that
does not match stops the read with the file and offset.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from localtrack._errors import LocaltrackError

HEADER = struct.pack("<4sHB", b":W&B", 0xBEE1, 0)
HEADER_LEN = 7
BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
_SEED = {t: zlib.crc32(bytes([t])) & 0xFFFFFFFF for t in (FULL, FIRST, MIDDLE, LAST)}


class CorruptLog(LocaltrackError):
    """A chunk whose checksum or type is wrong: the file is damaged at that offset."""


@dataclass
class LogReader:
    """Records of one .wandb file from `start`; after iterating, where it stopped and why."""

    path: Path
    start: int = 0
    end: int = 0  # offset just after the last whole record read
    truncated: int = 0  # bytes of an incomplete record at the end, not read
    corrupt: CorruptLog | None = None
    max_bytes: int | None = None  # read only the file's first bytes (its first records)

    def records(self) -> Iterator[tuple[bytes, int]]:
        """(record bytes, offset just after it), in file order."""
        with open(self.path, "rb") as f:
            buf = f.read() if self.max_bytes is None else f.read(self.max_bytes)
        if buf[:4] != HEADER[:4] or len(buf) < HEADER_LEN or buf[:HEADER_LEN] != HEADER:
            if len(buf) < HEADER_LEN and HEADER.startswith(buf):
                self.truncated = len(buf)
                return
            raise CorruptLog(
                f"{self.path} is not a W&B transaction log (header {buf[:HEADER_LEN]!r}, "
                f"expected {HEADER!r}: a .wandb file of wandb ≥ 0.10)"
            )
        pos = max(self.start, HEADER_LEN)
        self.end = pos
        parts: list[bytes] = []
        while pos < len(buf):
            left = BLOCK - pos % BLOCK
            if left < HEADER_LEN:  # block trailer
                pos += left
                continue
            if pos + HEADER_LEN > len(buf):
                break
            crc, n, kind = struct.unpack_from("<IHB", buf, pos)
            if crc == 0 and n == 0 and kind == 0:  # a zero-filled rest of block
                pos += left
                continue
            if pos + HEADER_LEN + n > len(buf):
                break
            data = buf[pos + HEADER_LEN : pos + HEADER_LEN + n]
            if kind not in _SEED or zlib.crc32(data, _SEED[kind]) & 0xFFFFFFFF != crc:
                self.corrupt = CorruptLog(
                    f"{self.path}: corrupt record at byte offset {pos} (checksum or type "
                    f"{kind} wrong); what precedes it was read"
                )
                return
            pos += HEADER_LEN + n
            if kind == FULL:
                parts = []
                self.end = pos
                yield data, pos
            elif kind == FIRST:
                parts = [data]
            elif parts:
                parts.append(data)
                if kind == LAST:
                    record, parts = b"".join(parts), []
                    self.end = pos
                    yield record, pos
        if buf[self.end :].strip(b"\x00"):  # zeros only: block padding, nothing to wait for
            self.truncated = len(buf) - self.end
