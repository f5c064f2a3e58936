"""One pass of one run's upload to one remote: run, tags, params, metrics, artifacts, then status.

Acknowledged requests are recorded in the run's sync state by atomic saves (while metrics flow,
at most every 0.2 s, and always at the end of a pass), so a pass killed at any instant resumes
where the recorded acknowledgements end; what is sent again is absorbed by the
remote (metric points are unique on key, timestamp, step and value; tags are last-write-wins;
a param resent with its own value is a no-op). The MLflow run is found by the tag
`localtrack.run_id` before one is ever created, so a lost state or a copied run directory never
makes a second MLflow run; the caller holds the run's lock (`lock.py`), and duplicates made
anyway converge to one (`converge.py`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa

from localtrack._errors import NeedsPerson, RetryLater, SyncError
from localtrack._store.layout import live_segments
from localtrack._store.marker import Marker, read_marker
from localtrack._store.segments import list_segments, read_stream

from . import encode
from .artifacts import (
    IMAGE_STREAM,
    LOGGED_IMAGES_TAG,
    TABLE_STREAMS,
    image_files,
    image_key,
    read_images,
    tag_tables,
)
from .converge import Choice, RemoteRun, choose, refuse_deleted, retire, run_gone
from .lock import Lease
from .pipeline import Pipeline
from .plan import Batch, apply_marks
from .points import METRIC_STREAMS, Points, pending_segments, read_points, run_purges
from .purged import purge_tags, report
from .remote import Remote, is_race
from .report_artifact import sync_report
from .run_info import RUN_ID_TAG, crash_end_ms, finish_ms, local_params, local_status, run_tags
from .state import SyncState, WriterProgress, digest, open_state, save_state
from .trials import TrialUpload, read_trials, trial_keys

KEY_MAP_TAG = "localtrack.key_map"
KEY_MAP_ARTIFACT = "localtrack/key_map.json"
TRUNCATED_TAG = "localtrack.truncated_params"
MLFLOW_STATUS = {"finished": "FINISHED", "failed": "FAILED", "crashed": "KILLED"}
TABLES_EVERY_S = 60.0
"""Least time between two uploads of a live run's per-tag Parquet artifacts of one stream."""
SAVE_EVERY_S = 0.5
"""Least time between two saves of the state while metrics flow (the pass ends with a save)."""
READ_ROWS = 50_000
"""Roughly how many rows one read takes in before they are sent (bounds memory)."""

Progress = Callable[[str, int], None]


@dataclass
class Outcome:
    """What one pass did: points sent, and whether the run is complete on the remote."""

    sent: int = 0
    complete: bool = False


