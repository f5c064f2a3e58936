"""Read paths that let DuckDB skip other runs' files unopened: a `run_id=<id>` folder in each.

DuckDB prunes a file list by hive partitions (`…/key=value/…` folders in a path) before it
opens a file, so `WHERE run_id = 'x'` over 10,000 runs reads one run's footers, not 10,000.
The store's own paths hold no such folder, and the store may not be written; so each run id
gets an empty folder `run_id=<id>` in the user's cache folder (the farm), and a settled run's
file is read as `<farm>/run_id=<id>/../../…/<absolute path of the file>`: the system walks
back up to `/` and on to the real file, and DuckDB reads the run id from the folder name,
taking it for the file's `run_id` column. That column holds the run marker's `run_id` in every
file (docs/FORMAT.md), so the value is the same; a path whose folders hold `=` anywhere else,
or a run id that is not plain text, is read by its own path instead.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

FARM_NAME = "hive-v1"

_PLAIN_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$")

HIVE_OPTIONS = "hive_partitioning = true, hive_types = {'run_id': VARCHAR}"
"""read_parquet options for HivePath lists (the id stays text, never autocast to a number)."""


class HivePath(str):
    """A read path (a str) whose `run_id=<id>` folder names the run id of the file's rows."""

    __slots__ = ()


class HiveFarm:
    """The farm's folders: made on demand, never removed (an unused one is only a name)."""

    def __init__(self, base: str, names: set[str]) -> None:
        self.base = base
        self.names = names
        self.ups = "/.." * (base.count("/") + 1)

    @classmethod
    def open(cls, cache: Path) -> HiveFarm | None:
        """The farm under `cache`, or None where it cannot be made (then paths are plain)."""
        farm = cache / FARM_NAME
        try:
            farm.mkdir(mode=0o755, parents=True, exist_ok=True)
            real = os.path.realpath(farm)
            st = os.stat(real)
            names = set(os.listdir(real))
        except OSError:
            return None
        if "=" in real or not real.startswith("/"):
            return None
        # Only a farm no one else can change: a `run_id=` folder swapped for a link would lead
        # the walk back up somewhere else.
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return None
        return cls(real, names)

    def prefix(self, run_dir: str, run_id: str) -> str | None:
        """What goes before a file's absolute path to read it through its run's folder
        (`run_dir`: the absolute path of the run's folder)."""
        if not _PLAIN_ID.match(run_id) or "=" in run_dir:
            return None
        name = f"run_id={run_id}"
        if name not in self.names:
            try:
                os.mkdir(os.path.join(self.base, name))
            except FileExistsError:
                pass
            except OSError:
                return None
            self.names.add(name)
        return os.path.join(self.base, name) + self.ups
