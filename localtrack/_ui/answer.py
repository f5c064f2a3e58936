"""An endpoint's answer, whole or streamed, and the JSON error answers of docs/UI.md."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from localtrack._ui.wire import to_json

JSON_TYPE = "application/json; charset=utf-8"


@dataclass
class Answer:
    """Status, body (or a stream of chunks, sent chunked) and extra headers."""

    status: int = 200
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)
    stream: Iterator[bytes] | None = None


class BadRequest(ValueError):
    """A parameter the endpoint cannot use: answered 400 with its message."""


class NotFound(LookupError):
    """An unknown run or path: answered 404 with its message."""


def json_answer(value: object, status: int = 200) -> Answer:
    return Answer(status, to_json(value))


def error(status: int, message: str) -> Answer:
    return Answer(status, to_json({"error": message}))
