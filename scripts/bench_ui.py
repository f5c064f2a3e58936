"""Dashboard speed: `localtrack ui` vs TensorBoard's own server, both in headless Chromium.

Writes the same scalar points as localtrack stores (the generator of scripts/bench_query.py)
and as TensorBoard event files (scripts/tfevents_fast.py, the bytes tensorboardX writes),
starts each server as a user does (`localtrack ui`, `tensorboard --logdir`), drives Debian's
Chromium with Playwright, and prints one table with the issue's targets and the ratios. Run
it through `scripts/bench_ui` (installs the `bench` extra: tensorboard, playwright).

    python scripts/bench_ui.py --quick                 # small sizes, about a minute
    python scripts/bench_ui.py --markdown bench.md     # the issue's sizes

"Drawn" is the page's own `performance.now()` when the chart's `data-state` became `drawn`
(docs/UI.md test hooks), seen by a MutationObserver installed before any page script. For
TensorBoard, whose charts draw in a worker, "drawn" is two animation frames after its
`timeSeries` answer arrived, which favours it slightly.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np
import pyarrow as pa
from bench_query import T0, TAG, event_table, say, scalar_table, write_localtrack_run
from tfevents_fast import write_scalars

from localtrack._store.layout import SegmentName
from localtrack._store.marker import create_or_join, make_marker
from localtrack._store.segments import publish

SPIKE = 1000.0
"""One point of each spiked run has this value; all others are in [0, 1)."""
CHUNK = 2_000_000
"""Rows per scalar segment of a generated run (a writer seals many small ones; compaction
merges them into files of about this size)."""
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT: Any = {"width": 1280, "height": 800}
WIDTH = 800
"""Pixel columns asked of the server for the server-side rows (the page asks its plot width)."""
WATCH_DRAWN = """
window.__drawn = {};
new MutationObserver(() => {
  for (const el of document.querySelectorAll('[data-testid=chart][data-state=drawn]')) {
    if (!(el.dataset.tag in window.__drawn)) window.__drawn[el.dataset.tag] = performance.now();
  }
}).observe(document, {subtree: true, childList: true, attributes: true,
                      attributeFilter: ['data-state']});
"""
LIVE_CHILD = """
import sys, time
from localtrack import SummaryWriter
writer = SummaryWriter(sys.argv[1])  # default flush_secs: 0.5 s
writer.add_scalar("live", 0.0, 0)
writer.flush()
print("ready", flush=True)
sys.stdin.readline()
for step in range(1, int(sys.argv[2]) + 1):
    writer.add_scalar("live", float(step), step)
    print(step, time.time(), flush=True)
    time.sleep(0.7)
writer.close()
"""


# -- stores -------------------------------------------------------------------------------


def spike_index(points: int, i: int) -> int:
    return (points * (3 + 2 * (i % 3))) // 10 + i


def write_big_run(run_dir: Path, run_id: str, steps: np.ndarray, values: np.ndarray) -> None:
    """One run in segments of CHUNK rows (bench_query's tables, one sequence number each)."""
    create_or_join(run_dir, make_marker(run_id, "bench", run_dir.name, "tensorboard"))
    for seq, lo in enumerate(range(0, len(steps), CHUNK)):
        table = scalar_table(run_id, steps[lo : lo + CHUNK], values[lo : lo + CHUNK])
        i = table.schema.get_field_index("seq")
        table = table.set_column(i, table.schema.field(i), pa.array(np.full(len(table), seq)))
        publish(run_dir, "scalars", SegmentName("0123abcd", seq, seq), table)
    publish(run_dir, "events", SegmentName("0123abcd", 0, 1), event_table(run_id))


@dataclass
class Store:
    root: Path
    tb_root: Path | None
    run_ids: list[str]
    points: int
    spikes: dict[str, int] = field(default_factory=dict)


def make_store(
    base: Path,
    name: str,
    runs: int,
    points: int,
    *,
    spike: bool = False,
    tb: bool = True,
    tb_runs: int | None = None,
) -> Store:
    """`runs` localtrack runs and, with `tb`, the first `tb_runs` (all) as event files."""
    t = time.perf_counter()
    say(f"writing {name}: {runs} runs × {points:,} points{' + event files' if tb else ''}…")
    root, tb_root = base / name / "lt", (base / name / "tb" if tb else None)
    rng = np.random.default_rng(len(name))
    steps = np.arange(points, dtype=np.int64)
    wall = T0 + steps * 0.01
    store = Store(root, tb_root, [], points)
    for i in range(runs):
        run_id, run_name = f"run{i:05d}", f"r{i:05d}"
        values = rng.random(points)
        if spike:
            store.spikes[run_id] = spike_index(points, i)
            values[store.spikes[run_id]] = SPIKE
        if points > CHUNK:
            write_big_run(root / "bench" / run_name, run_id, steps, values)
        else:
            write_localtrack_run(root / "bench" / run_name, run_id, steps, values)
        if tb_root is not None and (tb_runs is None or i < tb_runs):
            write_scalars(tb_root / run_name, TAG, steps, wall, values)
        store.run_ids.append(run_id)
    say(f"  {time.perf_counter() - t:.1f} s")
    return store


# -- servers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """pid and every process below it (any thread may have started one)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += parents.get(p, [])
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kb(pid: int) -> tuple[int, int]:
    """(VmHWM, VmRSS) in kB of a process and all its descendants, summed."""
    hwm, rss = 0, 0
    for p in descendants(pid):
        with contextlib.suppress(OSError, AttributeError):
            status = Path(f"/proc/{p}/status").read_text()
            hwm += int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
            rss += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return hwm, rss


@dataclass
class Server:
    proc: subprocess.Popen[str]
    url: str
    started: float  # perf_counter at spawn
    ready: float  # perf_counter when it answered

    def get(self, path: str, **params: Any) -> tuple[float, bytes, dict[str, str]]:
        """Seconds for one GET (to the last byte), its body and headers."""
        parts = urlsplit(self.url)
        token = dict(parse_qsl(parts.query)).get("token")
        query = ("?" + urlencode(params)) if params else ""
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=600)
        try:
            t = time.perf_counter()
            conn.request("GET", path + query, headers={"Authorization": f"token {token}"})
            answer = conn.getresponse()
            body = answer.read()
            took = time.perf_counter() - t
        finally:
            conn.close()
        if answer.status != 200:
            raise RuntimeError(f"GET {path}{query}: {answer.status} {body[:200]!r}")
        return took, body, dict(answer.getheaders())


