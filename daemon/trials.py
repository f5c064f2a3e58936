"""`add_hparams` trials as MLflow runs nested under the run: each `hparams` row is one run, once.

A trial run carries the tags `mlflow.parentRunId` (the run's MLflow run),
`localtrack.hparams_of` (the local run id) and `localtrack.hparams_id` (the row's identity,
`trial_id`), and is looked up by them before one is ever created, so a resend, a lost sync
state or a second machine never makes a second run of a trial. Its params are the row's
hparams (flattened like config, keys mapped like every key), its metrics the row's metrics at
the row's step and wall time; it is FINISHED at that time. Planning is pure (`trials`,
`trial_id`); `TrialUpload` does the requests.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from localtrack._store.segments import read_stream

from . import encode
from .converge import RemoteRun, choose
from .remote import Remote

PARENT_TAG = "mlflow.parentRunId"
TRIAL_OF_TAG = "localtrack.hparams_of"
TRIAL_ID_TAG = "localtrack.hparams_id"
_COLUMNS = ["step", "wall_time", "hparams", "metrics", "run_name", "writer", "seq"]


@dataclass(frozen=True)
class Trial:
    """One `add_hparams` call, as its MLflow run gets it."""

    trial_id: str
    name: str
    step: int
    time_ms: int
    params: dict[str, str]
    """Local (flattened) key → MLflow param value."""
    metrics: dict[str, float]
    """Local key → value (only numbers; NaN and ±inf included)."""


def trial_id(row: dict[str, object]) -> str:
    """The row's identity: its writer and seq, and a digest of what it holds (pure)."""
    content = json.dumps(
        [row.get(k) for k in ("step", "wall_time", "hparams", "metrics", "run_name")],
        default=str,
        sort_keys=True,
    )
    digest = hashlib.sha1(content.encode("utf-8")).hexdigest()[:16]
    return f"{row['writer']}:{row['seq']}:{digest}"


def _json_object(text: object) -> dict[str, object]:
    try:
        value = json.loads(str(text)) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _number(v: object) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def trials(table: pa.Table | None, run_name: str) -> list[Trial]:
    """Every trial of an `hparams` table, in stored order (pure). Rows that are equal in every
    column are told apart by their rank among equals, so none is dropped."""
    if table is None or table.num_rows == 0:
        return []
    table = table.select(_COLUMNS)
    times = table["wall_time"].cast(pa.int64()).to_pylist()
    seen: Counter[str] = Counter()
    out: list[Trial] = []
    for i, row in enumerate(table.to_pylist()):
        row["wall_time"] = times[i]
        tid = trial_id(row)
        seen[tid] += 1
        if seen[tid] > 1:
            tid = f"{tid}.{seen[tid] - 1}"
        flat = encode.flatten(_json_object(row["hparams"]))
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in flat.items()}
        metrics = {
            str(k): n
            for k, v in _json_object(row["metrics"]).items()
            if (n := _number(v)) is not None
        }
        name = str(row["run_name"] or "") or f"{run_name} trial {len(out) + 1}"
        step = int(row["step"]) if row["step"] is not None else 0
        out.append(Trial(tid, name, step, max(0, times[i] // 1000), params, metrics))
    return out


def trial_keys(todo: list[Trial]) -> list[str]:
    """Every local param and metric key of these trials (for the run's key map)."""
    return sorted({k for t in todo for k in (*t.params, *t.metrics)})


class TrialUpload:
    """Sends the trials of one run the state has not recorded as done."""

    def __init__(
        self, remote: Remote, experiment_id: str, parent_run_id: str, local_run_id: str,
        log: Callable[..., None],
    ) -> None:  # fmt: skip
        self.remote = remote
        self.experiment_id = experiment_id
        self.parent = parent_run_id
        self.local_run_id = local_run_id
        self.log = log
        self._found: dict[str, RemoteRun] | None = None

    def found(self) -> dict[str, RemoteRun]:
        """Trial id → the MLflow run kept for it (one search per pass)."""
        if self._found is None:
            runs = self.remote.runs_tagged(self.experiment_id, TRIAL_OF_TAG, self.local_run_id)
            by_id: dict[str, list[RemoteRun]] = {}
            for r in runs:
                tags = {t.get("key"): t.get("value") for t in r.get("data", {}).get("tags", [])}
                by_id.setdefault(str(tags.get(TRIAL_ID_TAG)), []).append(RemoteRun.from_json(r))
            self._found = {}
            for tid, copies in by_id.items():
                keep = choose(copies).keep
                if keep is not None:
                    self._found[tid] = keep
        return self._found

    def send(self, trial: Trial) -> str:
        """Create (or find) the trial's run and log its params, metrics and status; its id."""
        run = self.found().get(trial.trial_id)
        if run is None:
            tags = [
                (PARENT_TAG, self.parent),
                (TRIAL_OF_TAG, self.local_run_id),
                (TRIAL_ID_TAG, trial.trial_id),
                ("mlflow.runName", trial.name),
            ]
            made = self.remote.create_run(self.experiment_id, trial.name, trial.time_ms, tags)
            run = RemoteRun.from_json(made)
            self.found()[trial.trial_id] = run
            self.log("trial_created", run=self.local_run_id, mlflow_run=run.run_id)
        else:  # found: its parent may be a duplicate retired since (converge.py)
            tags = [(PARENT_TAG, self.parent), ("mlflow.runName", trial.name)]
            self.remote.log_batch(encode.entities_body(run.run_id, "tags", tags))
        params = [
            (encode.mlflow_key(k), encode.truncate(v, encode.MAX_PARAM_VALUE_CHARS)[0])
            for k, v in sorted(trial.params.items())
        ]
        for i in range(0, len(params), encode.MAX_PARAMS_PER_BATCH):
            chunk = params[i : i + encode.MAX_PARAMS_PER_BATCH]
            self.remote.log_batch(encode.entities_body(run.run_id, "params", chunk))
        keys = sorted(trial.metrics)
        if keys:
            self.remote.log_batch(
                encode.metrics_body(
                    run.run_id,
                    [encode.mlflow_key(k) for k in keys],
                    [trial.metrics[k] for k in keys],
                    [trial.time_ms] * len(keys),
                    [trial.step] * len(keys),
                )
            )
        self.remote.update_run(run.run_id, "FINISHED", trial.time_ms)
        return run.run_id


def read_trials(run_dir: Path, run_name: str) -> list[Trial]:
    """The run's trials, read from its `hparams` stream."""
    return trials(read_stream(run_dir, "hparams"), run_name)
