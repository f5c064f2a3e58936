"""Session-wide test settings: nothing a test does lands in the user's home folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Keep `localtrack runs`' scalar cache out of the home folder."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("LOCALTRACK_CACHE_DIR", str(cache))
    return cache
