"""`localtrack.ui.serve()`: the dashboard over a runs root, from Python (docs/UI.md).

    handle = localtrack.ui.serve("logs", port=0)
    handle.url          # http://127.0.0.1:PORT/?token=...
    handle.stop()

Listening starts before `serve` returns; the first snapshot of the store is built in the
background and API requests wait for it. The server only reads the store.
"""

from __future__ import annotations

import ipaddress
import os
import threading
import webbrowser
from pathlib import Path
from types import TracebackType

from localtrack._store.layout import runs_root
from localtrack._ui import auth
from localtrack._ui.runs import prepare
from localtrack._ui.server import DashboardHTTPServer
from localtrack._ui.snapshot import Snapshots

__all__ = ["Dashboard", "is_loopback", "serve"]


def is_loopback(host: str) -> bool:
    """Whether `host` reaches only this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    bare = host.strip("[]")
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        return host
    if ip.is_unspecified:
        return "[::1]" if ip.version == 6 else "127.0.0.1"
    return f"[{bare}]" if ip.version == 6 else bare


class Dashboard:
    """A running dashboard: `.url` (with the token), `.port`, `.token`, `.root`, `.stop()`."""

    def __init__(self, httpd: DashboardHTTPServer, snapshots: Snapshots, root: Path) -> None:
        self._httpd = httpd
        self._snapshots = snapshots
        self.root = root
        self.host = httpd.bound_host
        self.port: int = httpd.server_address[1]
        self.token = httpd.token
        base = f"http://{_url_host(self.host)}:{self.port}/"
        self.url = base + (f"?token={self.token}" if self.token else "")
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="localtrack-ui"
        )
        self._thread.daemon = True
        self._stopped = False

    def _start(self) -> None:
        self._snapshots.start()
        self._thread.start()

    def stop(self) -> None:
        """Stop listening, close open connections and the store's snapshot (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections()
        self._snapshots.stop()

    @property
    def running(self) -> bool:
        return not self._stopped

    def __enter__(self) -> Dashboard:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<localtrack.ui.Dashboard {state} {self.url.partition('?')[0]} root={self.root}>"


def serve(
    root: str | os.PathLike[str] | None = None,
    port: int = 6006,
    host: str = "127.0.0.1",
    open_browser: bool = False,
    token: bool | str | None = True,
) -> Dashboard:
    """Serve the dashboard of `root` (default $LOCALTRACK_DIR, then ./runs) on host:port.

    `port=0` picks a free port. `token=True` makes a random token, a string is used as the
    token, None or False turns it off. Raises OSError when the port is taken.
    """
    base = runs_root(root).absolute()
    if token is True:
        secret: str | None = auth.new_token()
    elif token is False or token is None:
        secret = None
    else:
        secret = str(token)
    snapshots = Snapshots(base, prepare)
    httpd = DashboardHTTPServer(host, port, snapshots, secret)
    handle = Dashboard(httpd, snapshots, base)
    handle._start()
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(handle.url,), daemon=True).start()
    return handle
