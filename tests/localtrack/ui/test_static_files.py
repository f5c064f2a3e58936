"""Static files: only inside the folder, gzip and strong ETags."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from localtrack._ui.static_files import (
    STATIC_DIR,
    StaticFiles,
    accepts_gzip,
    etag_matches,
    safe_relative,
)


@pytest.mark.parametrize(
    "raw",
    [
        "../../etc/passwd",
        "..%2f..%2fetc%2fpasswd",
        "%2e%2e/%2e%2e/etc/passwd",
        "%2E%2E/secret",
        "js/../../secret",
        "/etc/passwd",
        "%2fetc%2fpasswd",
        "js\\..\\..\\secret",
        "js%5c..%5csecret",
        "app.js%00.png",
        "app.js\0",
        "",
        "js//app.js",
        "./app.js",
    ],
)
def test_escaping_paths_are_refused(raw: str) -> None:
    assert safe_relative(raw) is None


def test_plain_paths_pass() -> None:
    assert safe_relative("js/app.js") == "js/app.js"
    assert safe_relative("vendor/uplot/uPlot.esm.js") == "vendor/uplot/uPlot.esm.js"


def test_symlink_out_of_the_folder_is_not_served(tmp_path: Path) -> None:
    base = tmp_path / "static"
    base.mkdir()
    (tmp_path / "secret.txt").write_text("no")
    (base / "link.txt").symlink_to(tmp_path / "secret.txt")
    (base / "ok.js").write_text("export const a = 1;\n" * 100)
    files = StaticFiles(base)
    assert files.get("link.txt") is None
    found = files.get("ok.js")
    assert found is not None and found.content_type.startswith("text/javascript")
    assert found.gzipped is not None and gzip.decompress(found.gzipped) == found.body
    assert files.get("missing.js") is None


def test_etag_changes_with_the_bytes(tmp_path: Path) -> None:
    base = tmp_path / "static"
    base.mkdir()
    (base / "a.css").write_text("a{}")
    files = StaticFiles(base)
    first = files.get("a.css")
    (base / "a.css").write_text("b{color:red}")
    second = files.get("a.css")
    assert first is not None and second is not None
    assert first.etag != second.etag and first.etag.startswith('"')


def test_missing_index_falls_back_to_a_built_in_page(tmp_path: Path) -> None:
    page = StaticFiles(tmp_path).index()
    assert b"localtrack" in page.body and page.content_type.startswith("text/html")


def test_accept_encoding_and_if_none_match() -> None:
    assert accepts_gzip("gzip, deflate, br")
    assert accepts_gzip("br;q=1.0, gzip;q=0.5")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip(None)
    assert etag_matches('"abc"', '"abc"')
    assert etag_matches('W/"abc", "x"', '"abc"')
    assert not etag_matches('"abd"', '"abc"')
    assert not etag_matches(None, '"abc"')


def _imports(module: Path) -> set[Path]:
    found = re.findall(r"^import .*? from \"(\.[^\"]+)\";", module.read_text(), re.MULTILINE)
    return {(module.parent / rel).resolve() for rel in found}


def test_index_preloads_every_module_main_imports() -> None:
    """The page fetches its whole module graph at once (no chain of round trips)."""
    static = STATIC_DIR.resolve()
    seen: set[Path] = set()
    todo = [static / "js" / "main.js"]
    while todo:
        for dep in _imports(todo.pop()) - seen:
            seen.add(dep)
            todo.append(dep)
    html = (static / "index.html").read_text()
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/static/([^"]+)">', html))
    assert preloaded == {str(p.relative_to(static)) for p in seen}