def timed_cpu(server: Server, path: str, **params: Any) -> tuple[float, float]:
    """(wall seconds, server CPU seconds) of one GET: CPU time does not depend on the load
    that other processes put on the machine."""
    before = cpu_seconds(server.proc.pid)
    took = server.get(path, **params)[0]
    return took, cpu_seconds(server.proc.pid) - before


def localtrack_cli() -> list[str]:
    script = Path(sys.executable).with_name("localtrack")
    if script.exists():
        return [str(script)]
    return [
        sys.executable,
        "-c",
        "import sys; from localtrack._cli.main import main; sys.exit(main())",
    ]


@contextlib.contextmanager
def localtrack_ui(root: Path) -> Iterator[Server]:
    started = time.perf_counter()
    args = [*localtrack_cli(), "ui", "--root", str(root), "--port", "0"]
    env = {**os.environ, "LOCALTRACK_CACHE_DIR": str(root.parent / "cache")}
    with subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            found = re.search(r"http://\S+", line)
            if not found:
                raise RuntimeError(f"localtrack ui printed {line!r}")
            yield Server(proc, found.group(0), started, time.perf_counter())
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def tensorboard_cmd() -> list[str]:
    script = Path(sys.executable).with_name("tensorboard")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tensorboard.main"]


def http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=600) as answer:
        return json.load(answer)


@contextlib.contextmanager
def tensorboard(logdir: Path, load_fast: str) -> Iterator[Server]:
    port = free_port()
    args = [*tensorboard_cmd(), "--logdir", str(logdir), "--host", "127.0.0.1"]
    args += ["--port", str(port), f"--load_fast={load_fast}"]
    started = time.perf_counter()
    with subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
    ) as proc:
        try:
            url = f"http://127.0.0.1:{port}/"
            while True:
                with contextlib.suppress(OSError):
                    urllib.request.urlopen(url + "data/environment", timeout=5).read()
                    break
                if proc.poll() is not None:
                    raise RuntimeError(f"tensorboard exited with {proc.returncode}")
                time.sleep(0.02)
            yield Server(proc, url, started, time.perf_counter())
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def tb_wait_loaded(tb: Server, runs: int, last_step: int, deadline_s: float) -> float:
    """Poll TensorBoard's API until every run is listed and the last run's last step is in;
    perf_counter then."""
    base = tb.url + "data/plugin/scalars/"
    end = time.perf_counter() + deadline_s
    while time.perf_counter() < end:
        with contextlib.suppress(OSError, ValueError):
            tags = http_json(base + "tags")
            if len(tags) >= runs:
                last = max(tags)
                points = http_json(base + "scalars?" + urlencode({"run": last, "tag": TAG}))
                if points and points[-1][1] == last_step:
                    return time.perf_counter()
        time.sleep(0.05)
    raise TimeoutError(f"TensorBoard did not load {runs} runs within {deadline_s} s")


# -- the browser --------------------------------------------------------------------------


class Browser:
    """Headless Chromium; every page it opens may reach only 127.0.0.1 (others are counted)."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self.chromium = self._pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        self.blocked: dict[str, list[str]] = {"localtrack": [], "tensorboard": []}

    def page(self, who: str = "localtrack") -> Any:
        context = self.chromium.new_context(viewport=VIEWPORT)

        def route(route: Any) -> None:
            host = urlsplit(route.request.url).hostname
            if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
                route.continue_()
            else:
                self.blocked[who].append(route.request.url)
                route.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.add_init_script(WATCH_DRAWN)
        return page

    def close(self) -> None:
        self.chromium.close()
        self._pw.stop()


def chart_selector(tag: str) -> str:
    return f'[data-testid=chart][data-tag="{tag}"][data-state=drawn]'


def lt_open(page: Any, url: str, tag: str = TAG, timeout_s: float = 600) -> dict[str, float]:
    """Open the dashboard, wait for `tag`'s chart drawn; in-page times in seconds."""
    page.goto(url)
    page.wait_for_selector(chart_selector(tag), state="attached", timeout=timeout_s * 1000)
    times = page.evaluate(
        """(tag) => {
          const series = performance.getEntriesByType('resource')
            .filter(e => e.name.includes('/api/series') && e.name.includes(encodeURIComponent(tag)));
          return {drawn: window.__drawn[tag], asked: series.length ? series[0].startTime : null};
        }""",
        tag,
    )
    drawn = float(times["drawn"]) / 1000
    asked = float(times["asked"]) / 1000 if times["asked"] is not None else float("nan")
    return {"navigation_to_drawn": drawn, "asked_to_drawn": drawn - asked}


def lt_drawn_max(page: Any, tag: str = TAG) -> float:
    """The greatest finite value in the chart's drawn data (uPlot's .data, every y series)."""
    return float(
        page.evaluate(
            """(tag) => { const u = window.localtrack.charts.get(tag); let m = -Infinity;
              for (const ys of u.data.slice(1)) for (const y of ys)
                if (y != null && Number.isFinite(y) && y > m) m = y;
              return m; }""",
            tag,
        )
    )


def tb_open(page: Any, url: str, timeout_s: float = 600) -> float:
    """Open TensorBoard's page; seconds until two frames after its timeSeries answer."""
    t = time.perf_counter()
    with page.expect_response(lambda r: "/timeSeries" in r.url, timeout=timeout_s * 1000) as got:
        page.goto(url)
    got.value.finished()
    page.wait_for_selector("scalar-card line-chart", state="attached", timeout=timeout_s * 1000)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return time.perf_counter() - t


def close_page(page: Any) -> None:
    page.context.close()


