"""The dashboard's security model in a real browser, against the real server and real stores.

Every store here is written by the real writer (`localtrack.init`, `SummaryWriter`). Hostile
names render as text, the page reaches no other host, the token gates every URL, no path
leads outside the package's static folder, and a browsing session leaves the store
byte-for-byte as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

import localtrack

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>window.__pwned=1</script>"
HOSTILE = (IMG, SCRIPT)
# Recorded before any page script runs: a CSP violation means the page tried to run or load
# something it must not (the CSP would hide an innerHTML injection from the __pwned check).
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


def css_string(text: str) -> str:
    """`text` as a double-quoted CSS string, for attribute selectors."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def chart(tag: str) -> str:
    return f"[data-testid=chart][data-tag={css_string(tag)}]"


def without_token(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "token"]
    return urlunsplit(parts._replace(query=urlencode(query)))


def token_of(url: str) -> str:
    return dict(parse_qsl(urlsplit(url).query))["token"]


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def with_params(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def write_hostile_store(root: Path) -> dict[str, str]:
    """Two finished runs whose names, tags, config, summary and texts are HTML; name → run id."""
    run = localtrack.init(
        project="xss",
        name=SCRIPT,
        id="hostile1",
        config={"payload": IMG, SCRIPT: SCRIPT, "nested": {IMG: 1}},
        dir=root,
    )
    for step in range(20):
        run.log({IMG: float(step), SCRIPT: float(-step)}, step=step)
    run.summary[IMG] = SCRIPT
    run.finish()
    # A run named by its folder, as TensorBoard's users name runs.
    writer = localtrack.SummaryWriter(root / "tb" / IMG)
    for step in range(20):
        writer.add_scalar(IMG, step * 0.5, step)
        writer.add_scalar(SCRIPT, step * 2.0, step)
    writer.add_text(IMG, SCRIPT, 0)
    writer.add_text(SCRIPT, IMG, 0)
    writer.close()
    rows = localtrack.sql("SELECT name, run_id FROM runs", root).fetchall()
    return {name: run_id for name, run_id in rows}


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "runs"
    return root, write_hostile_store(root)


def open_dashboard(page: Any, url: str) -> None:
    page.add_init_script(WATCH_CSP)
    response = page.goto(url)
    assert response is not None and response.status == 200, response and response.status
    page.wait_for_selector("[data-testid=runs-panel]")


def wait_drawn(page: Any, tags: tuple[str, ...]) -> None:
    """Wait until each tag's chart is drawn; charts are drawn when on screen, so scroll."""
    for tag in tags:
        page.locator(chart(tag)).scroll_into_view_if_needed()
        page.wait_for_selector(f"{chart(tag)}[data-state=drawn]", state="attached")


def assert_nothing_ran(page: Any, dialogs: list[str]) -> None:
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    assert dialogs == []
    assert page.evaluate("() => window.__csp") == []
    # Nothing the store holds became an element: no <img src=x>, no inline script.
    assert page.locator("img[src=x]").count() == 0
    assert page.evaluate("() => [...document.scripts].filter(s => !s.src).length") == 0


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["csp", "without-csp"])
def test_hostile_names_show_as_text_and_run_nothing(
    ui: Any,
    new_page: Any,
    dialogs: list[str],
    screenshot: Any,
    hostile: tuple[Path, dict[str, str]],
    bypass_csp: bool,
) -> None:
    # Without the CSP too: the page itself must put store values in text nodes; the CSP is the
    # second wall, not the only one.
    root, ids = hostile
    page = new_page(bypass_csp=bypass_csp)
    open_dashboard(page, ui(root).url)
    for name, run_id in ids.items():
        row = page.locator(f"[data-testid=run-row][data-run-id={css_string(run_id)}]")
        assert row.locator("[data-testid=run-name]").text_content() == name
    wait_drawn(page, HOSTILE)
    text = page.locator("body").inner_text()
    assert IMG in text and SCRIPT in text
    for tag in HOSTILE:
        assert tag in page.locator(chart(tag)).inner_text()
    assert_nothing_ran(page, dialogs)
    if not bypass_csp:
        screenshot(page, "security-hostile-scalars")

    # The run page shows the config, summary and scalar tags, as text.
    page.goto(with_params(page.url, view="run", run=ids[SCRIPT]))
    page.wait_for_selector("[data-testid=run-page]")
    config = page.locator("[data-testid=run-config]").inner_text()
    assert IMG in config and SCRIPT in config
    assert SCRIPT in page.locator("[data-testid=run-summary]").inner_text()
    scalars = page.locator("[data-testid=run-scalars]").inner_text()
    assert IMG in scalars and SCRIPT in scalars
    assert SCRIPT in page.locator("[data-testid=run-page]").inner_text()
    assert_nothing_ran(page, dialogs)
    if not bypass_csp:
        screenshot(page, "security-hostile-run-page")


