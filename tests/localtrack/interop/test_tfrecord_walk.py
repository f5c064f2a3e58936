"""The TFRecord framing walk finds exactly the records a one-by-one walk finds, whatever the
pattern of lengths (the walk takes repeating runs of lengths in blocks)."""

from __future__ import annotations

import numpy as np
import pytest

from localtrack._interop.tfrecord import FOOTER, HEADER, _walk


def frame(sizes: list[int], rng: np.random.Generator) -> bytes:
    out = bytearray()
    for size in sizes:
        out += size.to_bytes(8, "little") + rng.bytes(4) + rng.bytes(size) + rng.bytes(FOOTER)
    return bytes(out)


def one_by_one(buf: bytes) -> tuple[list[int], list[int], int]:
    at, starts, lengths = 0, [], []
    while at + HEADER <= len(buf):
        size = int.from_bytes(buf[at : at + 8], "little")
        end = at + HEADER + size + FOOTER
        if end > len(buf):
            break
        starts.append(at + HEADER)
        lengths.append(size)
        at = end
    return starts, lengths, at


PATTERNS = {
    "one size": lambda rng, n: [30] * n,
    "two tags in turn": lambda rng, n: [30, 34] * (n // 2),
    "five tags": lambda rng, n: [30, 31, 40, 41, 29] * (n // 5),
    "sizes grow (varint steps)": lambda rng, n: [30] * (n // 3) + [31] * (n // 3) + [32] * (n // 3),
    "random": lambda rng, n: rng.integers(0, 60, n).tolist(),
    "runs broken at random": lambda rng, n: [30 if rng.random() < 0.97 else 45 for _ in range(n)],
    "period nine": lambda rng, n: list(range(20, 29)) * (n // 9),
}


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
@pytest.mark.parametrize("cut", [0, 1, 7, 13, 40])
def test_walk_equals_one_by_one(pattern: str, cut: int) -> None:
    rng = np.random.default_rng(len(pattern) + cut)
    buf = frame(PATTERNS[pattern](rng, 3000), rng)
    buf = buf[: len(buf) - cut] if cut else buf  # a cut-short last record
    starts, lengths, end = _walk(buf)
    want = one_by_one(buf)
    assert starts.tolist() == want[0]
    assert lengths.tolist() == want[1]
    assert end == want[2]