# -- measurements -------------------------------------------------------------------------


@dataclass
class Row:
    work: str
    target: str
    localtrack: str
    tensorboard: str = "n/a"
    ratio: str = "n/a"
    note: str = ""


def secs(value: float) -> str:
    return f"{value:.3f} s"


def ratio(tb: float | None, lt: float) -> str:
    return f"{tb / lt:.1f}×" if tb is not None and lt > 0 else "n/a"


def median_of(repeat: int, work: Callable[[], float]) -> float:
    return statistics.median(work() for _ in range(repeat))


def first_page(
    browser: Browser, store: Store, args: argparse.Namespace, with_tb: bool
) -> tuple[float, float, float | None]:
    """(start → drawn, URL printed → drawn, TensorBoard's start → all loaded → drawn), seconds."""
    inpage: list[float] = []

    def once() -> float:
        # The tab is open before the server starts, as a user's browser is: opening a fresh
        # Playwright context (~0.4 s) is the harness's cost, not the dashboard's.
        page = browser.page()
        try:
            with localtrack_ui(store.root) as server:
                lt_open(page, server.url)
                done = time.perf_counter()
        finally:
            close_page(page)
        inpage.append(done - server.ready)
        return done - server.started

    lt = median_of(args.repeat, once)
    tb: float | None = None
    if with_tb and store.tb_root is not None:

        def tb_once() -> float:
            page = browser.page("tensorboard")  # the tab first, as for localtrack
            try:
                with tensorboard(store.tb_root, args.tb_load_fast) as server:  # type: ignore[arg-type]
                    tb_wait_loaded(server, len(store.run_ids), store.points - 1, args.tb_deadline)
                    tb_open(page, server.url, args.tb_deadline)
                    return time.perf_counter() - server.started
            finally:
                close_page(page)

        tb = median_of(args.tb_repeat, tb_once)
    return lt, statistics.median(inpage), tb


def series_params(store: Store, run_ids: list[str], **extra: Any) -> dict[str, Any]:
    return {"tag": TAG, "runs": ",".join(run_ids), "x": "step", "width": WIDTH} | extra


def with_runs(url: str, run_ids: list[str]) -> str:
    sep = "&" if "?" in url else "?"
    return url + sep + urlencode({"runs": ",".join(run_ids)})


