"""Browser tests of `localtrack ui`: Debian's Chromium driven headless by Playwright.

Fixtures (all function-scoped unless said otherwise):

- ``browser`` (session): Playwright's Chromium from ``/usr/bin/chromium`` (never a
  downloaded browser), headless, with the flags of docs/UI.md. ``launch()`` gives it a fresh
  temporary ``--user-data-dir`` of its own, deleted when the session ends. Skips only when
  ``/usr/bin/chromium`` is missing (``scripts/test`` installs it).
- ``page``: ``new_page()``, the page most tests want.
- ``new_page``: ``new_page(**context_options)`` opens a new context (1280×800 unless
  ``viewport=`` says otherwise; any option of ``Browser.new_context``, e.g.
  ``bypass_csp=True``) and a page in it. Every request is routed: http(s) or ws to
  ``127.0.0.1``, ``localhost`` or ``[::1]``, and ``data:`` / ``blob:`` URLs go through; any
  other request is aborted and its URL appended to ``blocked_requests``. At teardown the test
  fails if any request was blocked, if a page raised an uncaught error, or if a dialog
  (``alert``, ``confirm``, ``prompt``) opened (dialogs are dismissed at once, and recorded).
- ``blocked_requests``: the URLs the page tried to reach off loopback (the list that
  ``page`` fills; also ``page.blocked``).
- ``page_errors``: ``"pageerror: …"`` for each uncaught exception and ``"console: …"`` for
  each console message of type error, in order. Console errors are only recorded (a 401 page
  logs one); a test that expects an uncaught error clears the list before teardown.
- ``dialogs``: the message of each dialog the page opened.
- ``ui``: ``ui(root, **kw)`` starts ``localtrack.ui.serve(root=root, port=0, **kw)`` (the
  public API) and returns its handle (``.url`` carries ``?token=…``); every handle is
  stopped at teardown.
- ``screenshot``: ``screenshot(page, name)`` saves ``build/screenshots/<name>.png`` (ignored by
  git) and returns its path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOTS = Path(__file__).resolve().parents[3] / "build" / "screenshots"


def is_allowed(url: str) -> bool:
    """True for a URL the dashboard may load: loopback over http(s)/ws, or data:/blob:."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in LOOPBACK


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: `apt-get install chromium` (scripts/test does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # launch() makes its own fresh, temporary --user-data-dir (it refuses one in args).
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def blocked_requests() -> list[str]:
    return []


@pytest.fixture
def page_errors() -> list[str]:
    return []


@pytest.fixture
def dialogs() -> list[str]:
    return []


@pytest.fixture
def new_page(
    browser: Any, blocked_requests: list[str], page_errors: list[str], dialogs: list[str]
) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def route(route: Any) -> None:
        url = route.request.url
        if is_allowed(url):
            route.continue_()
        else:
            blocked_requests.append(url)
            route.abort("blockedbyclient")

    def dialog(d: Any) -> None:
        dialogs.append(f"{d.type}: {d.message}")
        d.dismiss()

    def console(msg: Any) -> None:
        if msg.type == "error":
            page_errors.append(f"console: {msg.text}")

    def open_page(**context_options: Any) -> Any:
        context_options.setdefault("viewport", VIEWPORT)
        context = browser.new_context(**context_options)
        contexts.append(context)
        context.route("**/*", route)
        new = context.new_page()
        new.blocked = blocked_requests
        new.on("pageerror", lambda err: page_errors.append(f"pageerror: {err}"))
        new.on("console", console)
        new.on("dialog", dialog)
        return new

    try:
        yield open_page
    finally:
        for context in contexts:
            context.close()
    problems = [f"request off loopback blocked: {u}" for u in blocked_requests]
    problems += [e for e in page_errors if e.startswith("pageerror: ")]
    problems += [f"dialog opened: {d}" for d in dialogs]
    if problems:
        pytest.fail("the page misbehaved:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def page(new_page: Callable[..., Any]) -> Any:
    return new_page()


@pytest.fixture
def ui() -> Iterator[Callable[..., Any]]:
    from localtrack import ui as ui_module

    handles: list[Any] = []

    def start(root: Path | str, **kw: Any) -> Any:
        kw.setdefault("port", 0)
        handle = ui_module.serve(root=root, **kw)
        handles.append(handle)
        return handle

    try:
        yield start
    finally:
        for handle in reversed(handles):
            handle.stop()


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    def save(page: Any, name: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ValueError(f"screenshot name {name!r}: use letters, digits, '_', '-', '.'")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return save
