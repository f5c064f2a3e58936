"""A training process writes while queries run: every sealed row shows up, once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from localtrack._query import connect, sql

POINTS = 60

CHILD = textwrap.dedent(
    """
    import sys, time
    from localtrack._writer.summary_writer import SummaryWriter
    writer = SummaryWriter(sys.argv[1], flush_secs=0.1)
    for step in range({points}):
        writer.add_scalar("live/value", step * 2.0, step)
        print(step, flush=True)
        time.sleep(0.03)
    sys.stdin.readline()  # wait for the test to have seen the run running
    writer.close()
    """
)


def start_child(log_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD.format(points=POINTS), str(log_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_rows_of_a_running_writer_show_up_exactly_once(tmp_path: Path) -> None:
    with start_child(tmp_path / "proj" / "live") as child:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "0"
        wait_for(
            lambda: connect(tmp_path).execute("SELECT count(*) FROM scalars").fetchone()[0] > 0
        )
        held = connect(tmp_path)
        held_answer = held.execute("SELECT count(*), sum(step) FROM scalars").fetchone()
        snapshots: list[tuple[int, int, int]] = []

        def saw_every_step() -> bool:
            rows = sql(
                "SELECT count(*), count(DISTINCT step), coalesce(max(step), -1) FROM scalars",
                tmp_path,
            ).fetchall()
            snapshots.append(rows[0])
            return rows[0][2] == POINTS - 1

        wait_for(saw_every_step)
        # Every snapshot is a prefix of what was logged: no row twice, no gap.
        assert all(n == distinct == top + 1 for n, distinct, top in snapshots)
        assert len({s[0] for s in snapshots}) >= 2  # rows arrived while we watched
        con = connect(tmp_path)
        assert con.execute("SELECT status FROM runs").fetchall() == [("running",)]
        # The writer compacted its segments meanwhile; the held snapshot still answers the same.
        assert held.execute("SELECT count(*), sum(step) FROM scalars").fetchone() == held_answer
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.wait(timeout=60) == 0
    con = connect(tmp_path)
    assert con.execute("SELECT status, ended_at IS NOT NULL FROM runs").fetchall() == [
        ("finished", True)
    ]
    assert con.execute("SELECT count(*), sum(value) FROM scalars").fetchone() == (
        POINTS,
        2.0 * sum(range(POINTS)),
    )


def test_tail_follows_a_live_run_until_it_finishes(tmp_path: Path) -> None:
    log_dir = tmp_path / "proj" / "tailed"
    with start_child(log_dir) as child:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "0"
        wait_for(lambda: (log_dir / "scalars").is_dir())
        tail = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "localtrack._cli.main",
                "--root",
                str(tmp_path),
                "tail",
                "tailed",
                "-n",
                "1000",
                "--interval",
                "0.1",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for line in child.stdout:
            if line.strip() == str(POINTS - 1):
                break
        time.sleep(0.5)
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.wait(timeout=60) == 0
        with tail:
            out, err = tail.communicate(timeout=60)
    assert tail.returncode == 0, err
    steps = [int(line.split()[2]) for line in out.splitlines()]
    assert steps == list(range(POINTS))