def test_browsing_reaches_no_other_host(
    ui: Any, page: Any, blocked_requests: list[str], tmp_path: Path
) -> None:
    root = tmp_path / "runs"
    write_hostile_store(root)
    for i in range(3):
        with localtrack.SummaryWriter(root / "plain" / f"r{i}") as writer:
            for step in range(200):
                writer.add_scalar("Loss/train", 1.0 / (step + 1) + i, step)
                writer.add_scalar("Loss/test", 2.0 / (step + 1) + i, step)
    handle = ui(root)
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    open_dashboard(page, handle.url)
    rows = page.locator("[data-testid=run-row] input[type=checkbox]")
    for i in range(rows.count()):
        if not rows.nth(i).is_checked():
            rows.nth(i).check()
    wait_drawn(page, ("Loss/train", "Loss/test", *HOSTILE))
    page.select_option("[data-testid=x-axis]", "wall")
    page.locator("[data-testid=log-y]").check()
    page.locator("[data-testid=smoothing]").fill("0.9")
    wait_drawn(page, ("Loss/train",))
    page.locator("[data-testid=run-name]").first.click()
    page.wait_for_selector("[data-testid=run-page]")
    assert blocked_requests == []
    assert any("/api/series" in url for url in seen), seen
    assert {urlsplit(url).hostname for url in seen if url.startswith("http")} == {"127.0.0.1"}


def test_guard_catches_a_request_to_another_host(
    page: Any, blocked_requests: list[str], page_errors: list[str]
) -> None:
    # The offline check above is only worth something if the guard sees such a request.
    with page.expect_event("requestfailed"):
        page.goto("data:text/html,<img src='http://example.com/x.png'>")
    assert blocked_requests == ["http://example.com/x.png"]
    blocked_requests.clear()


def test_token_is_required_and_leaves_the_address_bar(
    ui: Any, new_page: Any, tmp_path: Path
) -> None:
    root = tmp_path / "runs"
    write_hostile_store(root)
    handle = ui(root)
    bare = without_token(handle.url)
    assert bare != handle.url

    page = new_page()
    response = page.goto(bare)
    assert response is not None and response.status == 401
    text = page.locator("body").inner_text()
    assert "printed" in text and "localtrack ui" in text, text
    assert page.goto(origin(handle.url) + "/api/runs").status == 401
    wrong = with_params(bare, token="0" * len(token_of(handle.url)))
    assert page.goto(wrong).status == 401

    page = new_page()
    response = page.goto(handle.url)
    assert response is not None and response.status == 200
    first = response.request.redirected_from
    assert first is not None and first.response().status == 302
    assert "token" not in page.url and token_of(handle.url) not in page.url
    page.wait_for_selector("[data-testid=runs-panel]")
    # The cookie is HttpOnly: no script of the page can read the token.
    assert token_of(handle.url) not in page.evaluate("() => document.cookie")
    page.reload()
    page.wait_for_selector("[data-testid=runs-panel]")
    answer = page.goto(origin(handle.url) + "/api/runs")
    assert answer.status == 200 and json.loads(answer.text())["runs"]


@contextlib.contextmanager
def cli_ui(root: Path, *extra: str) -> Iterator[str]:
    code = "import sys; from localtrack._cli.main import main; sys.exit(main(sys.argv[1:]))"
    args = [sys.executable, "-c", code, "ui", "--root", str(root), "--port", "0", *extra]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            found = re.search(r"http://\S+", line)
            assert found, f"no URL in {line!r}"
            yield found.group(0)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.mark.parametrize("no_token", [False, True], ids=["default", "--no-token"])
