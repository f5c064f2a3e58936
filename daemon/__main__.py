"""`python -m localtrack_daemon daemon|sync …`: the same commands as `localtrack daemon|sync`."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
