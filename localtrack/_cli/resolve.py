"""Finding the one run a user names: by path, run id, name, or a unique run id prefix."""

from __future__ import annotations

from pathlib import Path

from localtrack._errors import RunNotFoundError
from localtrack._query.files import RunEntry, read_run_marker
from localtrack._store.layout import MARKER_NAME
from localtrack._store.runs import find_runs


def all_runs(root: Path) -> list[RunEntry]:
    runs: list[RunEntry] = []
    for run_dir in find_runs(root):
        try:
            runs.append(RunEntry(run_dir, read_run_marker(run_dir)))
        except FileNotFoundError:
            continue
    return runs


def resolve_run(root: Path, ref: str) -> RunEntry:
    """The run `ref` names, or RunNotFoundError saying why (none, or which ones it could be)."""
    as_path = Path(ref)
    if (as_path / MARKER_NAME).is_file():
        return RunEntry(as_path, read_run_marker(as_path))
    runs = all_runs(root)
    for matches in (
        [r for r in runs if r.marker["run_id"] == ref],
        [r for r in runs if r.marker.get("name") == ref],
        [r for r in runs if r.marker["run_id"].startswith(ref)],
        [r for r in runs if str(r.path.relative_to(root)) == ref] if runs else [],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            ids = ", ".join(f"{r.marker['run_id']} ({r.path})" for r in matches[:5])
            raise RunNotFoundError(f"{ref!r} matches {len(matches)} runs: {ids}; give a run id")
    raise RunNotFoundError(f"no run {ref!r} under {root} (try `localtrack runs`)")