def big_tag(browser: Browser, store: Store, args: argparse.Namespace) -> dict[str, Any]:
    """10M points of one tag: server answer, drawn, spike, zoom; then memory after it all."""
    run_id = store.run_ids[0]
    n = store.points
    found: dict[str, Any] = {}
    with localtrack_ui(store.root) as server:
        server.get("/api/runs")
        found["start_rss"] = memory_kb(server.proc.pid)[1]
        cold, body, _ = server.get("/api/series", **series_params(store, [run_id]))
        # The server may keep answers: each timed request asks a width not asked before.
        asks = [
            timed_cpu(server, "/api/series", **series_params(store, [run_id], width=WIDTH + k))
            for k in range(1, args.repeat + 1)
        ]
        warm = statistics.median(a[0] for a in asks)
        found["cpu"] = statistics.median(a[1] for a in asks)
        cached = server.get("/api/series", **series_params(store, [run_id]))[0]
        page = browser.page()
        try:
            times = lt_open(page, with_runs(server.url, [run_id]))
            drawn_max = lt_drawn_max(page)
        finally:
            close_page(page)
        lo = store.spikes[run_id] - n // 200
        zooms = [
            timed_cpu(
                server,
                "/api/series",
                **series_params(store, [run_id], xmin=lo + k, xmax=lo + k + n // 100),
            )
            for k in range(args.repeat)
        ]
        zoom = statistics.median(z[0] for z in zooms)
        found["zoom_cpu"] = statistics.median(z[1] for z in zooms)
        # The heaviest work this store allows: every run overlaid, every run's page.
        server.get("/api/series", **series_params(store, store.run_ids))
        for rid in store.run_ids:
            server.get("/api/run", id=rid)
        hwm, rss = memory_kb(server.proc.pid)
    header = series_header(body)
    found.update(cold=cold, warm=warm, cached=cached, times=times, drawn_max=drawn_max, zoom=zoom)
    found.update(hwm=hwm, rss=rss, header=header)
    return found


def tb_big_tag(store: Store, args: argparse.Namespace, browser: Browser) -> dict[str, Any]:
    """TensorBoard on the first run of the same store (the only one written as event files):
    load time, its answer, what it kept, its memory."""
    assert store.tb_root is not None
    with tensorboard(store.tb_root, args.tb_load_fast) as server:
        loaded = tb_wait_loaded(server, 1, store.points - 1, args.tb_deadline)
        url = server.url + "data/plugin/scalars/scalars?" + urlencode({"run": "r00000", "tag": TAG})
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            points = http_json(url)
            times.append(time.perf_counter() - t)
        page = browser.page("tensorboard")
        try:
            drawn = tb_open(page, server.url, args.tb_deadline)
        finally:
            close_page(page)
        hwm, rss = memory_kb(server.proc.pid)
    return {
        "load": loaded - server.started,
        "answer": statistics.median(times),
        "kept": len(points),
        "max": max(p[2] for p in points),
        "drawn": drawn,
        "hwm": hwm,
        "rss": rss,
    }


def overlay(browser: Browser, store: Store, args: argparse.Namespace) -> tuple[float, float]:
    """(asked → drawn, navigation → drawn) with every run of the store selected."""
    asked, nav = [], []
    with localtrack_ui(store.root) as server:
        server.get("/api/runs")
        for _ in range(args.repeat):
            page = browser.page()
            try:
                times = lt_open(page, with_runs(server.url, store.run_ids))
            finally:
                close_page(page)
            asked.append(times["asked_to_drawn"])
            nav.append(times["navigation_to_drawn"])
    return statistics.median(asked), statistics.median(nav)


def tb_overlay(store: Store, args: argparse.Namespace, browser: Browser) -> tuple[float, float]:
    """(TensorBoard's first full load of the store, its page drawn once loaded)."""
    assert store.tb_root is not None
    with tensorboard(store.tb_root, args.tb_load_fast) as server:
        loaded = tb_wait_loaded(server, len(store.run_ids), store.points - 1, args.tb_deadline)
        page = browser.page("tensorboard")
        try:
            drawn = tb_open(page, server.url, args.tb_deadline)
        finally:
            close_page(page)
        return loaded - server.started, drawn


def series_header(body: bytes) -> dict[str, Any]:
    """The JSON header of a series-v1 answer (docs/UI.md)."""
    size = int.from_bytes(body[:4], "little")
    return dict(json.loads(body[4 : 4 + size]))


def poll_server(server: Server, run_id: str, seen: dict[int, float], stop: Any) -> None:
    """Record when each step of the live run is first in the server's answer."""
    while not stop.is_set():
        _, body, _ = server.get("/api/series", tag="live", runs=run_id, x="step", width=WIDTH)
        last = series_header(body)["series"][0]["last_x"]
        now = time.time()
        for step in range(int(last) + 1 if last is not None else 0):
            seen.setdefault(step, now)
        stop.wait(0.02)


def live(browser: Browser, base: Path, points: int) -> tuple[list[float], list[float]]:
    """Seconds from add_scalar in a training process to the point on the open chart, and to
    the point in the server's answer (polled every 20 ms beside the page)."""
    import threading

    root = base / "live"
    child = subprocess.Popen(
        [sys.executable, "-c", LIVE_CHILD, str(root / "bench" / "live"), str(points)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    on_page, on_server = [], []
    seen: dict[int, float] = {}
    stop = threading.Event()
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "ready"
        with localtrack_ui(root) as server:
            run_id = json.loads(server.get("/api/runs")[1])["runs"][0]["run_id"]
            poller = threading.Thread(target=poll_server, args=(server, run_id, seen, stop))
            page = browser.page()
            try:
                lt_open(page, server.url, tag="live")
                poller.start()
                child.stdin.write("go\n")
                child.stdin.flush()
                for line in child.stdout:
                    step, logged = line.split()
                    page.wait_for_function(
                        """(step) => { const u = window.localtrack.charts.get('live');
                          const xs = u && u.data[0];
                          return xs && xs.length && xs[xs.length - 1] >= step; }""",
                        arg=int(step),
                        polling="raf",
                        timeout=60_000,
                    )
                    on_page.append(time.time() - float(logged))
                    on_server.append(seen.get(int(step), float("nan")) - float(logged))
            finally:
                stop.set()
                if poller.is_alive():
                    poller.join()
                close_page(page)
    finally:
        child.wait(timeout=60)
    return on_page, on_server


# -- the run ------------------------------------------------------------------------------


def sizes(args: argparse.Namespace) -> None:
    if args.quick:
        for name, value in (
            ("runs", 50),
            ("run_points", 200),
            ("many_runs", 300),
            ("many_points", 50),
            ("points", 300_000),
            ("big_runs", 3),
            ("overlay_runs", 10),
            ("overlay_points", 20_000),
            ("live_points", 3),
            ("repeat", 3),
        ):
            if getattr(args, name) is None:
                setattr(args, name, value)
    defaults = {
        "runs": 1000,
        "run_points": 1000,
        "many_runs": 10_000,
        "many_points": 100,
        "points": 10_000_000,
        "big_runs": 10,
        "overlay_runs": 100,
        "overlay_points": 100_000,
        "live_points": 10,
        "repeat": 5,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)


def section_first(args: argparse.Namespace, base: Path, browser: Browser, rows: list[Row]) -> None:
    tb = not args.skip_tensorboard
    store = make_store(base, "first", args.runs, args.run_points, tb=tb)
    say("start → first page drawn…")
    lt, inpage, tb_load = first_page(browser, store, args, tb)
    rows.append(
        Row(
            f"`localtrack ui` start → first page with charts drawn, {args.runs:,} runs "
            f"× {args.run_points:,} points",
            "≤ 1 s, ≥ 10× TensorBoard",
            secs(lt),
            secs(tb_load) if tb_load else "n/a",
            ratio(tb_load, lt),
            f"URL printed → drawn {secs(inpage)}; TensorBoard: start → all runs "
            "loaded (its API) → page drawn",
        )
    )
    shutil.rmtree(base / "first")


def section_many(args: argparse.Namespace, base: Path, browser: Browser, rows: list[Row]) -> None:
    tb = not args.skip_tensorboard
    store = make_store(base, "many", args.many_runs, args.many_points, tb=tb and args.tb_many)
    say("start → first page drawn, many runs…")
    lt, inpage, tb_load = first_page(browser, store, args, tb and args.tb_many)
    rows.append(
        Row(
            f"the same, {args.many_runs:,} runs × {args.many_points:,} points",
            "≤ 2 s",
            secs(lt),
            secs(tb_load) if tb_load else "n/a",
            ratio(tb_load, lt),
            f"URL printed → drawn {secs(inpage)}; listing: the full walk of the root "
            "(localtrack._query.files.list_store) at start, not issue 13's incremental one",
        )
    )
    shutil.rmtree(base / "many")


def section_big(args: argparse.Namespace, base: Path, browser: Browser, rows: list[Row]) -> None:
    tb = not args.skip_tensorboard
    store = make_store(base, "big", args.big_runs, args.points, spike=True, tb=tb, tb_runs=1)
    say("one tag of many points…")
    got = big_tag(browser, store, args)
    tbg = tb_big_tag(store, args, browser) if tb else None
    series = got["header"]["series"][0]
    n = f"{args.points:,}"
    rows.append(
        Row(
            f"one tag of {n} points: server answer (width {WIDTH})",
            "≤ 0.3 s",
            f"{secs(got['warm'])} (first {secs(got['cold'])}, asked again {secs(got['cached'])})",
            secs(tbg["answer"]) if tbg else "n/a",
            ratio(tbg["answer"] if tbg else None, got["warm"]),
            f"server CPU {got['cpu']:.2f} s a request; {series['count']} M4 points"
            + (f"; TensorBoard answers {tbg['kept']} sampled points" if tbg else ""),
        )
    )
    nav = got["times"]["navigation_to_drawn"]
    rows.append(
        Row(
            f"one tag of {n} points: drawn",
            "≤ 0.5 s",
            f"{secs(got['times']['asked_to_drawn'])} (page opened → drawn {secs(nav)})",
            secs(tbg["drawn"]) if tbg else "n/a",
            ratio(tbg["drawn"] if tbg else None, nav),
            "series asked → drawn; the ratio compares page opened → drawn"
            + (
                f"; TensorBoard's page once loaded (its load took {secs(tbg['load'])})"
                if tbg
                else ""
            ),
        )
    )
    kept = got["drawn_max"] >= SPIKE
    rows.append(
        Row(
            f"one tag of {n} points: spike kept",
            "kept; TensorBoard's lost",
            f"{'kept' if kept else 'LOST'} (drawn max {got['drawn_max']:g})",
            (
                f"{'kept' if tbg['max'] >= SPIKE else 'lost'} (max {tbg['max']:.4g})"
                if tbg
                else "n/a"
            ),
            "",
            f"one point of {SPIKE:g} among values in [0, 1); TensorBoard's /scalars answer of "
            f"{tbg['kept']} points"
            if tbg
            else "",
        )
    )
    rows.append(
        Row(
            f"zoom to 1 % of a {n}-point series, full resolution: server",
            "≤ 0.1 s",
            secs(got["zoom"]),
            "n/a",
            "",
            f"server CPU {got['zoom_cpu']:.3f} s a request; {args.points // 100:,} points in "
            f"range, width {WIDTH}",
        )
    )
    total = args.big_runs * args.points
    rows.append(
        Row(
            f"server memory with a {total:,}-point store ({args.big_runs} runs)",
            "≤ 200 MB RSS",
            f"{got['hwm'] / 1024:.0f} MB peak (VmHWM), {got['rss'] / 1024:.0f} MB at the end, "
            f"{got['start_rss'] / 1024:.0f} MB after its first answer",
            f"{tbg['hwm'] / 1024:.0f} MB peak, {tbg['rss'] / 1024:.0f} MB now" if tbg else "n/a",
            "",
            "after all the above and every run overlaid; TensorBoard (with its data server) "
            f"holding one {n}-point run"
            if tbg
            else "after all the above and every run overlaid",
        )
    )
    shutil.rmtree(base / "big")


def section_overlay(
    args: argparse.Namespace, base: Path, browser: Browser, rows: list[Row]
) -> None:
    tb = not args.skip_tensorboard
    store = make_store(base, "overlay", args.overlay_runs, args.overlay_points, tb=tb)
    say("many runs overlaid…")
    asked, nav = overlay(browser, store, args)
    tbo = tb_overlay(store, args, browser) if tb else None
    rows.append(
        Row(
            f"one tag, {args.overlay_runs} runs × {args.overlay_points:,} points overlaid: drawn",
            "≤ 0.5 s",
            f"{secs(asked)} (page opened → drawn {secs(nav)})",
            secs(tbo[1]) if tbo else "n/a",
            ratio(tbo[1] if tbo else None, nav),
            "series asked → drawn; the ratio compares page opened → drawn"
            + (f"; TensorBoard's page once loaded (its load took {secs(tbo[0])})" if tbo else ""),
        )
    )
    shutil.rmtree(base / "overlay")


def section_live(args: argparse.Namespace, base: Path, browser: Browser, rows: list[Row]) -> None:
    if args.live_points:
        say("live…")
        delays, server_delays = live(browser, base, args.live_points)
        rows.append(
            Row(
                "live: logged → on the open chart (flush_secs 0.5)",
                "≤ flush_secs + 1 s = 1.5 s",
                f"median {secs(statistics.median(delays))}, max {secs(max(delays))} (in the "
                f"server's answer after {secs(statistics.median(server_delays))})",
                "n/a",
                "",
                f"{len(delays)} points, one every 0.7 s; TensorBoard re-reads files every 5 s "
                "and its page refreshes every 30 s",
            )
        )


SECTIONS = ("first", "many", "big", "overlay", "live")


class Rows(list[Row]):
    """The table so far; each row is also printed as it comes, so a crash loses none."""

    def append(self, row: Row) -> None:
        super().append(row)
        say(
            "| "
            + " | ".join(
                (row.work, row.target, row.localtrack, row.tensorboard, row.ratio, row.note)
            )
            + " |"
        )


def measure(args: argparse.Namespace, base: Path, browser: Browser) -> list[Row]:
    rows = Rows()
    for name in args.sections.split(","):
        try:
            globals()[f"section_{name}"](args, base, browser, rows)
        except Exception as e:
            import traceback

            traceback.print_exc()
            rows.append(Row(f"section {name}", "", f"error: {type(e).__name__}: {e}"[:200], ""))
        finally:
            for folder in ("first", "many", "big", "overlay", "live"):
                shutil.rmtree(base / folder, ignore_errors=True)
    return rows


def table(rows: list[Row], args: argparse.Namespace, blocked: dict[str, list[str]]) -> str:
    off = ", ".join(f"{who} {len(urls)}" for who, urls in blocked.items())
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"bench_ui: {' '.join(sys.argv[1:]) or '(defaults)'}; TensorBoard --load_fast="
        f"{args.tb_load_fast}; requests to other hosts (blocked): {off}; "
        f"{os.cpu_count()} CPUs, load average at the end {load} (at the start {args.load_before})",
        "",
        "| work | target | localtrack ui | TensorBoard | TensorBoard ÷ localtrack | note |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.work} | {r.target} | {r.localtrack} | {r.tensorboard} | {r.ratio} | {r.note} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--runs", type=int, help="runs of the first-page store (1000)")
    parser.add_argument("--run-points", type=int, help="points per run there (1000)")
    parser.add_argument("--many-runs", type=int, help="runs of the many-runs store (10000)")
    parser.add_argument("--many-points", type=int, help="points per run there (100)")
    parser.add_argument("--points", type=int, help="points of each big run (10M)")
    parser.add_argument("--big-runs", type=int, help="big runs: the memory store (10 → 10⁸)")
    parser.add_argument("--overlay-runs", type=int, help="runs overlaid on one chart (100)")
    parser.add_argument("--overlay-points", type=int, help="points per overlaid run (100k)")
    parser.add_argument("--live-points", type=int, help="points of the live check (10; 0: skip)")
    parser.add_argument("--repeat", type=int, help="timings per localtrack measurement (5)")
    parser.add_argument("--tb-repeat", type=int, default=1, help="TensorBoard timings (1)")
    parser.add_argument(
        "--tb-load-fast",
        default="true",
        choices=["true", "false", "auto"],
        help="TensorBoard's --load_fast: true is its Rust data server, its fastest loader",
    )
    parser.add_argument(
        "--tb-many", action="store_true", help="also time TensorBoard on the many-runs store"
    )
    parser.add_argument("--tb-deadline", type=float, default=900, help="seconds TensorBoard gets")
    parser.add_argument("--skip-tensorboard", action="store_true", help="localtrack only")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"which measurements, comma-separated (default: all of {','.join(SECTIONS)})",
    )
    parser.add_argument("--workdir", type=Path, help="where stores go (default: a temp folder)")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    sizes(args)
    args.load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    if not Path(CHROMIUM).exists():
        parser.error(f"{CHROMIUM} is missing: apt-get install chromium")
    if not args.skip_tensorboard:
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            say("tensorboard is not installed (bash scripts/bench_ui installs it); skipping it")
            args.skip_tensorboard = True
    with contextlib.ExitStack() as stack:
        if args.workdir:
            args.workdir.mkdir(parents=True, exist_ok=True)
            base = args.workdir
        else:
            base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench_ui_")))
        browser = Browser()
        stack.callback(browser.close)
        rows = measure(args, base, browser)
        text = table(rows, args, browser.blocked)
    print("\n" + text)
    if args.markdown:
        args.markdown.write_text(text)
    return 0


# -- stream views (issue #10): images slider, histograms distributions, hparams ----------

VIEW_SEEN = """
window.__seen = {};
const want = %s;
new MutationObserver(() => {
  for (const [name, selector] of Object.entries(want)) {
    if (!(name in window.__seen) && document.querySelector(selector)) {
      window.__seen[name] = performance.now();
    }
  }
}).observe(document, {subtree: true, childList: true, attributes: true});
"""
SLIDER_MOVES = """async (indices) => {
  const pick = (sel) => document.querySelector('[data-testid=images-card] ' + sel);
  const out = [];
  for (const i of indices) {
    const input = pick('[data-testid=step-slider]');
    let wanted = null;
    const t0 = performance.now();
    const shown = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no image for step ' + wanted + ' after 30 s')), 30000);
      const on = (event) => {
        const img = event.target;
        if (!(img instanceof HTMLImageElement) || img.dataset.testid !== 'image') return;
        if (img.dataset.wanted !== wanted) return;  // capture: before the view's own handler
        clearTimeout(timer);
        document.removeEventListener('load', on, true);
        resolve(img);
      };
      document.addEventListener('load', on, true);  // load does not bubble: capture it
    });
    input.value = String(i);
    input.dispatchEvent(new Event('input', {bubbles: true}));
    wanted = input.dataset.step;
    const img = await shown;
    await img.decode();
    await new Promise((r) => requestAnimationFrame(() => r()));
    out.push(performance.now() - t0);
  }
  return out;
}"""


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def ms(value: float) -> str:
    return f"{value * 1000:.0f} ms"


def open_view(
    browser: Browser,
    server: Server,
    query: str,
    selectors: dict[str, str],
    timeout_s: float = 300,
    endpoint: str | None = None,
) -> tuple[Any, dict[str, float]]:
    """A fresh tab on `?query`: seconds from its navigation until each selector first matched
    (and, as "asked", until the page first asked for `endpoint`)."""
    page = browser.page()
    page.add_init_script(VIEW_SEEN % json.dumps(selectors))
    page.goto(server.url)  # sets the token cookie
    page.goto(server.url.split("?")[0] + "?" + query)
    page.wait_for_function(
        "(n) => Object.keys(window.__seen).length === n",
        arg=len(selectors),
        timeout=timeout_s * 1000,
    )
    seen = page.evaluate("() => window.__seen")
    if endpoint is not None:
        seen["asked"] = page.evaluate(
            """(path) => performance.getEntriesByType('resource')
                 .find((e) => new URL(e.name).pathname === path).startTime""",
            endpoint,
        )
    return page, {name: float(t) / 1000 for name, t in seen.items()}


def section_images(args: argparse.Namespace, base: Path, browser: Browser, rows: list[Row]) -> None:
    """The images view's slider over 1,000 steps of 256×256 RGB images: each move, until its
    image is loaded, decoded and a frame drawn (the page's own clock)."""
    from localtrack import SummaryWriter

    steps, side = (100 if args.quick else 1000), 256
    root = base / "images" / "lt"
    say(f"writing images: {steps} steps of {side}×{side} RGB…")
    t = time.perf_counter()
    writer = SummaryWriter(root / "bench" / "images")
    yy, xx = np.mgrid[0:side, 0:side]
    for s in range(steps):
        image = np.stack([(xx + s) % 256, (yy + 3 * s) % 256, ((xx ^ yy) + s) % 256])
        writer.add_image("samples/grid", image.astype(np.uint8), s)
    writer.close()
    size = sum(p.stat().st_size for p in (root / "bench" / "images" / "images").glob("*.parquet"))
    say(f"  {time.perf_counter() - t:.1f} s, {size / 1e6:.0f} MB of images")
    rng = np.random.default_rng(7)
    with localtrack_ui(root) as server:
        server.get("/api/runs")
        shown = "[data-testid=images-card][data-state=shown]"
        page, seen = open_view(browser, server, "view=images", {"shown": shown})
        try:
            n = min(200, steps // 3)
            along = [float(v) / 1000 for v in page.evaluate(SLIDER_MOVES, list(range(n)))]
            others = rng.permutation(np.arange(n + 3, steps - 1))[:n].tolist()
            jumps = [float(v) / 1000 for v in page.evaluate(SLIDER_MOVES, others)]
        finally:
            close_page(page)
    rows.append(
        Row(
            f"images view: slider over {steps:,} steps of {side}×{side} images, each move → "
            "its image shown",
            "≤ 100 ms",
            f"random jumps: median {ms(statistics.median(jumps))}, p95 {ms(p95(jumps))}; "
            f"one step at a time: median {ms(statistics.median(along))}, p95 {ms(p95(along))}",
            note=f"{len(jumps)} jumps to steps not shown before, {len(along)} moves of one "
            f"step (neighbours prefetched); moved → PNG loaded → decoded → next frame, in "
            f"Chromium; view opened → first image {secs(seen['shown'])}; "
            f"{size / steps / 1e3:.0f} kB per PNG",
        )
    )
    shutil.rmtree(base / "images", ignore_errors=True)


def section_histograms(
    args: argparse.Namespace, base: Path, browser: Browser, rows: list[Row]
) -> None:
    """The histograms view's distributions (TensorBoard's percentile bands over every step)
    of one tag logged at 10,000 steps: the server's answer and view opened → drawn."""
    from localtrack import SummaryWriter

    steps = 1000 if args.quick else 10_000
    root = base / "histograms" / "lt"
    say(f"writing histograms: {steps:,} steps…")
    t = time.perf_counter()
    writer = SummaryWriter(root / "bench" / "hist")
    rng = np.random.default_rng(3)
    for s in range(steps):
        writer.add_histogram("layer1/weight", rng.normal(s / steps, 1.0, 256), s)
    writer.close()
    say(f"  {time.perf_counter() - t:.1f} s")
    with localtrack_ui(root) as server:
        run_id = json.loads(server.get("/api/runs")[1])["runs"][0]["run_id"]
        query = {"run": run_id, "tag": "layer1/weight"}
        cold = timed_cpu(server, "/api/histograms/distribution", **query)
        warm = [timed_cpu(server, "/api/histograms/distribution", **query) for _ in range(3)]
        drawn = "[data-testid=histograms-card][data-state=drawn]"
        opened: list[float] = []
        asked: list[float] = []
        for _ in range(args.repeat):
            page, seen = open_view(
                browser,
                server,
                "view=histograms&mode=distribution",
                {"d": drawn},
                endpoint="/api/histograms/distribution",
            )
            points = page.get_attribute(drawn, "data-points")
            close_page(page)
            opened.append(seen["d"])
            asked.append(seen["d"] - seen["asked"])
    if points != str(steps):
        raise RuntimeError(f"the distribution chart drew {points} steps, not {steps}")
    rows.append(
        Row(
            f"histograms view: distributions of one tag over {steps:,} steps",
            "≤ 0.5 s",
            f"asked → drawn median {secs(statistics.median(asked))}; page opened → drawn "
            f"median {secs(statistics.median(opened))} (max {secs(max(opened))})",
            note=f"/api/histograms/distribution: first {secs(cold[0])} wall / {secs(cold[1])} "
            f"server CPU, again {secs(statistics.median(w for w, _ in warm))}; every step "
            f"drawn ({points}); asked: the page's request for the bands; {args.repeat} "
            "fresh tabs (the first asks the server cold)",
        )
    )
    shutil.rmtree(base / "histograms", ignore_errors=True)


def section_hparams(
    args: argparse.Namespace, base: Path, browser: Browser, rows: list[Row]
) -> None:
    """The hparams view over 1,000 runs of `add_hparams`: the table's first rows and the
    parallel coordinates' lines on screen, and the server's /api/hparams/table."""
    from localtrack import SummaryWriter

    runs = 100 if args.quick else 1000
    root = base / "hparams" / "lt"
    say(f"writing hparams: {runs:,} runs…")
    t = time.perf_counter()
    rng = np.random.default_rng(5)
    for i in range(runs):
        writer = SummaryWriter(root / "bench" / f"trial{i:04d}")
        lr, batch = 10.0 ** -rng.uniform(1, 5), int(2 ** rng.integers(4, 10))
        for step in range(3):
            writer.add_scalar("loss", float(rng.random()) / (step + 1), step)
        writer.add_hparams(
            {"lr": lr, "batch": batch, "opt": ["adam", "sgd", "lion"][i % 3],
             "dropout": round(float(rng.uniform(0, 0.5)), 2), "layers": int(rng.integers(2, 9))},
            {"hp/accuracy": float(rng.random()), "hp/loss": float(rng.random())},
            run_name=f"trial{i:04d}",
        )  # fmt: skip
        writer.close()
    say(f"  {time.perf_counter() - t:.1f} s")
    selectors = {
        "table": "[data-testid=hp-row]",
        "chart": "[data-testid=parallel-coords] .pc-line",
    }
    with localtrack_ui(root) as server:
        server.get("/api/runs")
        table = "/api/hparams/table"
        page, first = open_view(browser, server, "view=hparams", selectors, endpoint=table)
        lines = page.locator("[data-testid=parallel-coords] .pc-line").count()
        close_page(page)
        again: list[float] = []
        asked: list[float] = []
        for _ in range(args.repeat):
            page, seen = open_view(browser, server, "view=hparams", selectors, endpoint=table)
            close_page(page)
            again.append(max(seen["table"], seen["chart"]))
            asked.append(again[-1] - seen["asked"])
        served = [timed_cpu(server, "/api/hparams/table") for _ in range(3)]
    if lines < runs:
        raise RuntimeError(f"the parallel coordinates drew {lines} lines for {runs} runs")
    rows.append(
        Row(
            f"hparams view: table + parallel coordinates, {runs:,} runs",
            "≤ 1 s",
            f"asked → both drawn median {secs(statistics.median(asked))} (page opened → "
            f"drawn {secs(statistics.median(again))}); first ever: asked → drawn "
            f"{secs(max(first['table'], first['chart']) - first['asked'])}",
            note=f"first ever: the server builds the table of this snapshot; {lines} lines "
            f"drawn; /api/hparams/table kept: {secs(statistics.median(w for w, _ in served))}"
            "; asked: the page's table request",
        )
    )
    shutil.rmtree(base / "hparams", ignore_errors=True)


SECTIONS = (*SECTIONS, "images", "histograms", "hparams")


def section_report(args: argparse.Namespace, base: Path, browser: Browser, rows: list[Row]) -> None:
    """`localtrack ui --export` of 20 runs (issue #10: ≤ 5 s, file ≤ 5 MB): 4 tags of
    `--overlay-points` (100k) float32-exact points each (what `loss.item()` of a float32
    tensor logs), hparams and one 64×64 image per run; then the file opened offline."""
    from localtrack import SummaryWriter

    runs, tags, points = 20, 4, args.overlay_points
    root = base / "report" / "lt"
    say(f"writing report: {runs} runs × {tags} tags × {points:,} points…")
    rng = np.random.default_rng(20)
    steps = np.arange(points, dtype=np.int64)
    for i in range(runs):
        run_id, run_dir = f"run{i:05d}", root / "bench" / f"r{i:05d}"
        write_localtrack_run(run_dir, run_id, steps, rng.random(points).astype(np.float32))
        for k in range(1, tags):
            table = scalar_table(run_id, steps, rng.random(points).astype(np.float32))
            for name, column in (("tag", [f"{TAG}_{k}"] * points), ("seq", np.full(points, k))):
                j = table.schema.get_field_index(name)
                table = table.set_column(j, table.schema.field(j), pa.array(column))
            publish(run_dir, "scalars", SegmentName("0123abcd", k, k), table)
        w = SummaryWriter(run_dir)
        w.add_image("samples", rng.integers(0, 256, (3, 64, 64), dtype=np.uint8), 0)
        w.add_hparams({"lr": 10.0 ** -(1 + i % 4), "seed": i}, {"hp/score": float(rng.random())})
        w.close()
    out = base / "report" / "report.html"
    cmd = [*localtrack_cli(), "ui", "--root", str(root), "--export", str(out)]
    import resource

    took, cpu = [], []
    for _ in range(max(1, min(args.repeat, 3))):
        t, used = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, check=True, capture_output=True)
        took.append(time.perf_counter() - t)
        now = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime)
    size = out.stat().st_size
    url = out.resolve().as_uri()
    context = browser.chromium.new_context(viewport=VIEWPORT, offline=True)
    context.route(  # the file itself only: anything else is counted and refused
        "**/*",
        lambda r: (
            r.continue_()
            if r.request.url == url
            else (browser.blocked["localtrack"].append(r.request.url), r.abort())
        ),
    )
    page = context.new_page()
    t = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("body[data-state=ready]", timeout=120_000)
    opened = time.perf_counter() - t
    drawn = page.locator("[data-testid=report-chart][data-state=drawn]").count()
    close_page(page)
    rows.append(
        Row(
            f"`localtrack ui --export` of a {runs}-run report ({tags} tags × {points:,} points "
            "per run, hparams, an image each)",
            "≤ 5 s, file ≤ 5 MB",
            f"{secs(statistics.median(took))}, {size / 1e6:.2f} MB",
            note=f"whole command, median of {len(took)} (CPU {secs(statistics.median(cpu))}); "
            "opened offline in Chromium, "
            f"{drawn} charts drawn in {secs(opened)}",
        )
    )
    shutil.rmtree(base / "report", ignore_errors=True)


