"""Upload progress of one run to one remote, stored in the run as `sync/<remote>.json`.

The file is replaced atomically (tmp → fsync → rename) after every acknowledged request, so
after a crash it names only data the remote holds; what was sent but not yet recorded is sent
again, which MLflow absorbs (a metric point is unique on key, timestamp, step and value).
It travels with the run directory and never holds a secret: the remote is named by its URL
without user info, and error messages are built from status codes and server replies only.
A file that cannot be trusted (not JSON, unknown version, another remote or run) is never
reused nor deleted: the uploader renames it aside and syncs the run again from the remote.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from localtrack._store.layout import MARKER_NAME, SYNC_DIR
from localtrack._store.segments import write_atomic

STATE_FORMAT = "localtrack-sync"
STATE_VERSION = 2
"""2: a partly sent seq counts its rows in file order (1 counted them sorted by key, step, …)."""


def digest(obj: object) -> str:
    """A short stable fingerprint of JSON-able data (what was uploaded, without keeping it)."""
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def public_url(uri: str) -> str:
    """The tracking URI without user info, query or fragment: safe to store and to log."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def remote_name(uri: str) -> str:
    """The file-name-safe name of a remote: host and port, plus a hash of the public URL."""
    url = public_url(uri)
    parts = urlsplit(url)
    readable = re.sub(r"[^A-Za-z0-9.\-]+", "_", parts.netloc) or "remote"
    return f"{readable}-{hashlib.sha1(url.encode()).hexdigest()[:8]}"


@dataclass
class WriterProgress:
    """Which segment sequence numbers of one writer in one stream the remote holds.

    `done` is a sorted list of disjoint inclusive [lo, hi] ranges; `partial` maps a sequence
    number to how many of its rows (in the uploader's deterministic row order) are done.
    """

    done: list[list[int]] = field(default_factory=list)
    partial: dict[int, int] = field(default_factory=dict)

    def is_done(self, seq: int) -> bool:
        return any(lo <= seq <= hi for lo, hi in self.done)

    def covers(self, lo: int, hi: int) -> bool:
        """True when every sequence number lo..hi is done."""
        return any(a <= lo and hi <= b for a, b in self.done)

    def rows_done(self, seq: int) -> int:
        return self.partial.get(seq, 0)

    def mark_done(self, seq: int) -> None:
        self.mark_range(seq, seq)

    def mark_range(self, lo: int, hi: int) -> None:
        """Every sequence number lo..hi is done (a whole segment file was acknowledged)."""
        for s in [s for s in self.partial if lo <= s <= hi]:
            del self.partial[s]
        ranges = sorted([*self.done, [lo, hi]])
        merged: list[list[int]] = []
        for lo, hi in ranges:
            if merged and lo <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        self.done = merged

    def mark_partial(self, seq: int, rows: int) -> None:
        self.partial[seq] = rows


@dataclass
class Problem:
    """The last failure of a run's sync: `kind` is "retry_later" or "needs_person"."""

    kind: str
    message: str
    at: float


@dataclass
class SetAside:
    """An untrusted state file this state replaced: its new name, why, and when (epoch s)."""

    file: str
    why: str
    at: float


