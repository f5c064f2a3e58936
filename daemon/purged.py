"""What MLflow is told about `purge_step`: tags naming each purge, and the points it still holds.

Points a purge hides are never sent (points.py). When a purge appears after some of them were
already sent (the first writer's points synced, then a resumed writer purged), they cannot be
taken back: MLflow's REST API deletes runs, experiments and tags, never a single metric point
(checked against mlflow 3.17.2's handlers). So the metric history keeps them, next to the
resumed writer's points at the same steps. The run then carries the tags

- `localtrack.purged_steps`: the purge steps of the run, comma-separated (always, once any);
- `localtrack.purge.<writer>`: per purging writer, `step=N points_on_remote=K`, K being how many
  points it hides that had been sent before the daemon saw it;

and the daemon logs `purged_points_on_remote` (a warning: nothing to retry, nothing a person
can fix in MLflow short of deleting and re-syncing the run). The per-purge tags on the remote
are the memory of which purges were counted, so each is counted once, on the first pass that
sees it: every point it hides and the sync state marks done was sent before then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote

import numpy as np

from localtrack._query.purge import Purge
from localtrack._store.layout import live_segments
from localtrack._store.segments import list_segments

from .points import read_points
from .remote import Remote
from .state import WriterProgress

PURGED_STEPS_TAG = "localtrack.purged_steps"
PURGE_TAG_PREFIX = "localtrack.purge."
STREAM = "scalars"


def purge_tags(purges: Sequence[Purge]) -> list[tuple[str, str]]:
    """The run tag listing its purge steps (none without purges)."""
    if not purges:
        return []
    by = {p.purged_by: p.step for p in purges}
    return [(PURGED_STEPS_TAG, ",".join(str(s) for s in sorted(set(by.values()))))]


def sent_and_hidden(
    run_dir: Path,
    hiding: Sequence[Purge],
    counted: Sequence[Purge],
    progress: dict[str, WriterProgress],
) -> int:
    """How many points `hiding` hides (and `counted` does not) that `progress` marks done."""
    writers = {p.writer for p in hiding}
    files = [n for n in live_segments(list_segments(run_dir / STREAM)) if n.writer in writers]
    if not files:
        return 0
    pts = read_points(run_dir, STREAM, files, hiding)
    if pts.hidden is None:
        return 0
    mask = pts.hidden
    if counted:
        before = read_points(run_dir, STREAM, files, counted).hidden
        if before is not None:
            mask = mask & ~before
    done = np.zeros(len(mask), bool)
    for g in pts.groups:
        p = progress.get(g.writer)
        if p is None:
            continue
        n = g.count if p.is_done(g.seq) else min(p.rows_done(g.seq), g.count)
        done[g.first : g.first + n] = True
    return int((mask & done).sum())


def remote_tags(remote: Remote, run_id: str) -> dict[str, str]:
    data = remote.call("GET", f"runs/get?run_id={quote(run_id)}")
    tags = data.get("run", {}).get("data", {}).get("tags", [])
    return {str(t.get("key")): str(t.get("value")) for t in tags if isinstance(t, dict)}


def report(
    remote: Remote,
    run_id: str,
    run_dir: Path,
    purges: Sequence[Purge],
    progress: dict[str, WriterProgress],
    log: Callable[..., None],
    local_run: str,
) -> list[tuple[str, str]]:
    """Tags for the purges the remote has no tag of yet, each with the points it hides that
    were sent before (logged as a warning when there are any)."""
    if not purges:
        return []
    held = remote_tags(remote, run_id)
    new = {p.purged_by for p in purges if PURGE_TAG_PREFIX + p.purged_by not in held}
    counted = [p for p in purges if p.purged_by not in new]
    tags = []
    for by in sorted(new, key=lambda w: min(p.before_us for p in purges if p.purged_by == w)):
        mine = [p for p in purges if p.purged_by == by]
        sent = sent_and_hidden(run_dir, mine, counted, progress)
        step = mine[0].step
        tags.append((PURGE_TAG_PREFIX + by, f"step={step} points_on_remote={sent}"))
        if sent:
            log(
                "purged_points_on_remote",
                run=local_run,
                step=step,
                points=sent,
                why="sent before the purge appeared; MLflow cannot delete a metric point",
            )
        counted.extend(mine)
    return tags
