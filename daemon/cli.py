"""The `localtrack daemon` and `localtrack sync` commands (registered into localtrack's CLI).

    localtrack daemon [--root DIR]             sync forever: watch the root, upload what is new
    localtrack sync --once [--root DIR]        upload everything pending, then exit
    localtrack sync --status [--root DIR]      one line per run: synced, pending, or why not

The remote is `--uri` or $MLFLOW_TRACKING_URI; credentials come only from the environment
(MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN) and are never stored.
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import signal
import sys
import threading
import time
from typing import Any

from localtrack._store.layout import runs_root

from . import tls
from .log import EventLog
from .loop import Daemon, Options
from .report import report_all


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"needs a whole number of at least 1, got {text!r}")
    return n


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--root",
        default=argparse.SUPPRESS,
        help="runs root (default: $LOCALTRACK_DIR, else ./runs)",
    )
    p.add_argument("--uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI)")
    p.add_argument("--workers", type=int, default=4, help="runs uploaded in parallel (4)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request (30)")
    p.add_argument(
        "--backoff-max",
        type=float,
        default=60.0,
        help="longest wait, in seconds, between retries while the server is unreachable (60)",
    )
    p.add_argument(
        "--pipeline",
        type=int,
        default=2,
        help="log-batch requests of one run in flight at once (2: `mlflow server` runs 4 "
        "workers by default; 1 for a single-worker server; always 1 after a failure)",
    )
    p.add_argument(
        "--no-report",
        dest="report",
        action="store_false",
        help="do not upload each run's self-contained report as the artifact "
        "localtrack/report.html (its making costs 0.3-2 s of CPU per changed run)",
    )
    p.add_argument(
        "--concurrency",
        choices=("adaptive", "fixed"),
        default="adaptive",
        help="log-batch requests in flight over all runs: 'adaptive' (default) starts at 4 and "
        "follows the server (one more while latency stays flat; halved on 429, 5xx, timeouts "
        "and resets; cut when latency rises), up to --max-in-flight; 'fixed' keeps "
        "--max-in-flight (4) always, as before. Both wait out a Retry-After",
    )
    p.add_argument(
        "--max-in-flight",
        type=_positive,
        default=None,
        metavar="N",
        help="the most log-batch requests in flight over all runs (adaptive: 64; fixed: 4; "
        "MLflow holds two database connections per request, and 8 at once exhaust one server "
        "worker's default pool). --workers x --pipeline bounds it too",
    )
    p.add_argument(
        "--grace",
        type=float,
        default=60.0,
        help="seconds after a crashed run's last heartbeat before it is marked KILLED (60)",
    )


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `daemon` and `sync` subcommands; each sets `run(args) -> exit code`."""
    d = subparsers.add_parser(
        "daemon",
        help="upload runs to MLflow continuously",
        description="Watch the runs root and upload every run to the MLflow tracking server, "
        "exactly once, whenever it is reachable. Logs one JSON line per event on stderr.",
    )
    _common(d)
    d.add_argument("--rescan", type=float, default=30.0, help="seconds between full rescans (30)")
    d.add_argument("--log", help="append the event log to this file instead of stderr")
    d.set_defaults(run=cmd_daemon)
    s = subparsers.add_parser(
        "sync",
        help="upload runs to MLflow once, or show sync status",
        description="Upload what the MLflow server lacks (--once) or report per run what is "
        "synced, pending, or needs a person (--status).",
    )
    _common(s)
    mode = s.add_mutually_exclusive_group(required=True)
    mode.add_argument("--once", action="store_true", help="upload everything pending, then exit")
    mode.add_argument("--status", action="store_true", help="one line per run")
    s.set_defaults(run=cmd_sync)


def _uri(args: argparse.Namespace) -> str:
    uri = args.uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise SystemExit("localtrack: set MLFLOW_TRACKING_URI or pass --uri http://host:port")
    if not uri.startswith(("http://", "https://")):
        raise SystemExit(f"localtrack: sync needs an http(s) tracking server, got {uri!r}")
    return uri


def _options(args: argparse.Namespace, *, once: bool) -> Options:
    return Options(
        root=runs_root(getattr(args, "root", None)).absolute(),
        uri=_uri(args),
        workers=args.workers,
        rescan_s=getattr(args, "rescan", 30.0),
        grace_s=args.grace,
        timeout_s=args.timeout,
        pipeline=args.pipeline,
        report=args.report,
        concurrency=args.concurrency,
        max_in_flight=args.max_in_flight,
        backoff_max_s=args.backoff_max,
        once=once,
    )


def cmd_daemon(args: argparse.Namespace) -> int:
    opts = _options(args, once=False)
    log_file = open(args.log, "a", encoding="utf-8") if args.log else None  # noqa: SIM115
    daemon = Daemon(opts, log=EventLog(log_file))
    signal.signal(signal.SIGTERM, lambda *_: daemon.stop())
    signal.signal(signal.SIGINT, lambda *_: daemon.stop())
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1`: stacks on stderr
    try:
        return daemon.run()
    finally:
        if log_file is not None:
            log_file.close()


class _ProgressLine:
    """Points sent so far, on stderr, at most a few times a second."""

    def __init__(self) -> None:
        self.sent = 0
        self.runs: set[str] = set()
        self._shown = 0.0
        self._lock = threading.Lock()

    def __call__(self, run_id: str, points: int) -> None:
        with self._lock:
            self.sent += points
            self.runs.add(run_id)
            if time.monotonic() - self._shown >= 0.25:
                self._shown = time.monotonic()
                sys.stderr.write(f"\rsync: {self.sent} points sent from {len(self.runs)} runs")
                sys.stderr.flush()


def cmd_sync(args: argparse.Namespace) -> int:
    opts = _options(args, once=True)
    if args.status:
        reports = report_all(opts.root, opts.uri)
        for r in reports:
            print(r.line())
        if not reports:
            print(f"no runs under {opts.root}")
        return 1 if any(r.status == "needs a person" for r in reports) else 0
    if tls.insecure():
        sys.stderr.write(f"sync: warning: {tls.INSECURE_WARNING}\n")
    progress = _ProgressLine()
    log = EventLog(quiet=True)
    daemon = Daemon(opts, log=log, progress=progress)
    signal.signal(signal.SIGTERM, lambda *_: daemon.stop())
    code = daemon.run()
    sys.stderr.write(f"\rsync: {progress.sent} points sent from {len(progress.runs)} runs\n")
    for run_dir, holder in daemon.held():
        sys.stderr.write(
            f"sync: {run_dir}: another syncer holds it ({holder.describe()}) and uploads it; "
            "`localtrack sync --status` says when it is synced\n"
        )
    reports = report_all(opts.root, opts.uri)
    for r in reports:
        if r.status != "synced":
            sys.stderr.write(r.line() + "\n")
    if code == 0 and any(r.status == "needs a person" for r in reports):
        return 1
    if code == 0 and any(r.status == "retry later" for r in reports):
        return 2  # a failure this pass did not clear: never report success over it
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localtrack")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code