@dataclass
class SyncState:
    remote: str
    local_run_id: str
    experiment_id: str | None = None
    mlflow_run_id: str | None = None
    artifact_uri: str | None = None
    streams: dict[str, dict[str, WriterProgress]] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    """Param key → SHA-1 of the value the remote holds (values may be long)."""
    artifacts: dict[str, str] = field(default_factory=dict)
    """Stream → digest of its segment names when its per-tag Parquet artifacts were uploaded."""
    artifacts_at: dict[str, float] = field(default_factory=dict)
    """Stream → when (seconds since the epoch) its artifacts were last uploaded."""
    images_tagged: bool = False
    tags_digest: str | None = None
    key_map: dict[str, str] = field(default_factory=dict)
    """Local key → MLflow key, for every key that had to change, as uploaded."""
    trials: dict[str, str] = field(default_factory=dict)
    """`add_hparams` trial id → its nested MLflow run, once fully uploaded (trials.py)."""
    status: str | None = None
    """The MLflow status last set (RUNNING, FINISHED, FAILED, KILLED)."""
    complete_print: list[list[object]] | None = None
    """The run's folders and mtimes when the daemon last found it complete (skip it until they
    change)."""
    points: int = 0
    """Metric points acknowledged by the remote, over all passes."""
    problem: Problem | None = None
    conflicts: dict[str, str] = field(default_factory=dict)
    """Param key → why it cannot be uploaded (its value changed after upload)."""
    updated_at: float = 0.0
    set_aside: list[SetAside] = field(default_factory=list)
    """Untrusted state files this one replaced (kept in sync/ under their `.broken-` name)."""

    def progress(self, stream: str, writer: str) -> WriterProgress:
        return self.streams.setdefault(stream, {}).setdefault(writer, WriterProgress())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["streams"] = {
            s: {
                w: {"done": p.done, "partial": {str(k): v for k, v in p.partial.items()}}
                for w, p in ws.items()
            }
            for s, ws in self.streams.items()
        }
        return {"format": STATE_FORMAT, "version": STATE_VERSION, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SyncState:
        if data.get("format") != STATE_FORMAT or int(data.get("version", 0)) > STATE_VERSION:
            raise ValueError("not a sync state this localtrack reads")
        # A version-1 count of rows done names other rows now: those seqs are sent again whole
        # (the remote absorbs what it holds); finished seqs mean the same in both versions.
        counts_hold = int(data.get("version", 0)) >= 2
        streams = {
            s: {
                w: WriterProgress(
                    [list(r) for r in p.get("done", [])],
                    {int(k): int(v) for k, v in p.get("partial", {}).items()}
                    if counts_hold
                    else {},
                )
                for w, p in ws.items()
            }
            for s, ws in data.get("streams", {}).items()
        }
        problem = data.get("problem")
        return cls(
            remote=data["remote"],
            local_run_id=data["local_run_id"],
            experiment_id=data.get("experiment_id"),
            mlflow_run_id=data.get("mlflow_run_id"),
            artifact_uri=data.get("artifact_uri"),
            streams=streams,
            params=dict(data.get("params", {})),
            artifacts=dict(data.get("artifacts", {})),
            artifacts_at={k: float(v) for k, v in data.get("artifacts_at", {}).items()},
            images_tagged=bool(data.get("images_tagged", False)),
            tags_digest=data.get("tags_digest"),
            key_map=dict(data.get("key_map", {})),
            trials={str(k): str(v) for k, v in data.get("trials", {}).items()},
            status=data.get("status"),
            complete_print=data.get("complete_print"),
            points=int(data.get("points", 0)),
            problem=Problem(**problem) if problem else None,
            conflicts=dict(data.get("conflicts", {})),
            updated_at=float(data.get("updated_at", 0.0)),
            set_aside=[SetAside(**a) for a in data.get("set_aside", [])],
        )


def state_path(run_dir: Path, uri: str) -> Path:
    return run_dir / SYNC_DIR / f"{remote_name(uri)}.json"


BROKEN_SUFFIX = ".broken-"
"""A state file that cannot be trusted is renamed `<name>.broken-<UTC time>` beside itself."""


def parse_state(raw: bytes, uri: str, local_run_id: str) -> SyncState | str:
    """The state a file holds, or why it cannot be trusted (pure: no I/O).

    Untrusted: not JSON (truncated, damaged), not a sync state, a version this localtrack
    does not know, written for another remote URL, or for another run id.
    """
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return "it is not valid JSON (truncated or damaged)"
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
        return "it is not a localtrack sync state"
    version = data.get("version")
    if type(version) is not int or not 1 <= version <= STATE_VERSION:
        return f"its version {version!r} is not one this localtrack reads (1..{STATE_VERSION})"
    try:
        state = SyncState.from_json(data)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        return f"a field is missing or malformed ({e!r})"
    if state.remote != public_url(uri):
        return f"it was written for another remote ({state.remote!r})"
    if state.local_run_id != local_run_id:
        return f"it was written for another run ({state.local_run_id!r})"
    return state


def read_state(run_dir: Path, uri: str, local_run_id: str) -> SyncState | str | None:
    """The run's state to this remote; why it cannot be trusted; or None when there is none."""
    try:
        raw = state_path(run_dir, uri).read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return parse_state(raw, uri, local_run_id)


def load_state(run_dir: Path, uri: str, local_run_id: str) -> SyncState:
    """The run's progress to this remote, read-only: a fresh state when there is none, or when
    the file cannot be trusted (see parse_state; `open_state` also sets such a file aside)."""
    found = read_state(run_dir, uri, local_run_id)
    if isinstance(found, SyncState):
        return found
    return SyncState(remote=public_url(uri), local_run_id=local_run_id)


def broken_name(name: str, at: float) -> str:
    """The name an untrusted state file `name` is kept under: its UTC time of setting aside."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(at))
    return f"{name}{BROKEN_SUFFIX}{stamp}.{int(at * 1e6) % 1_000_000:06d}Z"


def broken_files(run_dir: Path, uri: str) -> list[Path]:
    """State files to this remote set aside as untrusted, oldest first."""
    name = state_path(run_dir, uri).name
    return sorted((run_dir / SYNC_DIR).glob(f"{name}{BROKEN_SUFFIX}*"))


def open_state(
    run_dir: Path, uri: str, local_run_id: str, log: Callable[..., None] | None = None
) -> SyncState:
    """The uploader's state: as load_state, but a file that cannot be trusted is not reused
    and not deleted: it is renamed aside (broken_name), a `state_set_aside` line is logged,
    and the fresh state records it (`set_aside`), so the run is synced again from what the
    remote holds (found by its tag; what is resent is absorbed)."""
    for _ in range(3):
        found = read_state(run_dir, uri, local_run_id)
        if found is None:
            return SyncState(remote=public_url(uri), local_run_id=local_run_id)
        if isinstance(found, SyncState):
            return found
        path = state_path(run_dir, uri)
        at = time.time()
        kept = path.with_name(broken_name(path.name, at))
        try:
            os.rename(path, kept)
        except FileNotFoundError:
            continue  # another syncer set it aside (or replaced it) first: read it again
        fresh = SyncState(remote=public_url(uri), local_run_id=local_run_id)
        fresh.set_aside.append(SetAside(kept.name, found, at))
        if log is not None:
            log("state_set_aside", run=local_run_id, file=str(kept), why=found, level="warning")
        return fresh
    return SyncState(remote=public_url(uri), local_run_id=local_run_id)


def save_state(run_dir: Path, uri: str, state: SyncState, *, durable: bool = True) -> None:
    """Replace the state file atomically: a reader (or a restart) sees the old or the new one.

    With `durable=False` the file is renamed into place without fsync: still atomic for a
    killed process; a power cut may lose the latest saves, and what they recorded is then
    sent again, which the remote absorbs. The uploader saves durably at the end of a pass.
    """
    state.updated_at = time.time()
    path = state_path(run_dir, uri)
    if not (run_dir / MARKER_NAME).is_file():  # deleted or moved: never recreate a part of it
        raise FileNotFoundError(f"the run {run_dir} is gone (no {MARKER_NAME})")
    path.parent.mkdir(exist_ok=True)
    data = json.dumps(state.to_json(), separators=(",", ":")).encode()
    if durable:
        write_atomic(path, data)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