SECTIONS = (*SECTIONS, "report")


def section_embeddings(
    args: argparse.Namespace, base: Path, browser: Browser, rows: list[Row]
) -> None:
    """The Embeddings view's PCA of 10,000 × 128 points: numpy in-process, the server's first
    answer per tag (nothing cached: a tag not asked before), and view opened → points drawn."""
    from localtrack import SummaryWriter
    from localtrack._ui.views._pca import pca

    n, d, tags = 10_000, 128, (2 if args.quick else 5)
    root = base / "embeddings" / "lt"
    rng = np.random.default_rng(11)
    writer = SummaryWriter(root / "bench" / "embeddings")
    mats = [rng.standard_normal((n, d)).astype(np.float32) for _ in range(tags)]
    for i, mat in enumerate(mats):
        labels = [str(j % 10) for j in range(n)]
        writer.add_embedding(mat, labels, tag=f"emb{i}")
    writer.close()
    alone = []
    for mat in mats:
        t = time.perf_counter()
        pca(mat, 3)
        alone.append(time.perf_counter() - t)
    with localtrack_ui(root) as server:
        runs = json.loads(server.get("/api/runs")[1])["runs"]
        run = runs[0]["run_id"]
        served = [
            timed_cpu(server, "/api/embeddings/projection", run=run, tag=f"emb{i}", dims=3)
            for i in range(1, tags)
        ]
        drawn = f"[data-testid=emb-canvas][data-state=drawn][data-points='{n}']"
        query = f"view=embeddings&emb_tag=emb0&emb_run={run}&emb_dims=3"
        page, seen = open_view(browser, server, query, {"drawn": drawn})
        close_page(page)
    rows.append(
        Row(
            f"embeddings PCA, {n:,} × {d} (3 components)",
            "≤ 1 s",
            f"numpy {secs(statistics.median(alone))}; server's first answer median "
            f"{secs(statistics.median(w for w, _ in served))} (CPU "
            f"{secs(statistics.median(c for _, c in served))}); view opened → {n:,} points "
            f"drawn {secs(seen['drawn'])}",
            note=f"median of {len(alone)} matrices; the server reads the row, centres, "
            "covariance eigh, float64 coordinates (arrays-v1); page time from navigation",
        )
    )
    shutil.rmtree(base / "embeddings", ignore_errors=True)


SECTIONS = (*SECTIONS, "embeddings")

if __name__ == "__main__":
    sys.exit(main())
