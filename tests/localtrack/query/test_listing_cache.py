"""The listing cache (docs/FORMAT.md "Listing cache"): what other processes do to the store is
seen at the next connect(), rows count once, a damaged cache is rebuilt, and a read-only store
still queries with nothing written into it.

Runs are written by the real SummaryWriter in other processes. Folders a test just wrote are
too recent to be trusted (listing_cache.RACY_SECS), and a run whose lease is under 30 s old may
have a live writer, so both would be listed afresh anyway; to exercise the cached path, the
tests shrink RACY_SECS (in every process) and age the leases and markers, as time would.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from segment_store import make_run

from localtrack import SummaryWriter
from localtrack._query import connect
from localtrack._query.files import SkippedFileWarning

listing_cache = importlib.import_module("localtrack._query.listing_cache")
files_mod = importlib.import_module("localtrack._query.files")

RACY = 0.05
"""RACY_SECS in these tests (folder timestamps here tick every few milliseconds)."""

PRELUDE = f"""
import sys, time
import localtrack._query.listing_cache as lc
lc.RACY_SECS = {RACY}
"""

WRITE = PRELUDE + textwrap.dedent(
    """
    from localtrack import SummaryWriter
    log_dir, lo, hi, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    w = SummaryWriter(log_dir, flush_secs=3600)
    for s in range(lo, hi):
        w.add_scalar("loss", float(s), s)
        if (s - lo + 1) % chunk == 0:
            w.flush()  # one segment per chunk
    w.close()
    """
)

COMPACT = PRELUDE + "from localtrack._query.compact import compact\ncompact(sys.argv[1], grace=0)\n"

COUNT = PRELUDE + textwrap.dedent(
    """
    import json
    from localtrack._query import connect
    con = connect(sys.argv[1])
    print(json.dumps(con.sql(
        "SELECT count(*), count(DISTINCT (run_id, step)), coalesce(sum(value), 0) FROM scalars"
    ).fetchall()[0]))
    """
)


@pytest.fixture(autouse=True)
def small_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listing_cache, "RACY_SECS", RACY)


def python(script: str, *args: object, **kw: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kw,  # type: ignore[arg-type]
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def write(run_dir: Path, lo: int, hi: int, chunk: int = 1000) -> None:
    """Log steps lo..hi-1 (value = step) into `run_dir` from another process, and age it."""
    python(WRITE, run_dir, lo, hi, chunk)
    age(run_dir)


def age(run_dir: Path) -> None:
    """Date the run's leases and marker an hour back, as an hour's wait would."""
    old = time.time() - 3600
    for p in [*run_dir.glob("writers/*.lease"), run_dir / "localtrack-run.json"]:
        os.utime(p, (old, old))
    time.sleep(2 * RACY)  # past the racy window of every folder just written


def totals(root: Path) -> dict[str, tuple[int, float]]:
    """Per run name: rows of `scalars` and the sum of their values, through connect()."""
    con = connect(root)
    rows = con.sql(
        "SELECT r.name, count(*), sum(s.value), count(DISTINCT s.step) "
        "FROM scalars AS s JOIN runs AS r USING (run_id) GROUP BY r.name"
    ).fetchall()
    for _, n, _, distinct in rows:
        assert n == distinct  # every row once
    return {name: (n, total) for name, n, total, _ in rows}


def expected(*ranges: tuple[int, int]) -> tuple[int, float]:
    steps = [s for lo, hi in ranges for s in range(lo, hi)]
    return len(steps), float(sum(steps))


def cache_of(root: Path) -> Path:
    return Path(listing_cache.cache_file(root))


def test_runs_added_changed_compacted_and_deleted_by_other_processes_are_seen(tmp_path):
    root = tmp_path / "runs"
    write(root / "a", 0, 30, chunk=10)
    assert totals(root) == {"a": expected((0, 30))}
    assert cache_of(root).is_file()

    write(root / "b", 0, 7)  # added
    assert totals(root) == {"a": expected((0, 30)), "b": expected((0, 7))}

    write(root / "a", 30, 45, chunk=5)  # changed: a second writer's new segments
    assert totals(root) == {"a": expected((0, 45)), "b": expected((0, 7))}

    before = sorted(p.name for p in (root / "a" / "scalars").iterdir())
    python(COMPACT, root)  # compacted: fewer, larger files, the same rows
    time.sleep(2 * RACY)
    after = sorted(p.name for p in (root / "a" / "scalars").iterdir())
    assert len(after) < len(before)
    assert totals(root) == {"a": expected((0, 45)), "b": expected((0, 7))}

    python("import shutil, sys; shutil.rmtree(sys.argv[1])", root / "b")  # deleted
    assert totals(root) == {"a": expected((0, 45))}
    assert connect(root).sql("SELECT count(*) FROM runs").fetchall() == [(1,)]


def test_unchanged_runs_are_served_from_the_cache(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    for name in ("a", "b", "c"):
        write(root / name, 0, 5)
    assert totals(root) == {n: expected((0, 5)) for n in "abc"}
    listed: list[Path] = []
    real = listing_cache.list_stream

    def spy(stream_dir, skipped, pin):
        listed.append(stream_dir)
        return real(stream_dir, skipped, pin)

    monkeypatch.setattr(listing_cache, "list_stream", spy)
    assert totals(root) == {n: expected((0, 5)) for n in "abc"}
    assert listed == []  # nothing changed: no stream folder was read
    write(root / "b", 5, 9)
    assert totals(root) == {"a": expected((0, 5)), "b": expected((0, 9)), "c": expected((0, 5))}
    assert {p.parent.name for p in listed} == {"b"}  # only the run that changed


def test_the_run_list_follows_the_cache(tmp_path):
    root = tmp_path / "runs"
    write(root / "a", 0, 5)
    query = "SELECT name, status FROM runs ORDER BY name"
    assert connect(root).sql(query).fetchall() == [("a", "finished")]
    write(root / "b", 0, 5)
    assert connect(root).sql(query).fetchall() == [("a", "finished"), ("b", "finished")]
    resumed = SummaryWriter(str(root / "a"), flush_secs=3600)  # a writer joins run a
    resumed.add_scalar("loss", 1.0, 99)
    resumed.flush()
    assert connect(root).sql(query).fetchall() == [("a", "running"), ("b", "finished")]
    resumed.close()
    assert connect(root).sql(query).fetchall() == [("a", "finished"), ("b", "finished")]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "other version"])
def test_a_damaged_cache_file_is_rebuilt(tmp_path, damage):
    root = tmp_path / "runs"
    write(root / "a", 0, 12, chunk=4)
    write(root / "b", 0, 3)
    assert totals(root) == {"a": expected((0, 12)), "b": expected((0, 3))}
    cache = cache_of(root)
    body = cache.read_bytes()
    if damage == "garbage":
        cache.write_bytes(os.urandom(len(body)))
    elif damage == "truncated":
        cache.write_bytes(body[: len(body) // 2])
    elif damage == "empty":
        cache.write_bytes(b"")
    else:
        kept = json.loads(body)
        kept["version"] = 99
        kept["dirs"] = {}  # a file a future localtrack wrote: not read at all
        cache.write_text(json.dumps(kept))
    assert totals(root) == {"a": expected((0, 12)), "b": expected((0, 3))}
    rebuilt = json.loads(cache.read_bytes())
    assert rebuilt["version"] == listing_cache.VERSION
    assert any(node.get("run") for node in rebuilt["dirs"].values())


def test_a_cache_entry_of_wrong_shape_is_listed_afresh(tmp_path):
    root = tmp_path / "runs"
    write(root / "a", 0, 6)
    assert totals(root) == {"a": expected((0, 6))}
    cache = cache_of(root)
    kept = json.loads(cache.read_bytes())
    for node in kept["dirs"].values():
        if node.get("run"):
            node["run"]["streams"] = {"scalars": {"f": "not a list"}}
    cache.write_text(json.dumps(kept))
    assert totals(root) == {"a": expected((0, 6))}


def files_of(root: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(root)): (p.stat().st_mode, p.read_bytes() if p.is_file() else b"")
        for p in root.rglob("*")
    }


@pytest.fixture
def shared_store() -> Iterator[Path]:
    """A store under a folder anyone may read but only its owner write."""
    top = Path(tempfile.mkdtemp(prefix="localtrack-lc-ro-"))
    try:
        write(top / "runs" / "a", 0, 20, chunk=5)
        write(top / "runs" / "b", 0, 4)
        for p in [top, *top.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        yield top / "runs"
    finally:
        shutil.rmtree(top)


def test_a_read_only_store_still_queries_and_nothing_is_written_into_it(shared_store):
    setpriv = shutil.which("setpriv")
    cache = Path(tempfile.mkdtemp(prefix="localtrack-lc-cache-"))
    cache.chmod(0o777)
    before = files_of(shared_store)
    try:
        if os.geteuid() == 0:
            if setpriv is None:
                pytest.skip("running as root without setpriv: cannot read as another user")
            user = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
        else:
            for p in [shared_store, *shared_store.rglob("*")]:
                p.chmod(0o555 if p.is_dir() else 0o444)
            user = []
        env = {**os.environ, "HOME": str(cache), "LOCALTRACK_CACHE_DIR": str(cache / "lt")}
        for _ in range(2):  # the first lists from scratch, the second through the cache
            done = subprocess.run(
                [*user, sys.executable, "-c", COUNT, str(shared_store)],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
                check=False,
            )
            if done.returncode != 0 and "Permission denied" in done.stderr and user:
                pytest.skip(f"the other user cannot run this venv's python: {done.stderr[-300:]}")
            assert done.returncode == 0, done.stderr[-2000:]
            assert json.loads(done.stdout) == [24, 24, float(sum(range(20)) + sum(range(4)))]
        assert list((cache / "lt" / "listings").iterdir())  # the cache went to the user's folder
    finally:
        for p in [shared_store, *shared_store.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        shutil.rmtree(cache)
    assert files_of(shared_store) == before


WRITE_SLOWLY = PRELUDE + textwrap.dedent(
    """
    from localtrack import SummaryWriter
    w = SummaryWriter(sys.argv[1], flush_secs=3600)
    for s in range(int(sys.argv[2])):
        w.add_scalar("loss", float(s), s)
        if s % 3 == 2:
            w.flush()
            time.sleep(0.01)
    w.close()
    """
)

READ_WHILE_WRITTEN = PRELUDE + textwrap.dedent(
    """
    import json
    from localtrack._query import connect
    from pathlib import Path
    root, stop = sys.argv[1], Path(sys.argv[2])
    checks = 0
    while not stop.exists() or checks == 0:
        n, distinct, old = connect(root).sql(
            "SELECT count(*), count(DISTINCT (s.run_id, s.step)), "
            "count(*) FILTER (WHERE r.name = 'old') "
            "FROM scalars AS s JOIN runs AS r USING (run_id)"
        ).fetchall()[0]
        assert n == distinct, (n, distinct)  # never a row twice
        assert old == 10, old  # the cached run, whole every time
        checks += 1
    print(json.dumps({"checks": checks}))
    """
)


def test_two_processes_connecting_while_a_writer_writes_get_exact_answers(tmp_path):
    root = tmp_path / "runs"
    write(root / "old", 0, 10)  # a cached run beside the one being written
    total = 300
    stop = tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITE_SLOWLY, str(root / "live"), str(total)])
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READ_WHILE_WRITTEN, str(root), str(stop)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        assert writer.wait(timeout=300) == 0
    finally:
        stop.touch()
        outs = [r.communicate(timeout=120) for r in readers]
    for r, (out, err) in zip(readers, outs, strict=True):
        assert r.returncode == 0, err[-2000:]
        assert json.loads(out)["checks"] > 0
    # then both processes see every row once, through the cache they shared
    for _ in range(2):
        done = python(COUNT, root)
        assert json.loads(done.stdout) == [310, 310, float(sum(range(total)) + sum(range(10)))]


FROM_EVENTS_SQL = """
    WITH writer_states AS (
        SELECT run_id, writer,
            bool_or(kind = 'start') AS started,
            bool_or(kind = 'finish') AS finished,
            arg_max(coalesce(status, 'finished'), wall_time) FILTER (WHERE kind = 'finish')
                AS finish_status,
            min(wall_time) FILTER (WHERE kind = 'start') AS started_at,
            max(wall_time) FILTER (WHERE kind = 'finish') AS ended_at,
            arg_min(payload, wall_time) FILTER (WHERE kind = 'start') AS start_payload,
            min(rank) AS rank
        FROM events GROUP BY run_id, writer
    )
    SELECT run_id, min(started_at),
        CASE WHEN bool_and(finished) THEN max(ended_at) END,
        CASE WHEN NOT bool_and(finished) THEN 'crashed'
             WHEN bool_or(finish_status <> 'finished') THEN 'failed' ELSE 'finished' END,
        arg_min(start_payload, (coalesce(rank, 0), started_at))::JSON,
        count(*)
    FROM writer_states GROUP BY run_id ORDER BY run_id
