"""The daemon's structured log: one JSON object per line per event, written whole under a lock.

Every line has `ts` (seconds since the epoch) and `event`; failures also carry `class`
("retry_later" or "needs_person"). Nothing logged ever holds a credential: URLs are logged
without user info and messages come from status codes and server replies.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import IO


class EventLog:
    def __init__(self, stream: IO[str] | None = None, *, quiet: bool = False) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._lock = threading.Lock()
        self.quiet = quiet

    def __call__(self, event: str, **fields: object) -> None:
        if self.quiet:
            return
        line = json.dumps(
            {"ts": round(time.time(), 3), "event": event, **fields},
            ensure_ascii=False,
            default=str,
        )
        with self._lock:
            try:
                self._stream.write(line + "\n")
                self._stream.flush()
            except (OSError, ValueError):
                pass
