"""Crash safety with real processes: SIGKILL at random instants, and clean ends that lose nothing.

The loss bound is a correctness bound, not a performance assert. A row logged at time t is
sealed by the sealer's next wake-up, at most `flush_secs` after the previous seal finished,
and is on disk once that seal (Arrow build, Parquet write, fsync, rename, directory fsync)
completes. So the newest stored row is at most flush_secs + (one seal's duration, twice) +
(thread wake-up latency) older than the kill. SLACK covers the last two on a loaded 2-core
machine: a seal of ~10k rows takes ~10-50 ms, an fsync on a busy disk up to a few hundred ms,
and a wake-up can wait a 5 ms GIL switch interval per runnable thread.
"""

from __future__ import annotations

import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from crash_child import value
from crash_kill import Kill, audit_store, child_command, kill_child, read_rows, spawn

import localtrack
from localtrack._store.runs import find_runs, run_status, writer_states

SLACK_SECS = 0.5
KILLS = 32
PARALLEL = 3
MAX_DELAY = 1.6  # s after the first row (or after start, for early kills)
N_CLEAN = 150_000  # more than 2 x max_rows: seals by size and by time both happen


def _plan(rng: random.Random) -> list[tuple[str, float, float, bool]]:
    """(api, flush_secs, delay, early) per kill: both APIs, the default loss window and a short
    one (which makes the writer compact its segments, so kills also land mid-compaction),
    kills after the first row and kills at any instant of start-up."""
    # Stratified delays: every stretch of 0..MAX_DELAY gets its kills, in a random order.
    delays = [(i + rng.random()) * MAX_DELAY / KILLS for i in range(KILLS)]
    rng.shuffle(delays)
    plan = []
    for i, delay in enumerate(delays):
        api = ("tb", "wandb")[i % 2]
        flush_secs = 0.05 if i % 4 == 1 else 0.5
        early = i % 5 == 4
        plan.append((api, flush_secs, delay, early))
    return plan


@pytest.mark.slow
def test_sigkill_at_random_instants_keeps_every_file_readable_and_loses_at_most_the_window(
    tmp_path: Path,
) -> None:
    seed = time.time_ns() % 10**6
    rng = random.Random(seed)
    plan = _plan(rng)

    def one(i: int) -> Kill:
        api, flush_secs, delay, early = plan[i]
        return kill_child(tmp_path / f"child{i:02d}", api, flush_secs, delay, early)

    with ThreadPoolExecutor(PARALLEL) as pool:
        kills = list(pool.map(one, range(KILLS)))

    assert len(kills) >= 30
    for i, k in enumerate(kills):
        where = f"kill {i} (seed {seed}): {k.describe()}"
        assert k.audit.unreadable == [], where
        assert k.audit.stray == [], where
        assert k.rows.problem() is None, f"{k.rows.problem()}; {where}"
        # The mapping is written after each call returns, so one more row may be stored.
        assert k.stored <= k.logged + 1, where
        if k.ready_time is not None:
            window = k.flush_secs + SLACK_SECS
            assert k.lost_window is not None and k.lost_window <= window, where
        if not k.early:
            assert k.has_events and k.status == "crashed", where
        elif k.has_events:
            assert k.status == "crashed", where
    # The plan is random; make sure it exercised what it claims to.
    assert sum(k.stored > 0 for k in kills) >= KILLS // 3
    assert sum(k.audit.files_checked for k in kills) > KILLS


CLEAN_ENDS = [
    # mode, api, exit code, finish status recorded, run status
    ("close", "tb", 0, "finished", "finished"),
    ("close", "wandb", 0, "finished", "finished"),  # run.finish()
    ("atexit", "tb", 0, "finished", "finished"),
    ("atexit", "wandb", 0, "finished", "finished"),
    ("sigterm", "tb", -signal.SIGTERM, "killed", "failed"),
    ("sigterm", "wandb", -signal.SIGTERM, "killed", "failed"),
    ("exception", "tb", 1, "failed", "failed"),
    ("exception", "wandb", 1, "failed", "failed"),
    ("exit3", "tb", 3, "failed", "failed"),  # a non-zero sys.exit() is a failure too
    ("exit3", "wandb", 3, "failed", "failed"),
]


@pytest.fixture(scope="module")
def clean_ends(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[tuple[str, str], tuple[Path, int, str, str]]:
    """Run every clean-end child at once; SIGTERM the `sigterm` ones once they logged N rows."""
    base = tmp_path_factory.mktemp("clean")
    procs = {}
    for mode, api, *_ in CLEAN_ENDS:
        root = base / f"{mode}-{api}"
        root.mkdir()
        procs[(mode, api)] = (root, spawn(child_command(mode, api, root, N_CLEAN), root))
    results = {}
    for (mode, api), (root, proc) in procs.items():
        with proc:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if mode == "sigterm" and line == "logged\n":
                proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=120)
        results[(mode, api)] = (root, proc.returncode, line + out, err)
    return results


@pytest.mark.parametrize(("mode", "api", "code", "finish", "status"), CLEAN_ENDS)
def test_a_clean_end_loses_nothing(
    clean_ends: dict[tuple[str, str], tuple[Path, int, str, str]],
    mode: str,
    api: str,
    code: int,
    finish: str,
    status: str,
) -> None:
    root, returncode, out, err = clean_ends[(mode, api)]
    assert returncode == code, err[-3000:]
    assert out.startswith("logged"), (out, err[-3000:])
    if mode == "exception":
        assert "training blew up (on purpose)" in err
    audit = audit_store(root)
    assert audit.unreadable == [] and audit.stray == []
    (run_dir,) = find_runs(root)
    rows = read_rows(run_dir)
    assert len(rows.steps) == N_CLEAN
    assert rows.problem() is None
    assert rows.values[:3] == [value(0), value(1), value(2)]
    (state,) = writer_states(run_dir)
    assert state.finish_status == finish
    # FORMAT.md: a run is "failed" when every writer finished and one did not finish cleanly.
    assert run_status(run_dir) == status
    if mode == "exit3":  # the code sys.exit() was given is the one recorded
        finishes = localtrack.sql("SELECT exit_code FROM events WHERE kind = 'finish'", root)
        assert finishes.fetchall() == [(3,)]
