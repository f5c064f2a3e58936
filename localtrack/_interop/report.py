"""Progress on stderr while importing, and the summary printed at the end."""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class ImportReport:
    """Counts of one import: what was read, what was skipped, and why."""

    source: str
    runs: set[str] = field(default_factory=set)
    points: Counter[str] = field(default_factory=Counter)
    files_read: int = 0
    files_unchanged: int = 0
    truncated: int = 0  # cut-short last records skipped (a writer killed mid-write)
    errors: list[str] = field(default_factory=list)  # corrupt records, unreadable files
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        streams = ", ".join(f"{k} {v:,}" for k, v in sorted(self.points.items())) or "nothing new"
        lines = [
            f"imported {len(self.runs)} run(s) from {self.source}: {streams}",
            f"  files read: {self.files_read}, unchanged: {self.files_unchanged}, "
            f"truncated last records skipped: {self.truncated}, errors: {len(self.errors)}",
        ]
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)


class Progress:
    """A one-line progress bar on a terminal; a line per run otherwise. Never on stdout."""

    def __init__(self, total_bytes: int, out: TextIO | None = None, enabled: bool = True) -> None:
        self.total = max(1, total_bytes)
        self.done = 0
        self.points = 0
        self.out = out if out is not None else sys.stderr
        self.enabled = enabled
        self.tty = enabled and self.out.isatty()
        self.started = time.monotonic()
        self._shown = 0.0

    def advance(self, nbytes: int, points: int, what: str) -> None:
        self.done += nbytes
        self.points += points
        now = time.monotonic()
        if not self.tty or now - self._shown < 0.1:
            return
        self._shown = now
        rate = self.points / max(now - self.started, 1e-9)
        width = 30
        filled = int(width * min(1.0, self.done / self.total))
        bar = "#" * filled + "-" * (width - filled)
        text = f"\r[{bar}] {100 * self.done / self.total:5.1f}% {self.points:,} points"
        self.out.write(f"{text} ({rate:,.0f}/s) {what[-40:]:<40}")
        self.out.flush()

    def run_done(self, name: str, points: int) -> None:
        if self.tty:
            self.out.write("\r" + " " * 110 + "\r")
        if self.enabled:
            self.out.write(f"import: {name}: {points:,} rows\n")
            self.out.flush()
