"""The series answer cache: bounded, least recently used first out."""

from __future__ import annotations

from localtrack._ui.answer_cache import AnswerCache


def test_keeps_recent_answers_within_its_size() -> None:
    cache = AnswerCache(max_bytes=100)
    cache.put("a", b"x" * 25)
    cache.put("b", b"y" * 25)
    assert cache.get("a") == b"x" * 25  # a is now the most recent
    cache.put("c", b"z" * 25)
    cache.put("d", b"w" * 25)
    cache.put("e", b"v" * 25)  # over 100 bytes: b, the least recently used, goes
    assert cache.get("b") is None and cache.get("a") is not None
    assert len(cache) == 4
    cache.put("huge", b"h" * 60)  # over a quarter of the cache: not kept
    assert cache.get("huge") is None
