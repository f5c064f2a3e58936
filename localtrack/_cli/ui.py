"""`localtrack ui`: serve the dashboard over the runs root until Ctrl-C."""

from __future__ import annotations

import argparse
import errno
import importlib.abc
import sys
import threading

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
    p.set_defaults(run=run)


class _WithoutPandas(importlib.abc.MetaPathFinder):
    """Refuses `import pandas` in the dashboard's own process: DuckDB's `register` imports it
    only to check an object's type (40 MB of memory), and nothing the server does needs it."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def lean_process() -> None:
    """Memory settings for a process that only serves the dashboard: no pandas (see above),
    and Arrow allocating from the system allocator, which returns freed answer buffers
    (Arrow's default mimalloc pool keeps them: about 15 MB more at rest)."""
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _WithoutPandas())
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())


def run(args: argparse.Namespace) -> int:
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
