"""Query-string parameters of the API, checked: run ids, numbers, choices (BadRequest if not)."""

from __future__ import annotations

import math
import re
from urllib.parse import parse_qsl

from localtrack._ui.answer import BadRequest

RUN_ID = re.compile(r"[A-Za-z0-9_\-]+")
MAX_WIDTH = 20_000
MAX_RUNS = 10_000


def parse(query: str) -> dict[str, str]:
    """The query string as a dict (the last value of a repeated key wins)."""
    return dict(parse_qsl(query, keep_blank_values=True))


def run_id(value: str | None, name: str = "id") -> str:
    if value is None or not RUN_ID.fullmatch(value):
        raise BadRequest(f"{name} must be a run id ([A-Za-z0-9_-]+)")
    return value


def run_ids(value: str | None) -> tuple[str, ...] | None:
    """`runs=ID,ID` (None when absent; duplicates dropped, order kept)."""
    if value is None:
        return None
    ids = [v for v in value.split(",") if v]
    if len(ids) > MAX_RUNS:
        raise BadRequest(f"at most {MAX_RUNS} runs per request")
    return tuple(dict.fromkeys(run_id(v, "runs") for v in ids))


def number(value: str | None, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        x = float(value)
    except ValueError:
        raise BadRequest(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise BadRequest(f"{name} must be finite, got {value!r}")
    return x


def integer(value: str | None, name: str, default: int, lo: int, hi: int) -> int:
    if value is None or value == "":
        return default
    try:
        x = int(value)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {value!r}") from None
    if not lo <= x <= hi:
        raise BadRequest(f"{name} must be between {lo} and {hi}, got {x}")
    return x


def after(value: str | None) -> dict[str, float]:
    """`after=ID:X,ID:X` as {run id: x}."""
    out: dict[str, float] = {}
    if not value:
        return out
    for part in value.split(","):
        run, sep, x = part.rpartition(":")
        if not sep:
            raise BadRequest("after must be ID:X,ID:X")
        parsed = number(x, "after")
        if parsed is None:
            raise BadRequest("after must be ID:X,ID:X")
        out[run_id(run, "after")] = parsed
    return out
