"""Query speed: localtrack vs TensorBoard's readers (tbparse, EventAccumulator) and MLflow.

Builds, under a temporary folder, the same scalar points as a localtrack store, as TensorBoard
event files and as an MLflow store, then times each reader in one run and prints medians and
ratios. Run it through `scripts/bench_query` (installs the `bench` extra first).

    python scripts/bench_query.py --points 200000 --runs 1000 --run-points 1000
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from localtrack._query import connect, sql
from localtrack._store.layout import SegmentName
from localtrack._store.marker import create_or_join, make_marker
from localtrack._store.schema import STREAMS
from localtrack._store.segments import publish

TAG = "Loss/train"
T0 = 1_764_000_000.0


def scalar_table(run_id: str, steps: np.ndarray, values: np.ndarray) -> pa.Table:
    n = len(steps)
    wall = ((T0 + steps * 0.01) * 1e6).astype("int64").astype("datetime64[us]")
    return pa.table(
        {
            "run_id": pa.array([run_id] * n),
            "tag": pa.array([TAG] * n),
            "step": steps.astype(np.int64),
            "wall_time": pa.array(wall),
            "value": values,
            "writer": pa.array(["0123abcd"] * n),
            "seq": np.zeros(n, np.int64),
            "rank": np.zeros(n, np.int32),
            "host": pa.array(["bench"] * n),
            "pid": np.ones(n, np.int64),
        },
        schema=STREAMS["scalars"],
    )


def event_table(run_id: str) -> pa.Table:
    rows = {
        "run_id": [run_id, run_id],
        "kind": ["start", "finish"],
        "wall_time": pa.array([int(T0 * 1e6), int((T0 + 60) * 1e6)], pa.timestamp("us")),
        "status": [None, "finished"],
        "exit_code": [None, 0],
        "payload": ['{"host": "bench"}', None],
        "writer": ["0123abcd"] * 2,
        "seq": [0, 1],
        "rank": [0, 0],
        "host": ["bench"] * 2,
        "pid": [1, 1],
    }
    return pa.table(rows, schema=STREAMS["events"])


def write_localtrack_run(run_dir: Path, run_id: str, steps: np.ndarray, values: np.ndarray) -> None:
    create_or_join(run_dir, make_marker(run_id, "bench", run_dir.name, "tensorboard"))
    publish(run_dir, "scalars", SegmentName("0123abcd", 0, 0), scalar_table(run_id, steps, values))
    events = event_table(run_id)
    publish(run_dir, "events", SegmentName("0123abcd", 0, 1), events)


def write_tfevents(log_dir: Path, steps: np.ndarray, values: np.ndarray) -> None:
    from tensorboardX import SummaryWriter

    writer = SummaryWriter(str(log_dir), max_queue=10_000, flush_secs=3600)
    for s, v in zip(steps.tolist(), values.tolist(), strict=True):
        writer.add_scalar(TAG, v, s, walltime=T0 + s * 0.01)
    writer.close()


def write_mlflow(uri: str, steps: np.ndarray, values: np.ndarray) -> tuple[object, str]:
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("bench")
    run = client.create_run(exp)
    rid = run.info.run_id
    batch = 1000
    for lo in range(0, len(steps), batch):
        metrics = [
            Metric(TAG, float(v), int((T0 + s * 0.01) * 1000), int(s))
            for s, v in zip(
                steps[lo : lo + batch].tolist(), values[lo : lo + batch].tolist(), strict=True
            )
        ]
        client.log_batch(rid, metrics=metrics)
    return client, rid


def median_time(
    work: Callable[[], object], repeat: int, before: Callable[[], object] | None = None
) -> tuple[float, int]:
    """The median seconds of `repeat` calls of `work` (each after an untimed `before`), and
    what the last call returned."""
    times, result = [], None
    for _ in range(repeat):
        if before is not None:
            before()
        t = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - t)
    return statistics.median(times), int(result)  # type: ignore[call-overload]


def median_times(
    work: Callable[[], object], repeat: int, before: Callable[[], object] | None = None
) -> tuple[float, int, float]:
    """median_time, plus the median CPU seconds of this process (DuckDB's threads included):
    on a busy machine wall time waits for the cores, CPU time much less."""
    cpu: list[float] = []

    def timed() -> object:
        t = time.process_time()
        try:
            return work()
        finally:
            cpu.append(time.process_time() - t)

    t, n = median_time(timed, repeat, before)
    return t, n, statistics.median(cpu)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def history_benchmarks(
    tmp: Path, points: int, repeat: int, mlflow_points: int
) -> list[tuple[str, float, int]]:
    rng = np.random.default_rng(0)
    steps = np.arange(points)
    values = rng.random(points)
    results: list[tuple[str, float, int]] = []
    store = tmp / "lt"
    write_localtrack_run(store / "bench" / "one", "onerun01", steps, values)
    # Rows come back in logged order (DuckDB preserves file order without ORDER BY).
    query = f"SELECT step, value FROM scalars WHERE tag = '{TAG}'"
    held = connect(store)

    def localtrack_df() -> int:
        return len(sql(query, store).df())

    def localtrack_arrow_oneline() -> int:
        return len(sql(query, store).arrow())

    def localtrack_arrow() -> int:
        return connect(store).sql(query).arrow().read_all().num_rows

    def held_arrow() -> int:
        return held.sql(query).arrow().read_all().num_rows

    def held_pandas() -> int:
        return len(held.sql(query).arrow().read_all().to_pandas())

    for name, fn in (
        ("localtrack sql(q).df(), connect included", localtrack_df),
        ("localtrack sql(q).arrow(), connect included", localtrack_arrow_oneline),
        ("localtrack connect().sql(q).arrow(), connect included", localtrack_arrow),
        ("localtrack con.sql(q).arrow() on a connection", held_arrow),
        ("localtrack con.sql(q).arrow().to_pandas() on a connection", held_pandas),
    ):
        t, n = median_time(fn, repeat)
        results.append((name, t, n))

    say(f"writing {points} points as TensorBoard event files…")
    tb = tmp / "tb" / "one"
    write_tfevents(tb, steps, values)
    try:
        from tbparse import SummaryReader

        t, n = median_time(lambda: len(SummaryReader(str(tb)).scalars), max(1, repeat // 2))
        results.append(("tbparse SummaryReader.scalars", t, n))
    except ImportError:
        say("tbparse not installed; skipped")
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        def accumulate() -> int:
            acc = EventAccumulator(str(tb), size_guidance={"scalars": 0})
            acc.Reload()
            return len(acc.Scalars(TAG))

        t, n = median_time(accumulate, max(1, repeat // 2))
        results.append(("tensorboard EventAccumulator", t, n))
    except ImportError:
        say("tensorboard not installed; skipped")

    say(f"writing {mlflow_points} points to an MLflow sqlite store…")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    with contextlib.redirect_stderr(io.StringIO()):
        client, rid = write_mlflow(uri, steps[:mlflow_points], values[:mlflow_points])
    t, n = median_time(lambda: len(client.get_metric_history(rid, TAG)), max(1, repeat // 2))  # type: ignore[attr-defined]
    results.append((f"mlflow get_metric_history (sqlite, {mlflow_points} pts)", t, n))
    return results


def change_runs(store: Path, runs: int, fraction: float, round_: int, run_points: int) -> int:
    """Seal one more scalars segment into `fraction` of the runs (other runs each round), as
    training processes would between two looks; returns how many runs changed."""
    count = max(1, int(runs * fraction))
    rng = np.random.default_rng(100 + round_)
    for i in rng.choice(runs, count, replace=False).tolist():
        steps = np.arange(run_points + round_ * 10, run_points + round_ * 10 + 10)
        seq = 1000 + round_
        publish(
            store / "bench" / f"r{i:05d}",
            "scalars",
            SegmentName("0123abcd", seq, seq),
            scalar_table(f"run{i:05d}", steps, rng.random(len(steps))),
        )
    return count


def many_runs_benchmarks(
    tmp: Path, runs: int, run_points: int, repeat: int, kept: Path | None = None
) -> list[tuple[str, float, int, float | None]]:
    store = tmp / "many" if kept is None else kept
    if kept is None or not (kept / "bench").is_dir():
        say(f"writing {runs} runs × {run_points} points…")
        rng = np.random.default_rng(1)
        steps = np.arange(run_points)
        for i in range(runs):
            write_localtrack_run(
                store / "bench" / f"r{i:05d}", f"run{i:05d}", steps, rng.random(run_points)
            )
    else:
        say(f"reusing the store in {kept} (its runs: --runs must match)")
    # Folders changed within listing_cache.RACY_SECS are read again at every listing; a real
    # store's finished runs are older than that, so let the generated ones age past it.
    try:
        from localtrack._query import listing_cache

        racy = listing_cache.RACY_SECS
    except ImportError:  # an older localtrack, measured for comparison (PYTHONPATH)
        racy = 0.0
    time.sleep(racy + 1)
    results = []
    caches = tmp / "caches"
    cold_round = iter(range(1_000_000))

    def cold() -> None:
        """A fresh, empty cache folder: no listing, no per-file facts (the page cache stays)."""
        os.environ["LOCALTRACK_CACHE_DIR"] = str(caches / f"cold{next(cold_round)}")

    warm_round = iter(range(1_000_000))

    def warm() -> None:
        """The shared cache folder, with 1 % of the runs changed since it was written."""
        os.environ["LOCALTRACK_CACHE_DIR"] = str(caches / "warm")
        change_runs(store, runs, 0.01, next(warm_round), run_points)

    def first_query() -> int:
        con = connect(store)
        query = "SELECT max(step) FROM scalars WHERE run_id = 'run00007'"
        return int(con.execute(query).fetchall()[0][0])

    def first_runs_query() -> int:
        query = "SELECT count(*) FROM runs WHERE status = 'finished'"
        return int(connect(store).execute(query).fetchall()[0][0])

    from localtrack._cli.main import main

    def runs_cli() -> int:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            main(["--root", str(store), "runs"])
        return len(out.getvalue().splitlines()) - 2

    warm()  # the first listing writes the warm cache
    first_query()
    runs_cli()
    for label, fn in (
        ("connect + first query (one run's max step)", first_query),
        ("connect + first query on `runs`", first_runs_query),
        ("`localtrack runs`", runs_cli),
    ):
        t, n, cpu = median_times(fn, repeat, before=cold)
        results.append((f"{label}, {runs} runs, cold (no caches)", t, n, cpu))
        t, n, cpu = median_times(fn, repeat, before=warm)
        results.append((f"{label}, {runs} runs, warm (1 % of runs changed)", t, n, cpu))

    def group_by() -> int:
        con = connect(store)
        return len(
            con.execute(
                "SELECT run_id, tag, max(step), min(value), avg(value) FROM scalars GROUP BY ALL"
            ).fetchall()
        )

    t, n, cpu = median_times(group_by, repeat, before=warm)
    results.append((f"GROUP BY over {runs * run_points} rows, warm", t, n, cpu))
    return results


LIVE_CHILD = """
import sys, time
from localtrack._writer.summary_writer import SummaryWriter
writer = SummaryWriter(sys.argv[1])  # default flush_secs: 0.5 s
for step in range(int(sys.argv[2])):
    writer.add_scalar("live", float(step), step)
    print(step, time.time(), flush=True)
    time.sleep(0.7)
writer.close()
"""


def live_benchmark(tmp: Path, points: int) -> list[tuple[str, float, int, float | None]]:
    """Seconds from add_scalar in a training process until a new sql() query returns the row."""
    import subprocess

    say(f"measuring live visibility over {points} points…")
    store = tmp / "live"
    delays = []
    with subprocess.Popen(
        [sys.executable, "-c", LIVE_CHILD, str(store / "run"), str(points)],
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            step, logged = line.split()
            query = f"SELECT count(*) FROM scalars WHERE step = {int(step)}"
            while not sql(query, store).fetchall()[0][0]:
                time.sleep(0.01)
            delays.append(time.time() - float(logged))
    return [
        (
            "live: logged → visible to a new query, median (flush_secs 0.5)",
            statistics.median(delays),
            points,
            None,
        ),
        ("live: logged → visible to a new query, max", max(delays), points, None),
    ]


def print_table(
    history: list[tuple[str, float, int]], many: list[tuple[str, float, int, float | None]]
) -> None:
    per_row = {name: t / max(n, 1) for name, t, n in history}
    tbparse = next((v for k, v in per_row.items() if k.startswith("tbparse")), None)
    if history:
        print("\n| one tag's history | rows | median s | µs/row | per row, × faster than tbparse |")
        print("|---|---|---|---|---|")
    for name, t, n in history:
        ratio = f"{tbparse / per_row[name]:.3g}" if tbparse else "n/a"
        print(f"| {name} | {n} | {t:.4f} | {per_row[name] * 1e6:.3f} | {ratio} |")
    print("\n| store-wide work | result | median s | median CPU s |")
    print("|---|---|---|---|")
    for name, t, n, cpu in many:
        print(f"| {name} | {n} | {t:.3f} | {'n/a' if cpu is None else f'{cpu:.3f}'} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200_000, help="points of the one-tag history")
    parser.add_argument("--mlflow-points", type=int, default=50_000, help="points logged to MLflow")
    parser.add_argument("--runs", type=int, default=1000, help="runs of the many-runs store")
    parser.add_argument("--run-points", type=int, default=1000, help="points per run there")
    parser.add_argument("--repeat", type=int, default=5, help="timings per measurement")
    parser.add_argument(
        "--store",
        type=Path,
        help="keep the many-runs store here and reuse it next time (generating 10⁵ runs is slow; "
        "each warm round adds segments to 1 %% of its runs)",
    )
    parser.add_argument(
        "--live-points", type=int, default=10, help="points of the live-visibility check (0: skip)"
    )
    parser.add_argument(
        "--skip-history",
        action="store_true",
        help="only the many-runs store (no TensorBoard/MLflow)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_query_") as d:
        tmp = Path(d)
        history = []
        if not args.skip_history:
            mlflow_points = min(args.mlflow_points, args.points)
            history = history_benchmarks(tmp, args.points, args.repeat, mlflow_points)
        many = many_runs_benchmarks(tmp, args.runs, args.run_points, args.repeat, args.store)
        if args.live_points:
            many += live_benchmark(tmp, args.live_points)
    print(f"\nbench_query: {' '.join(sys.argv[1:])}")
    print_table(history, many)
    return 0


if __name__ == "__main__":
    sys.exit(main())
