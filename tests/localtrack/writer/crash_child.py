"""A training process for crash tests: logs scalars, then dies the way the parent asks.

Run as `python crash_child.py MODE API ROOT [N] [FLUSH_SECS]`:
- MODE `loop`: log forever (step k has value `value(k)`); the parent kills it. Before the first
  row it opens ROOT/progress, a 16-byte shared mapping where it stores (last step logged, its
  wall time) after every call, so the parent can count what a SIGKILL lost.
- MODE `close` | `atexit` | `sigterm` | `exception` | `exit3`: log N rows, then
  close()/finish(), return normally, wait for SIGTERM, raise, or call sys.exit(3).
API is `tb` (localtrack.SummaryWriter on ROOT/tb) or `wandb` (localtrack.init(dir=ROOT)), or,
for scripts/crash_test.py, `torch` / `tensorboardX` (their SummaryWriter on ROOT/tb).
It prints `ready <wall time of row 0>` once row 0 is logged, and `logged` after N rows.
"""

from __future__ import annotations

import math
import mmap
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

PROGRESS = struct.Struct("<qd")


def value(step: int) -> float:
    """The value logged at `step`: exact in float64, distinct for every step."""
    return step + math.sin(step) / 7.0


def open_logger(api: str, root: Path, flush_secs: float) -> tuple[Callable[[int], None], object]:
    if api in ("torch", "tensorboardX"):  # peers for scripts/crash_test.py, their defaults
        if api == "torch":
            from torch.utils.tensorboard import SummaryWriter
        else:
            from tensorboardX import SummaryWriter
        peer = SummaryWriter(str(root / "tb"))
        return (lambda step: peer.add_scalar("loss", value(step), step)), peer
    import localtrack

    if api == "tb":
        writer = localtrack.SummaryWriter(str(root / "tb"), flush_secs=flush_secs)
        return (lambda step: writer.add_scalar("loss", value(step), step)), writer
    run = localtrack.init(project="crash", dir=str(root), flush_secs=flush_secs)
    return (lambda step: run.log({"loss": value(step)})), run


def log_forever(log: Callable[[int], None], root: Path) -> None:
    path = root / "progress"
    path.write_bytes(bytes(PROGRESS.size))
    with open(path, "r+b") as f:
        progress = mmap.mmap(f.fileno(), PROGRESS.size)
    step = 0
    while True:
        now = time.time()
        log(step)
        PROGRESS.pack_into(progress, 0, step, now)
        if step == 0:
            print(f"ready {now!r}", flush=True)
        step += 1
        if step % 16 == 0:
            time.sleep(0.0005)


def main(argv: list[str]) -> None:
    mode, api, root = argv[0], argv[1], Path(argv[2])
    n = int(argv[3]) if len(argv) > 3 else 0
    flush_secs = float(argv[4]) if len(argv) > 4 else 0.5
    log, handle = open_logger(api, root, flush_secs)
    if mode == "loop":
        log_forever(log, root)
    for step in range(n):
        log(step)
    print("logged", flush=True)
    if mode == "close" and api == "wandb":
        handle.finish()  # type: ignore[attr-defined]
    elif mode == "close":
        handle.close()  # type: ignore[attr-defined]
    elif mode == "sigterm":
        while True:
            time.sleep(1)
    elif mode == "exception":
        raise RuntimeError("training blew up (on purpose)")
    elif mode == "exit3":
        sys.exit(3)
    elif mode != "atexit":
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
