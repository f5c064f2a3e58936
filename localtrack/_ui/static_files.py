"""The page and its static files: only files inside the package's static/ folder, ever.

A request path is refused (None: 404) when its raw form holds `..`, an encoded dot or
slash, a backslash, a NUL or an empty segment, or when, resolved with symlinks, it leaves
the static folder. Files are read once per (size, mtime) and kept with their gzip form and
a strong ETag (a hash of the bytes).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

STATIC_DIR = Path(__file__).parent / "static"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".map": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    "": "text/plain; charset=utf-8",
}
COMPRESSIBLE = (".html", ".js", ".mjs", ".css", ".json", ".map", ".svg", ".txt", ".md", "")

FALLBACK_PAGE = (
    b"<!doctype html><meta charset=utf-8><title>localtrack</title>"
    b"<p>localtrack ui is running, but this copy has no page (static/index.html is missing). "
    b"The HTTP API answers under /api/.</p>\n"
)


@dataclass(frozen=True)
class StaticFile:
    """One file's bytes, its gzip form (None when not worth it), ETag and content type."""

    body: bytes
    gzipped: bytes | None
    etag: str
    content_type: str


def safe_relative(raw: str) -> str | None:
    """The relative path a raw `/static/…` remainder names, or None when it could escape."""
    lowered = raw.lower()
    if not raw or "\\" in raw or "\0" in raw or "%00" in lowered or "%2e" in lowered:
        return None
    if "%2f" in lowered or "%5c" in lowered or raw.startswith("/"):
        return None
    path = unquote(raw)
    if "\\" in path or "\0" in path or path.startswith("/"):
        return None
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return None
    return path


class StaticFiles:
    """Files under `base`, served by relative path (thread-safe cache)."""

    def __init__(self, base: Path = STATIC_DIR) -> None:
        self.base = base.resolve()
        self._cache: dict[Path, tuple[int, int, StaticFile]] = {}
        self._lock = threading.Lock()

    def resolve(self, relative: str) -> Path | None:
        """The file `relative` names inside the base folder, or None."""
        target = (self.base / relative).resolve()
        try:
            target.relative_to(self.base)
        except ValueError:
            return None
        return target if target.is_file() else None

    def get(self, raw: str) -> StaticFile | None:
        """The file a raw request remainder (after `/static/`) names, or None (404)."""
        relative = safe_relative(raw)
        if relative is None:
            return None
        path = self.resolve(relative)
        return None if path is None else self.load(path)

    def index(self) -> StaticFile:
        path = self.resolve("index.html")
        if path is None:
            return _make(FALLBACK_PAGE, ".html")
        return self.load(path)

    def load(self, path: Path) -> StaticFile:
        try:
            st = os.stat(path)
        except OSError:
            return _make(FALLBACK_PAGE, ".html")
        with self._lock:
            hit = self._cache.get(path)
        if hit is not None and hit[:2] == (st.st_size, st.st_mtime_ns):
            return hit[2]
        made = _make(path.read_bytes(), path.suffix.lower())
        with self._lock:
            self._cache[path] = (st.st_size, st.st_mtime_ns, made)
        return made


def _make(body: bytes, suffix: str) -> StaticFile:
    content_type = CONTENT_TYPES.get(suffix, "application/octet-stream")
    gz = None
    if suffix in COMPRESSIBLE and len(body) > 256:
        gz = gzip.compress(body, compresslevel=6, mtime=0)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return StaticFile(body, gz, etag, content_type)


def accepts_gzip(accept_encoding: str | None) -> bool:
    if not accept_encoding:
        return False
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        key, _, value = params.strip().partition("=")
        try:
            q = float(value) if key.strip().lower() == "q" else 1.0
        except ValueError:
            q = 1.0
        if name.strip().lower() in ("gzip", "*") and q > 0:
            return True
    return False


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether If-None-Match names `etag` (weak comparison, as RFC 9110 says for GET)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(t.strip().removeprefix("W/") == bare for t in if_none_match.split(","))
