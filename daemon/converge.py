"""Duplicate MLflow runs of one local run converge to one, and no point is lost.

The run lock and the lookup by tag keep one MLflow run per local run, but duplicates can exist
anyway: two machines without a shared file system synced copies of one run, or a store was
synced by an older localtrack. Of the runs tagged `localtrack.run_id = <id>`, the one kept is
the earliest started, ties broken by the lowest run id (`choose`), so every syncer that sees
the same runs keeps the same one, and the run a syncer keeps is never one another deletes. The
others are tagged `localtrack.duplicate_of = <kept id>` and deleted through the API (MLflow
keeps deleted runs restorable). No point is lost: every point of a duplicate was sent from a
local copy of the run, and an uploader whose state names another run than the kept one resends
its whole local run to the kept one (MLflow absorbs the points it holds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from localtrack._errors import NeedsPerson, SyncError

from . import encode
from .remote import Remote, error_code

DUPLICATE_TAG = "localtrack.duplicate_of"


@dataclass(frozen=True)
class RemoteRun:
    """What the daemon needs of one MLflow run found by its tag."""

    run_id: str
    experiment_id: str
    start_time: int
    active: bool
    artifact_uri: str | None = None
    duplicate_of: str | None = None

    @classmethod
    def from_json(cls, run: dict[str, Any]) -> RemoteRun:
        info = run["info"]
        tags = {t.get("key"): t.get("value") for t in run.get("data", {}).get("tags", [])}
        return cls(
            run_id=str(info["run_id"]),
            experiment_id=str(info.get("experiment_id", "")),
            start_time=int(info.get("start_time") or 0),
            active=info.get("lifecycle_stage", "active") == "active",
            artifact_uri=info.get("artifact_uri"),
            duplicate_of=tags.get(DUPLICATE_TAG),
        )


@dataclass(frozen=True)
class Choice:
    """Which run to keep (None: none is active), which active ones to retire, which are deleted."""

    keep: RemoteRun | None
    duplicates: list[RemoteRun] = field(default_factory=list)
    deleted: list[RemoteRun] = field(default_factory=list)

    def deleted_by_a_person(self) -> list[RemoteRun]:
        """Deleted runs that no syncer retired as a duplicate."""
        return [r for r in self.deleted if r.duplicate_of is None]


def choose(runs: list[RemoteRun]) -> Choice:
    """Keep the earliest started active run (ties: the lowest run id); retire the others (pure)."""
    active = sorted((r for r in runs if r.active), key=lambda r: (r.start_time, r.run_id))
    deleted = [r for r in runs if not r.active]
    if not active:
        return Choice(None, [], deleted)
    return Choice(active[0], active[1:], deleted)


def refuse_deleted(choice: Choice, url: str) -> None:
    """Raise NeedsPerson when no run is active and a person deleted the run: never recreate it."""
    gone = choice.deleted_by_a_person()
    if choice.keep is None and gone:
        raise NeedsPerson(
            f"the MLflow run {gone[0].run_id} of this run is deleted on {url}: restore it "
            "(`mlflow runs restore`), or remove it for good (`mlflow gc`) to upload it again"
        )


def run_gone(exc: SyncError) -> bool:
    """True when a request failed because its run was deleted (by a syncer retiring it)."""
    text = str(exc)
    return "must be in the 'active' state" in text or (
        error_code(exc) == "RESOURCE_DOES_NOT_EXIST" and "Run" in text
    )


def retire(
    remote: Remote, dup: RemoteRun, keep: RemoteRun, log: Callable[..., None], local_id: str
) -> None:
    """Tag a duplicate with the run kept, then delete it (restorable in MLflow)."""
    try:
        body = encode.entities_body(dup.run_id, "tags", [(DUPLICATE_TAG, keep.run_id)])
        remote.log_batch(body)
    except NeedsPerson as e:
        if not run_gone(e):  # another syncer retired it first: nothing left to do
            raise
        return
    remote.delete_run(dup.run_id)
    log("duplicate_deleted", run=local_id, mlflow_run=dup.run_id, kept=keep.run_id)
