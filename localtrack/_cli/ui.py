"""`localtrack ui`: serve the dashboard over the runs root until Ctrl-C, or with `--export`
write one self-contained HTML report of some runs (localtrack/_ui/report/)."""

from __future__ import annotations

import argparse
import errno
import importlib.abc
import sys
import threading
import time
from pathlib import Path

from localtrack._store.layout import runs_root


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "ui",
        help="serve the dashboard (runs, charts of every scalar, live) on a local port",
        description="Serve the dashboard over the runs root (see docs/UI.md); Ctrl-C stops it.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=6006, help="port (default 6006; 0 = any free)")
    p.add_argument(
        "--no-token", action="store_true", help="serve without a token (anyone reaching the port)"
    )
    p.add_argument("--open", action="store_true", help="open the page in a browser")
    p.add_argument(
        "--export",
        metavar="FILE.html",
        type=Path,
        help="write one self-contained HTML report (scalars charts, hparams, last images) of "
        "the runs named, or of every run, and exit; it opens with no server and no network",
    )
    p.add_argument(
        "runs",
        nargs="*",
        metavar="RUN",
        help="with --export: the runs to report (id, name, path or id prefix); default: all",
    )
    p.add_argument(
        "--tags", metavar="REGEX", help="with --export: only tags matching (case-insensitive)"
    )
    p.add_argument(
        "--latest", type=int, metavar="N", help="with --export and no RUN: the N latest runs"
    )
    p.add_argument(
        "--every-stream",
        action="store_true",
        help="with --export: also histograms, texts, PR curves and meshes (as the sync "
        "daemon's per-run report)",
    )
    p.set_defaults(run=run)


class _WithoutPandas(importlib.abc.MetaPathFinder):
    """Refuses `import pandas` in the dashboard's own process: DuckDB's `register` imports it
    only to check an object's type (40 MB of memory), and nothing the server does needs it."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def lean_process() -> None:
    """Memory settings for a process that only serves the dashboard: no pandas (see above),
    Arrow allocating from the system allocator, which returns freed answer buffers (Arrow's
    default mimalloc pool keeps them: about 15 MB more at rest), and glibc's malloc kept to
    two arenas that give freed memory back (see _glibc_malloc_lean)."""
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _WithoutPandas())
    _glibc_malloc_lean()
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())


def _glibc_malloc_lean() -> None:
    """Each request thread and DuckDB worker would otherwise get a malloc arena of its own
    (up to 8 per core), each keeping the pages of the last answer it built: on a 10⁸-point
    store that is about 35 MB of peak RSS (scripts/bench_ui.py --sections big). The same as
    MALLOC_ARENA_MAX=2 MALLOC_TRIM_THRESHOLD_=0, set for this process only; a no-op off glibc."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        return
    if mallopt is None:
        return
    m_trim_threshold, m_arena_max = -1, -8  # glibc's malloc.h
    mallopt(m_arena_max, 2)
    mallopt(m_trim_threshold, 0)


def export(args: argparse.Namespace) -> int:
    """`--export FILE`: the report, with progress on stderr while it takes long."""
    from localtrack._ui.report.export import export_report

    started = time.monotonic()
    shown = [started]

    def progress(text: str) -> None:
        now = time.monotonic()
        if now - shown[0] >= 0.5 and now - started >= 1.0:
            print(f"localtrack ui --export: {text}", file=sys.stderr, flush=True)
            shown[0] = now

    if args.latest is not None and args.latest < 1:
        print("localtrack ui: error: --latest must be at least 1", file=sys.stderr)
        return 2
    got = export_report(
        runs_root(args.root),
        args.export,
        args.runs,
        tags=args.tags,
        latest=args.latest,
        every_stream=args.every_stream,
        progress=progress,
    )
    print(
        f"localtrack ui: wrote {args.export} ({got['bytes'] / 1e6:.2f} MB: {got['runs']} runs, "
        f"{got['charts']} charts, {got['images']} images) in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


def run(args: argparse.Namespace) -> int:
    if args.export is not None:
        return export(args)
    if args.runs or args.tags or args.latest or args.every_stream:
        print(
            "localtrack ui: error: RUN, --tags, --latest and --every-stream go with "
            "--export FILE.html (the dashboard itself selects runs in the page)",
            file=sys.stderr,
        )
        return 2
    lean_process()
    from localtrack import ui

    if not ui.is_loopback(args.host):
        print(
            f"localtrack ui: warning: listening on {args.host}: everyone who can reach this "
            "machine can reach the dashboard" + ("" if args.no_token else " and try the token"),
            file=sys.stderr,
        )
    try:
        handle = ui.serve(
            runs_root(args.root),
            port=args.port,
            host=args.host,
            open_browser=args.open,
            token=not args.no_token,
        )
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            print(
                f"localtrack ui: error: port {args.port} is in use; pick another with --port "
                "(--port 0 takes any free one)",
                file=sys.stderr,
            )
            return 1
        raise
    print(f"localtrack ui: {handle.url}   (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
    return 0
