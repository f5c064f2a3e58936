"""Who may talk to the dashboard: token checks, the Host check, and the security headers.

Pure functions of request parts, so they are tested without a socket. The token travels as
`?token=T`, a `localtrack_token` cookie, or `Authorization: token T`, and is compared in
constant time. The Host header must name a loopback address or the bound one (no DNS
rebinding); when bound to every interface (0.0.0.0, ::), any IP literal is accepted too, a
DNS name never is unless it is `localhost`.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qsl

COOKIE = "localtrack_token"

SECURITY_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'self' http://localhost:* http://127.0.0.1:*",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)
"""Sent with every answer (docs/UI.md, Security model)."""

UNAUTHORIZED_TEXT = (
    "localtrack ui: this page needs the token. Open the URL that `localtrack ui` printed "
    "(it ends in ?token=...).\n"
)


def new_token() -> str:
    return secrets.token_hex(24)


def same(given: str | None, token: str) -> bool:
    """Whether `given` is the token (constant time)."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), token.encode())


def query_token(query: str) -> str | None:
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "token":
            return value
    return None


def cookie_token(cookie_header: str | None) -> str | None:
    if not cookie_header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie_header)
    except CookieError:
        return None
    morsel = jar.get(COOKIE)
    return None if morsel is None else morsel.value


def header_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    return value.strip() if scheme.lower() == "token" else None


def authorized(
    token: str | None, query: str, cookie_header: str | None, authorization: str | None
) -> bool:
    """Whether a request carries the token in any of its three places (always, without one)."""
    if token is None:
        return True
    return any(
        same(given, token)
        for given in (
            query_token(query),
            cookie_token(cookie_header),
            header_token(authorization),
        )
    )


def without_token(path: str, query: str) -> str:
    """The same URL minus its `token` parameter (the redirect after setting the cookie)."""
    from urllib.parse import urlencode

    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "token"]
    return path + ("?" + urlencode(kept) if kept else "")


def set_cookie_header(token: str) -> str:
    return f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"


def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:6006
        return host[1 : host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def host_allowed(host_header: str | None, bound: str) -> bool:
    """Whether the Host header names this server: loopback, the bound address, or (bound to
    every interface) any IP literal."""
    if not host_header:
        return False
    name = _host_name(host_header)
    if name in ("localhost", "localhost.") or name == bound.lower().strip("[]"):
        return True
    ip = _ip(name)
    if ip is None:
        return False
    if ip.is_loopback:
        return True
    wildcard = _ip(bound.strip("[]"))
    return wildcard is not None and wildcard.is_unspecified