def test_no_token_only_when_asked(new_page: Any, tmp_path: Path, no_token: bool) -> None:
    root = tmp_path / "runs"
    write_hostile_store(root)
    with cli_ui(root, *(["--no-token"] if no_token else [])) as url:
        assert ("token=" in url) is not no_token
        page = new_page()
        response = page.goto(without_token(url))
        assert response is not None
        assert response.status == (200 if no_token else 401)
        if no_token:
            page.wait_for_selector("[data-testid=runs-panel]")
        page.close()  # before the server stops: the page's own fetches would fail mid-load


# Each goes through the browser's own URL handling (it folds `..` and `%2e%2e`, turns `\` into
# `/`); the server must answer 404 to whatever arrives.
TRAVERSALS = [
    "/static/../../etc/passwd",
    "/static/%2e%2e/%2e%2e/etc/passwd",
    "/static/..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/static/..%2f__init__.py",
    "/static/..%2fm4.py",
    "/static/%2e%2e%2f%2e%2e%2fui.py",
    "/static/..%5c__init__.py",
    "/static/..\\..\\__init__.py",
    "/static/%252e%252e/__init__.py",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/vendor/uplot/..%2f..%2f..%2f__init__.py",
    "/static/%00../__init__.py",
    "/etc/passwd",
    "/../../../../etc/passwd",
    "/localtrack-run.json",
    "/xss/hostile1/localtrack-run.json",
]


def test_no_path_leads_outside_the_static_folder(ui: Any, page: Any, tmp_path: Path) -> None:
    root = tmp_path / "runs"
    write_hostile_store(root)
    (tmp_path / "secret.txt").write_text("outside the root")
    handle = ui(root)
    open_dashboard(page, handle.url)  # the cookie is set: a 404 is not a 401 in disguise
    base = origin(handle.url)
    for path in [
        *TRAVERSALS,
        f"/static/..%2f..%2f..%2f..%2f..%2f..%2f..%2f..{tmp_path}/secret.txt",
    ]:
        response = page.goto(base + path)
        assert response is not None
        assert response.status == 404, (path, response.status, response.url)
        body = response.text()
        assert "root:" not in body and "outside the root" not in body and "import" not in body
    for bad in ("../../etc", "..%2f..%2fetc", "/etc/passwd", "hostile1/../x"):
        response = page.goto(f"{base}/api/run?id={bad}")
        assert response is not None and response.status in (400, 404), (bad, response.status)

    # Paths a browser never sends as they are: the same server over a raw connection.
    parts = urlsplit(handle.url)
    for path in ("/static/../../etc/passwd", "/static/../__init__.py", "/static/..\\__init__.py"):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            conn.request("GET", path, headers={"Authorization": f"token {token_of(handle.url)}"})
            answer = conn.getresponse()
            assert answer.status == 404, (path, answer.status)
            assert b"import" not in answer.read()
        finally:
            conn.close()


def store_fingerprint(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file and folder under root: (size, mtime_ns, sha256) by relative path."""
    seen: dict[str, tuple[int, int, str]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        seen[str(path.relative_to(root))] = (info.st_size, info.st_mtime_ns, digest)
    return seen


def test_a_browsing_session_leaves_the_store_unchanged(ui: Any, page: Any, tmp_path: Path) -> None:
    root = tmp_path / "runs"
    write_hostile_store(root)
    with localtrack.SummaryWriter(root / "plain" / "big") as writer:
        for step in range(20_000):
            writer.add_scalar("Loss/train", (step % 97) * 0.01, step)
    before = store_fingerprint(root)
    handle = ui(root)
    open_dashboard(page, handle.url)
    wait_drawn(page, ("Loss/train", *HOSTILE))
    over = page.locator(chart("Loss/train")).locator(".u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    with page.expect_response(lambda r: "/api/series" in r.url and "xmin=" in r.url):
        page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] / 2, steps=5)
        page.mouse.up()
    with page.expect_download() as download:
        page.locator(chart("Loss/train")).locator("[data-testid=download-csv]").click()
    assert download.value.path().stat().st_size > 0
    page.goto(with_params(page.url, view="run", run="hostile1"))
    page.wait_for_selector("[data-testid=run-page]")
    handle.stop()
    assert store_fingerprint(root) == before
