"""Kill a logging child with SIGKILL at a chosen instant and audit what it left on disk.

Shared by tests/localtrack/writer/test_crash.py and scripts/crash_test.py. The audit checks
what a user would: every Parquet file reads, the rows of the killed process are steps 0..k
with exact values, no gap and no duplicate, and how much the kill lost (in rows, counted with
the child's progress mapping, and in time, from the newest stored row to the kill instant).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from crash_child import PROGRESS, value

from localtrack._store.layout import MARKER_NAME, parse_segment_name
from localtrack._store.runs import find_runs, run_status
from localtrack._store.schema import STREAMS
from localtrack._store.segments import read_stream

CHILD = Path(__file__).resolve().parent / "crash_child.py"


def child_command(
    mode: str, api: str, root: Path, n: int = 0, flush_secs: float = 0.5
) -> list[str]:
    return [sys.executable, str(CHILD), mode, api, str(root), str(n), repr(flush_secs)]


def spawn(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("RANK", None)
    return subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@dataclass
class StoreAudit:
    """Every file of a runs root: Parquet files read back, nothing half-written in sight."""

    files_checked: int = 0
    unreadable: list[str] = field(default_factory=list)
    stray: list[str] = field(default_factory=list)


def audit_store(root: Path) -> StoreAudit:
    """Read every *.parquet under root with pyarrow; flag visible files that are not segments."""
    audit = StoreAudit()
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            audit.files_checked += 1
            try:
                pq.read_table(path)
            except Exception as exc:
                audit.unreadable.append(f"{path}: {exc!r}")
        in_stream = path.parent.name in STREAMS and (path.parent.parent / MARKER_NAME).exists()
        if in_stream and not path.name.startswith(".") and parse_segment_name(path.name) is None:
            audit.stray.append(str(path))
        if path.name.startswith(".") and path.name.endswith(".parquet"):
            audit.stray.append(f"{path} (a temporary file must not end in .parquet)")
    return audit


@dataclass
class Rows:
    """The `loss` rows of one run, as read_stream returns them (covered segments dropped)."""

    steps: list[int]
    values: list[float]
    times: list[float]

    def problem(self) -> str | None:
        """None when steps are exactly 0..k with the exact values logged; else what is wrong."""
        if sorted(self.steps) != list(range(len(self.steps))):
            dup = len(self.steps) - len(set(self.steps))
            missing = sorted(set(range(max(self.steps, default=-1) + 1)) - set(self.steps))
            return f"{dup} duplicate step(s), missing steps {missing[:10]}"
        wrong = [(s, v) for s, v in zip(self.steps, self.values, strict=True) if v != value(s)]
        if wrong:
            return f"{len(wrong)} wrong value(s), e.g. {wrong[:3]}"
        return None


def read_rows(run_dir: Path) -> Rows:
    table = read_stream(run_dir, "scalars")
    if table is None:
        return Rows([], [], [])
    table = table.filter(pc.equal(table.column("tag"), "loss"))
    micros = table.column("wall_time").cast(pa.int64()).to_pylist()
    return Rows(
        table.column("step").to_pylist(),
        table.column("value").to_pylist(),
        [us / 1e6 for us in micros],
    )


@dataclass
class Kill:
    """One SIGKILL of a logging child and what the store held afterwards."""

    api: str
    flush_secs: float
    early: bool
    seed_delay: float
    t_kill: float = 0.0
    ready_time: float | None = None
    logged: int = 0
    last_logged_time: float | None = None  # wall time of the child's last logging call
    rows: Rows = field(default_factory=lambda: Rows([], [], []))
    audit: StoreAudit = field(default_factory=StoreAudit)
    status: str | None = None
    has_events: bool = False
    stderr: str = ""

    @property
    def stored(self) -> int:
        return len(self.rows.steps)

    @property
    def rows_lost(self) -> int:
        return max(self.logged - self.stored, 0)

    @property
    def lost_window(self) -> float | None:
        """Seconds from the first row not stored (bounded by the newest stored) to the kill."""
        if self.stored:
            return self.t_kill - max(self.rows.times)
        if self.ready_time is not None:
            return self.t_kill - self.ready_time
        return None

    @property
    def lost_span(self) -> float | None:
        """Seconds of logged rows lost: from the newest stored row (or the first row) to the
        last row logged. Unlike lost_window it leaves out the time a starved child logged
        nothing before the kill: no rows were lost in it."""
        if self.last_logged_time is None:
            return None
        if self.stored and self.stored >= self.logged:
            return 0.0
        start = max(self.rows.times) if self.stored else self.ready_time
        return None if start is None else max(0.0, self.last_logged_time - start)

    def describe(self) -> str:
        return (
            f"api={self.api} flush_secs={self.flush_secs} early={self.early} "
            f"delay={self.seed_delay:.3f}s logged={self.logged} stored={self.stored} "
            f"lost_window={self.lost_window} lost_span={self.lost_span} status={self.status} stderr={self.stderr[-2000:]!r}"
        )


def _run_dir(root: Path) -> Path | None:
    runs = find_runs(root)
    return runs[0] if runs else None


def kill_child(root: Path, api: str, flush_secs: float, delay: float, early: bool) -> Kill:
    """Start a logging child in `root`, SIGKILL it `delay` s after it is ready (or after
    its start when `early`), then audit the store."""
    root.mkdir(parents=True, exist_ok=True)
    result = Kill(api, flush_secs, early, delay)
    with spawn(child_command("loop", api, root, flush_secs=flush_secs), root) as proc:
        assert proc.stdout is not None
        if not early:
            line = proc.stdout.readline()
            if not line.startswith("ready "):
                proc.kill()
                _, err = proc.communicate()
                raise RuntimeError(f"child did not start: {line!r} {err[-3000:]}")
            result.ready_time = float(line.split()[1])
        time.sleep(delay)
        result.t_kill = time.time()
        os.kill(proc.pid, signal.SIGKILL)
        out, result.stderr = proc.communicate()
        assert proc.returncode == -signal.SIGKILL, (proc.returncode, result.stderr[-2000:])
    if early and out.startswith("ready "):
        result.ready_time = float(out.split()[1])
    result.logged, result.last_logged_time = _logged(root)
    result.audit = audit_store(root)
    run_dir = _run_dir(root)
    if run_dir is not None:
        result.rows = read_rows(run_dir)
        result.has_events = read_stream(run_dir, "events") is not None
        result.status = run_status(run_dir) if result.has_events else None
    return result


def _logged(root: Path) -> tuple[int, float | None]:
    """How many rows the child had logged when it died (0 if it never got to log), and the
    wall time of the last one."""
    try:
        data = (root / "progress").read_bytes()
    except FileNotFoundError:
        return 0, None
    if len(data) < PROGRESS.size:
        return 0, None
    step, when = PROGRESS.unpack_from(data)
    return (step + 1, when) if when else (0, None)
