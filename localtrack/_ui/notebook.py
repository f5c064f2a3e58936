"""`%load_ext localtrack` and `%localtrack --logdir DIR [--port N]`: the dashboard in an IFrame.

One server per runs root and process, started on first use and reused by later calls (as
TensorBoard's notebook magic reuses its server), stopped when the kernel exits.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shlex
import threading
from pathlib import Path
from typing import Any

from localtrack._store.layout import runs_root

_SERVERS: dict[Path, Any] = {}
_LOCK = threading.Lock()
IFRAME_HEIGHT = 800


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="%localtrack", add_help=False, exit_on_error=False)
    p.add_argument("--logdir", "--root", dest="logdir", default=None)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--height", type=int, default=IFRAME_HEIGHT)
    return p


def dashboard_for(root: str | os.PathLike[str] | None, port: int = 0) -> Any:
    """The running dashboard of `root`, started now if there is none yet."""
    from localtrack import ui

    base = runs_root(root).absolute()
    with _LOCK:
        handle = _SERVERS.get(base)
        if handle is None or not handle.running:
            handle = ui.serve(base, port=port)
            _SERVERS[base] = handle
        return handle


def stop_all() -> None:
    with _LOCK:
        handles = list(_SERVERS.values())
        _SERVERS.clear()
    for handle in handles:
        handle.stop()


def iframe_url(url: str) -> str:
    """The dashboard's URL as the notebook page should frame it: through `localhost`, the
    host Jupyter's own URL usually names, so the token cookie is same-site inside the frame
    (browsers keep SameSite=Strict cookies from frames of another site)."""
    return url.replace("http://127.0.0.1:", "http://localhost:", 1)


def localtrack_magic(line: str) -> Any:
    """%localtrack --logdir DIR [--port N] [--height PX]: show the dashboard of DIR."""
    from IPython.display import IFrame, display

    try:
        args = _parser().parse_args(shlex.split(line))
    except (argparse.ArgumentError, SystemExit) as e:
        raise ValueError(
            f"%localtrack: {e}; usage: %localtrack --logdir DIR [--port N] [--height PX]"
        ) from None
    handle = dashboard_for(args.logdir, args.port)
    display(IFrame(iframe_url(handle.url), width="100%", height=args.height))
    return None


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magic_function(localtrack_magic, magic_kind="line", magic_name="localtrack")


atexit.register(stop_all)
