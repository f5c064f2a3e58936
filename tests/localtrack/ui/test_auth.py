"""Token, cookie and Host checks as pure functions."""

from __future__ import annotations

import pytest

from localtrack._ui import auth

TOKEN = "s3cret"


@pytest.mark.parametrize(
    ("query", "cookie", "authorization", "ok"),
    [
        ("", None, None, False),
        ("token=s3cret", None, None, True),
        ("view=run&token=s3cret", None, None, True),
        ("token=wrong", None, None, False),
        ("", "localtrack_token=s3cret", None, True),
        ("", "other=1; localtrack_token=s3cret", None, True),
        ("", "localtrack_token=nope", None, False),
        ("", None, "token s3cret", True),
        ("", None, "Token  s3cret ", True),
        ("", None, "Bearer s3cret", False),
        ("", None, "token wrong", False),
        ("", 'bad"cookie', None, False),
    ],
)
def test_token_in_any_of_three_places(query, cookie, authorization, ok) -> None:
    assert auth.authorized(TOKEN, query, cookie, authorization) is ok


def test_no_token_means_open() -> None:
    assert auth.authorized(None, "", None, None)


def test_tokens_are_random_and_long() -> None:
    a, b = auth.new_token(), auth.new_token()
    assert a != b and len(a) == 48


def test_redirect_drops_only_the_token() -> None:
    assert auth.without_token("/", "token=abc") == "/"
    assert auth.without_token("/", "view=run&token=abc&run=x") == "/?view=run&run=x"


def test_cookie_is_http_only_strict() -> None:
    header = auth.set_cookie_header(TOKEN)
    assert header.startswith("localtrack_token=s3cret;")
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/" in header


@pytest.mark.parametrize(
    ("host", "bound", "ok"),
    [
        ("127.0.0.1:6006", "127.0.0.1", True),
        ("localhost:6006", "127.0.0.1", True),
        ("localhost", "127.0.0.1", True),
        ("[::1]:6006", "127.0.0.1", True),
        ("127.0.0.2:80", "127.0.0.1", True),
        ("evil.example:6006", "127.0.0.1", False),
        ("localhost.evil.example", "127.0.0.1", False),
        ("10.0.0.5:6006", "127.0.0.1", False),
        ("10.0.0.5:6006", "10.0.0.5", True),
        ("10.0.0.5:6006", "0.0.0.0", True),
        ("gpu-node:6006", "0.0.0.0", False),
        ("", "127.0.0.1", False),
        (None, "127.0.0.1", False),
    ],
)
def test_host_header(host, bound, ok) -> None:
    assert auth.host_allowed(host, bound) is ok


def test_security_headers_are_those_of_the_doc() -> None:
    headers = dict(auth.SECURITY_HEADERS)
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "connect-src 'self'" in csp and "object-src 'none'" in csp