"""
"""The runs view's facts computed from every `events` row, as the view did before it merged
per-file facts (writer_states.py)."""


def test_the_runs_view_merges_per_file_facts_exactly_as_a_scan_of_every_event(tmp_path):
    root = tmp_path / "runs"
    write(root / "a", 0, 6, chunk=2)
    write(root / "a", 6, 9)  # a second writer
    write(root / "b", 0, 3)
    python(COMPACT, root)  # merged events files: facts of the merged file
    write(root / "c", 0, 2)
    with SummaryWriter(str(root / "d")) as live:  # an open writer: not finished
        live.add_scalar("loss", 1.0, 0)
        live.flush()
        con = connect(root)
        view = con.sql(
            "SELECT run_id, started_at, ended_at, status, metadata, writers FROM runs "
            "ORDER BY run_id"
        ).fetchall()
        scanned = con.sql(FROM_EVENTS_SQL).fetchall()
    assert sorted(r[3] for r in view) == ["finished", "finished", "finished", "running"]
    # the view's status also weighs leases (a live writer is running, not crashed)
    assert [r[:3] + r[4:] for r in view] == [r[:3] + r[4:] for r in scanned]
    assert sorted(r[5] for r in view) == [1, 1, 1, 2]


def test_each_run_id_comes_back_as_logged_and_one_run_is_read_alone(tmp_path):
    root = tmp_path / "runs"
    for i in range(4):
        make_run(root / "p" / f"r{i}", f"run{i}", points=5 + i)
    time.sleep(2 * RACY)
    for _ in range(2):  # from scratch, then through the cache
        con = connect(root)
        assert con.sql(
            "SELECT run_id, count(*), sum(step) FROM scalars GROUP BY run_id ORDER BY run_id"
        ).fetchall() == [(f"run{i}", 5 + i, sum(range(5 + i))) for i in range(4)]
        assert con.sql("SELECT count(*) FROM scalars WHERE run_id = 'run2'").fetchall() == [(7,)]
        assert con.sql("SELECT count(*) FROM events WHERE run_id = 'run3'").fetchall() == [(2,)]
    plan = con.sql("EXPLAIN ANALYZE SELECT max(step) FROM scalars WHERE run_id = 'run2'")
    # run2's 7 files are opened, the other runs' 19 stay closed
    assert "Scanning Files: 7/26" in plan.fetchall()[0][1]


def test_folders_with_equals_signs_and_odd_run_ids_are_read_by_their_own_path(tmp_path):
    root = tmp_path / "tag=x" / "run_id=y" / "runs"  # hive folders of the store's own
    make_run(root / "a", "plain1", points=3)
    make_run(root / "b", "has space", points=4)
    time.sleep(2 * RACY)
    for _ in range(2):
        con = connect(root)
        rows = con.sql(
            "SELECT run_id, tag, count(*) FROM scalars GROUP BY ALL ORDER BY run_id"
        ).fetchall()
        assert rows == [("has space", "loss", 4), ("plain1", "loss", 3)]


def test_a_folder_changed_within_the_racy_window_is_listed_again(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    make_run(root / "a", "racy1", points=3)
    monkeypatch.setattr(listing_cache, "RACY_SECS", 3600.0)  # every folder is "just changed"
    assert connect(root).sql("SELECT count(*) FROM scalars").fetchall() == [(3,)]
    listed: list[Path] = []
    real = listing_cache.list_stream

    def spy(stream_dir, skipped, pin):
        listed.append(stream_dir)
        return real(stream_dir, skipped, pin)

    monkeypatch.setattr(listing_cache, "list_stream", spy)
    assert connect(root).sql("SELECT count(*) FROM scalars").fetchall() == [(3,)]
    assert {p.name for p in listed} == {"scalars", "events"}  # not trusted: read again


def test_a_damaged_segment_of_a_cached_run_is_skipped_at_every_connect(tmp_path):
    root = tmp_path / "runs"
    run = make_run(root / "a", "dmg1", points=4)
    bad = run / "scalars" / "aaaaaaaa-0000000002-0000000002.parquet"
    bad.write_bytes(bad.read_bytes()[:-8])  # as a power loss could leave it
    time.sleep(2 * RACY)
    for _ in range(3):
        with pytest.warns(SkippedFileWarning, match="0000000002"):
            con = connect(root)
        assert con.sql("SELECT count(*), sum(step) FROM scalars").fetchall() == [(3, 0 + 1 + 3)]
    assert bad.stat().st_size > 0  # reported and left in place


def test_a_store_with_a_live_writer_is_not_rewritten_at_every_connect(tmp_path):
    root = tmp_path / "runs"
    write(root / "old", 0, 5)
    with SummaryWriter(str(root / "live"), flush_secs=3600) as live:
        live.add_scalar("loss", 0.0, 0)
        live.flush()
        assert totals(root)["live"] == (1, 0.0)
        time.sleep(2 * RACY)
        assert totals(root)["live"] == (1, 0.0)  # the live run's folders are now old enough
        kept = cache_of(root).stat()
        for step in range(1, 4):
            live.add_scalar("loss", float(step), step)
            live.flush()
            time.sleep(2 * RACY)
            assert totals(root) == {"old": expected((0, 5)), "live": expected((0, step + 1))}
        now = cache_of(root).stat()
        assert (now.st_ino, now.st_mtime_ns) == (kept.st_ino, kept.st_mtime_ns)


def test_events_files_left_for_the_runs_view_give_the_same_runs(tmp_path, monkeypatch):
    writer_states = importlib.import_module("localtrack._query.writer_states")
    root = tmp_path / "runs"
    for i in range(5):
        make_run(root / "p" / f"r{i}", f"lazy{i}", points=2, finished=None if i == 3 else "failed")
    query = "SELECT run_id, status, started_at, ended_at, metadata, writers FROM runs ORDER BY 1"
    monkeypatch.setattr(writer_states, "EAGER_FILES", 0)
    lazily = connect(root).sql(query).fetchall()  # every events file read by the view
    monkeypatch.setattr(writer_states, "EAGER_FILES", 3)
    partly = connect(root).sql(query).fetchall()  # three kept, the rest read by the view
    monkeypatch.setattr(writer_states, "EAGER_FILES", 10_000)
    kept = connect(root).sql(query).fetchall()
    assert lazily == partly == kept
    assert [r[1] for r in kept] == ["failed", "failed", "failed", "crashed", "failed"]