class RunUpload:
    """Uploads one run directory to one remote; `sync()` runs one pass."""

    def __init__(
        self,
        run_dir: Path,
        remote: Remote,
        *,
        pipeline: int = 1,
        log: Callable[..., None],
        experiments: dict[str, str] | None = None,
        grace_s: float = 60.0,
        stop: threading.Event | None = None,
        progress: Progress | None = None,
        lease: Lease | None = None,
        check_duplicates: bool = True,
        report: bool = True,
    ) -> None:
        """`lease`: the run's lock, held by the caller; `check_duplicates`: look the MLflow run
        up by its tag even when the state names it (once per process and run is enough)."""
        self.run_dir = run_dir
        self.remote = remote
        self.pipeline = pipeline
        self._saved_at = 0.0
        self.log = log
        self.experiments = experiments if experiments is not None else {}
        self.grace_s = grace_s
        self.stop = stop or threading.Event()
        self.progress = progress
        self.lease = lease
        self.check_duplicates = check_duplicates
        self.report = report
        self.recheck_conflicts = check_duplicates
        """Compare recorded param conflicts with the remote once (a race an older version
        recorded as a conflict is then cleared)."""
        self.marker: Marker = read_marker(run_dir)
        self.state: SyncState = open_state(
            run_dir, self.remote.uri, self.marker["run_id"], log=self.log
        )

    def save(self, *, durable: bool = True) -> None:
        if self.lease is not None and self.lease.lost is not None:
            self.lease.confirm()  # raises LeaseLost: the new holder records progress now
        save_state(self.run_dir, self.remote.uri, self.state, durable=durable)

    # -- the pass --------------------------------------------------------------------------

    def sync(self) -> Outcome:
        """Upload whatever the remote lacks; raise RetryLater or NeedsPerson on failure."""
        out = Outcome()
        if self.stop.is_set():
            return out
        try:
            return self._sync(out)
        except NeedsPerson as e:
            if not run_gone(e):
                raise
        # The run was retired as a duplicate meanwhile: find the kept one, send it everything.
        self.check_duplicates = True
        try:
            return self._sync(out)
        except NeedsPerson as e:
            if run_gone(e):
                raise RetryLater(f"the MLflow run was deleted while uploading: {e}") from e
            raise

    def _sync(self, out: Outcome) -> Outcome:
        events = read_stream(self.run_dir, "events")
        self.purges = run_purges(events)  # one snapshot for tags and points
        self.ensure_run(events)
        self.sync_tags(events)
        self.sync_params()
        self.sync_trials()
        # The status before the data: a writer seals its last segment before its finish event,
        # so a run finished now has all its data on disk for the reads below. Read after them,
        # a writer that finished while they ran would make the run FINISHED without its last
        # segments (the next pass would send them, but a user or `sync --status` sees it done).
        local = local_status(self.run_dir)
        for stream in METRIC_STREAMS:
            out.sent += self.sync_metrics(stream)
            if self.stop.is_set():
                return out
        self.sync_images()
        self.sync_tables(final=local != "running")
        if self.report and not self.stop.is_set():
            sync_report(self, local)
        if self.stop.is_set():
            return out
        out.complete = self.sync_status(events, local)
        if self.state.problem is not None:
            self.state.problem = None
            self.save()
        return out

    def ensure_run(self, events: pa.Table | None) -> None:
        """Find the MLflow run by its tag (create it when there is none); retire duplicates."""
        if self.state.mlflow_run_id is not None and not self.check_duplicates:
            return
        exp = self.state.experiment_id
        if exp is None:
            project = self.marker["project"] or "Default"
            exp = self.experiments.get(project)
            if exp is None:
                exp = self.experiments[project] = self.remote.experiment_id(project)
        choice = self.look_up(exp)
        if choice.keep is None:
            refuse_deleted(choice, self.remote.url)
            if self.lease is not None:
                self.lease.confirm()  # never create a run without holding the lock
            start_ms = int(self.marker["created_at"] * 1000)
            run = self.remote.create_run(
                exp, self.marker["name"], start_ms, run_tags(self.marker, self.run_dir, events)
            )
            self.log("run_created", run=self.marker["run_id"], mlflow_run=run["info"]["run_id"])
            choice = self.look_up(exp)  # a syncer elsewhere may have created one too
            if choice.keep is None:  # a search that does not see it yet: keep the new one
                choice = Choice(RemoteRun.from_json(run))
        assert choice.keep is not None
        self.adopt(choice.keep)
        for dup in choice.duplicates:
            retire(self.remote, dup, choice.keep, self.log, self.marker["run_id"])
        self.check_duplicates = False

    def look_up(self, experiment_id: str) -> Choice:
        runs = self.remote.runs_tagged(experiment_id, RUN_ID_TAG, self.marker["run_id"])
        return choose([RemoteRun.from_json(r) for r in runs])

    def adopt(self, run: RemoteRun) -> None:
        """Upload to `run` from now on; everything is resent when the state named another run."""
        if self.state.mlflow_run_id == run.run_id:
            return
        if self.state.mlflow_run_id is not None:
            self.log(
                "run_switched",
                run=self.marker["run_id"],
                mlflow_run=run.run_id,
                was=self.state.mlflow_run_id,
            )
            self.state = replace(
                self.state, streams={}, params={}, artifacts={}, artifacts_at={},
                images_tagged=False, tags_digest=None, key_map={}, trials={}, status=None,
                complete_print=None, points=0, conflicts={},
            )  # fmt: skip
        self.state.experiment_id = run.experiment_id
        self.state.mlflow_run_id = run.run_id
        self.state.artifact_uri = run.artifact_uri
        self.save()

    @property
    def run_id(self) -> str:
        assert self.state.mlflow_run_id is not None
        return self.state.mlflow_run_id

    # -- tags ------------------------------------------------------------------------------

    def sync_tags(self, events: pa.Table | None) -> None:
        tags = run_tags(self.marker, self.run_dir, events) + purge_tags(self.purges)
        fp = digest(tags)
        if fp == self.state.tags_digest:
            return
        progress = self.state.streams.get("scalars", {})
        tags += report(self.remote, self.run_id, self.run_dir, self.purges, progress, self.log,
                       self.marker["run_id"])  # fmt: skip
        for i in range(0, len(tags), encode.MAX_TAGS_PER_BATCH):
            chunk = tags[i : i + encode.MAX_TAGS_PER_BATCH]
            self.remote.log_batch(encode.entities_body(self.run_id, "tags", chunk))
        self.state.tags_digest = fp
        self.save()

    # -- params ----------------------------------------------------------------------------

    def sync_params(self) -> None:
        todo: list[tuple[str, str, str]] = []  # (mlflow key, value, digest)
        truncated = []
        params = local_params(self.run_dir)
        if self.state.conflicts and self.recheck_conflicts:
            self.settle_conflicts(params)
        self.recheck_conflicts = False
        for key, raw in sorted(params.items()):
            mkey = encode.mlflow_key(key)
            value, cut = encode.truncate(raw, encode.MAX_PARAM_VALUE_CHARS)
            fp = digest(value)
            held = self.state.params.get(mkey)
            if held == fp or mkey in self.state.conflicts:
                continue
            if held is not None:
                self.conflict(mkey, "its value changed after it was uploaded")
                continue
            todo.append((mkey, value, fp))
            if cut:
                truncated.append(mkey)
        if truncated:
            self.log("params_truncated", run=self.marker["run_id"], keys=truncated)
            self.remote.log_batch(
                encode.entities_body(
                    self.run_id, "tags", [(TRUNCATED_TAG, ",".join(truncated)[:8000])]
                )
            )
        self.record_key_map(list(params))
        for i in range(0, len(todo), encode.MAX_PARAMS_PER_BATCH):
            self.send_params(todo[i : i + encode.MAX_PARAMS_PER_BATCH])

    def send_params(self, chunk: list[tuple[str, str, str]], *, race_ok: bool = True) -> None:
        try:
            self.remote.log_batch(
                encode.entities_body(self.run_id, "params", [(k, v) for k, v, _ in chunk])
            )
        except SyncError as e:
            if race_ok and is_race(e):
                self.settle_race(chunk)
                return
            if isinstance(e, RetryLater) or "param" not in str(e).lower() or e.status in (401, 403):
                raise
            if len(chunk) > 1:  # find which one the remote refuses; keep the others
                for one in chunk:
                    self.send_params([one])
                return
            self.conflict(chunk[0][0], f"the remote refused it: {e}")
            return
        for k, _, d in chunk:
            self.state.params[k] = d
        self.save()

    def settle_race(self, chunk: list[tuple[str, str, str]]) -> None:
        """Another uploader inserted some of these params at the same time: read them back.

        A param the remote holds with our value is done; with another value it is a conflict
        (needs a person); the ones it lacks are sent once more (a second race: retry later).
        """
        held = self.remote.run_params(self.run_id)
        missing = []
        for key, value, fp in chunk:
            if key not in held:
                missing.append((key, value, fp))
            elif held[key] == value:
                self.state.params[key] = fp
            else:
                self.conflict(key, "the remote holds another value, sent by another uploader")
        self.save()
        if missing:
            self.send_params(missing, race_ok=False)

    def settle_conflicts(self, params: dict[str, str]) -> None:
        """Drop the recorded conflicts of params the remote holds with the local value."""
        held = self.remote.run_params(self.run_id)
        for key, raw in params.items():
            mkey = encode.mlflow_key(key)
            value, _ = encode.truncate(raw, encode.MAX_PARAM_VALUE_CHARS)
            if mkey in self.state.conflicts and held.get(mkey) == value:
                del self.state.conflicts[mkey]
                self.state.params[mkey] = digest(value)
                self.log("param_conflict_cleared", run=self.marker["run_id"], key=mkey)
        self.save()

    def conflict(self, key: str, why: str) -> None:
        message = f"param {key!r} cannot be uploaded: {why} (MLflow params never change)"
        self.state.conflicts[key] = message
        self.save()
        self.log("param_conflict", run=self.marker["run_id"], key=key, **{"class": "needs_person"})

    def record_key_map(
        self, keys: Iterable[str], mapping: Callable[[str], str] = encode.mlflow_key
    ) -> None:
        """Upload the local → MLflow map of keys that had to change (tag and artifact).

        `mapping`: how this kind of key is mapped (metric and param keys by default; image
        keys and artifact paths pass their own), so every mapped key of every kind is listed.
        """
        new = {k: m for k in keys if k not in self.state.key_map and (m := mapping(k)) != k}
        if not new:
            return
        known = {**self.state.key_map, **new}
        text = json.dumps(known, ensure_ascii=False, sort_keys=True)
        tag = (
            text if len(text) <= encode.MAX_TAG_VALUE_CHARS else f"see artifact {KEY_MAP_ARTIFACT}"
        )
        self.remote.log_batch(encode.entities_body(self.run_id, "tags", [(KEY_MAP_TAG, tag)]))
        if self.state.artifact_uri:
            try:
                self.remote.put_artifact(self.state.artifact_uri, KEY_MAP_ARTIFACT, text.encode())
            except NeedsPerson as e:
                self.log("artifact_skipped", run=self.marker["run_id"], error=str(e))
        self.state.key_map = known
        self.save()

    def sync_trials(self) -> None:
        """Each `add_hparams` trial as a nested run (trials.py), recorded once fully sent."""
        todo = [
            t for t in read_trials(self.run_dir, self.marker["name"])
            if t.trial_id not in self.state.trials
        ]  # fmt: skip
        if not todo:
            return
        assert self.state.experiment_id is not None
        self.record_key_map(trial_keys(todo))
        upload = TrialUpload(
            self.remote, self.state.experiment_id, self.run_id, self.marker["run_id"], self.log
        )
        for trial in todo:
            if self.stop.is_set():
                return
            self.state.trials[trial.trial_id] = upload.send(trial)
            self.save()

    # -- metrics ---------------------------------------------------------------------------

    def sync_metrics(self, stream: str) -> int:
        progress = self.state.streams.setdefault(stream, {})
        files = pending_segments(self.run_dir, stream, progress)
        sent = 0
        while files and not self.stop.is_set():
            chunk, rows = [], 0
            while files and rows < READ_ROWS:
                name = files.pop(0)
                chunk.append(name)
                rows += 1000 * (name.hi - name.lo + 1)  # about 1000 rows per segment
            try:
                points = read_points(self.run_dir, stream, chunk, self.purges)
            except FileNotFoundError:  # compaction replaced a file: list again
                files = pending_segments(self.run_dir, stream, progress)
                continue
            sent += self.send_points(stream, points)
        return sent

    def send_points(self, stream: str, pts: Points) -> int:
        progress = self.state.streams[stream]
        if any(encode.mlflow_key(t) != t for t in pts.tags):
            self.record_key_map(pts.tags)
        plan = pts.batches(progress, encode.MAX_METRICS_PER_BATCH)  # purged rows left out
        pipe: Pipeline[Batch] = Pipeline(self.remote, self.pipeline if len(plan) > 1 else 1)
        sent = 0
        try:
            for batch in plan:
                if self.stop.is_set():
                    break
                body = pts.text.body(self.run_id, batch.slices) if batch.slices else None
                sent += self.acknowledged(progress, pipe.submit(body, batch))
            sent += self.acknowledged(progress, pipe.drain())
        finally:
            pipe.close()
        if not self.stop.is_set():  # every row of these files is acknowledged
            for name in pts.files:
                progress.setdefault(name.writer, WriterProgress()).mark_range(name.lo, name.hi)
        self.save()
        if pts.skipped:
            self.log(
                "points_skipped",
                run=self.marker["run_id"],
                stream=stream,
                rows=pts.skipped,
                why="null value or timestamp before 1970",
            )
        return sent

    def acknowledged(self, progress: dict[str, WriterProgress], batches: list[Batch]) -> int:
        """Record batches the remote acknowledged (in plan order); the points they held."""
        if not batches:
            return 0
        points = 0
        for batch in batches:
            apply_marks(progress, batch.marks)
            points += batch.size
            if self.progress is not None and batch.size:
                self.progress(self.marker["run_id"], batch.size)
        self.state.points += points
        now = time.monotonic()
        if now - self._saved_at >= SAVE_EVERY_S:  # a kill re-sends at most this much
            self.save(durable=False)
            self._saved_at = now
        return points

    # -- artifacts -------------------------------------------------------------------------

    def artifact_uri(self) -> str:
        if not self.state.artifact_uri:
            raise NeedsPerson("the server gave no artifact location for this run")
        return self.state.artifact_uri

    def sync_images(self) -> None:
        """Each image and its thumbnail, where the MLflow UI shows them as a per-step grid."""
        progress = self.state.streams.setdefault(IMAGE_STREAM, {})
        for name in pending_segments(self.run_dir, IMAGE_STREAM, progress):
            if self.stop.is_set():
                return
            p = progress.setdefault(name.writer, WriterProgress())
            rows = read_images(self.run_dir, name, self.purges)
            self.record_key_map({str(row["tag"]) for row, _ in rows}, image_key)
            for row, data in rows:
                if p.is_done(int(row["seq"])):  # type: ignore[call-overload]
                    continue
                for path, blob in image_files(self.marker["run_id"], row, data):
                    self.remote.put_artifact(self.artifact_uri(), path, blob)
            if not self.state.images_tagged:
                tags = [(LOGGED_IMAGES_TAG, "True")]
                self.remote.log_batch(encode.entities_body(self.run_id, "tags", tags))
                self.state.images_tagged = True
            p.mark_range(name.lo, name.hi)
            self.save()

    def sync_tables(self, *, final: bool) -> None:
        """Per-tag Parquet artifacts of the other streams, when their files changed.

        While the run is live a stream is uploaded again at most every TABLES_EVERY_S.
        """
        for stream in TABLE_STREAMS:
            if self.stop.is_set():
                return
            names = live_segments(list_segments(self.run_dir / stream))
            if not names:
                continue
            fp = digest([n.filename for n in names] + [repr(p) for p in self.purges])
            if self.state.artifacts.get(stream) == fp:
                continue
            last = self.state.artifacts_at.get(stream, 0.0)
            if not final and abs(time.time() - last) < TABLES_EVERY_S:
                continue
            tables = tag_tables(self.run_dir, stream, names, self.purges)
            self.record_key_map(tables)
            for path, blob in tables.values():
                self.remote.put_artifact(self.artifact_uri(), path, blob)
            self.state.artifacts_at[stream] = time.time()
            self.state.artifacts[stream] = fp
            self.save()

    # -- status ----------------------------------------------------------------------------

    def sync_status(self, events: pa.Table | None, local: str) -> bool:
        """Set the MLflow status once the data is up; True when the run is final and set."""
        status = MLFLOW_STATUS.get(local, "RUNNING")
        end_ms: int | None = None
        if local in ("finished", "failed"):
            end_ms = finish_ms(events)
        elif local == "crashed":
            end_ms = crash_end_ms(self.run_dir, self.marker["created_at"], self.grace_s)
            if end_ms is None:
                return False
        if status == self.state.status or (status == "RUNNING" and self.state.status is None):
            return status != "RUNNING"
        self.remote.update_run(self.run_id, status, end_ms)
        self.state.status = status
        self.save()
        self.log("status_set", run=self.marker["run_id"], status=status)
        return status != "RUNNING"
