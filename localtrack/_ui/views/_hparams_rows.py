"""The hparams table's rows: one per `add_hparams` trial, else one per run with config or summary.

A trial is an `hparams` row of a run (docs/FORMAT.md). It is shown under its run, by the
run's name: `add_hparams` makes no sub-run here, and its default `run_name` (the call's
`time.time()`, as TensorBoard names its sub-runs) is dropped; an explicit one is kept as the
trial's name. A row's hparams are the run's config with the trial's hparams (flattened with
`/`) over it; its metrics the run's numeric summary with the trial's metrics over it, a metric
the trial left null (the TensorBoard protobuf path) taking the last value of that scalar tag.
Building the answer from the read tables is pure (`table`); `read` does the three queries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from localtrack._writer.config import flatten

TRIALS_SQL = """
    SELECT run_id, step, epoch_us(wall_time) / 1e6 AS t, hparams, metrics, domain_discrete,
        run_name
    FROM hparams ORDER BY run_id, wall_time, writer, seq
"""
KEYED_SQL = "SELECT run_id, key, value FROM {view}"
ANONYMOUS = re.compile(r"\d{9,11}(\.\d*)?")
"""`str(time.time())`: the name add_hparams gives a trial when the caller gave none."""
DAY_S = 86_400.0


@dataclass
class Trial:
    """One `add_hparams` call of a run."""

    name: str | None
    step: int | None
    hparams: dict[str, Any]
    metrics: dict[str, Any]
    domain: dict[str, list[Any]] = field(default_factory=dict)


@dataclass
class Stored:
    """What the queries read, by run id."""

    trials: dict[str, list[Trial]] = field(default_factory=dict)
    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)


def _json(text: object, default: Any) -> Any:
    if not isinstance(text, str) or not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def trial_name(run_name: object, wall_time: float | None) -> str | None:
    """The trial's own name, or None when add_hparams made one up (a timestamp) or none."""
    if not isinstance(run_name, str) or not run_name:
        return None
    if ANONYMOUS.fullmatch(run_name) and (
        wall_time is None or abs(float(run_name) - wall_time) < DAY_S
    ):
        return None
    return run_name


def read(cur: duckdb.DuckDBPyConnection) -> Stored:
    """The trials, current config and current summary of every run."""
    out = Stored()
    for run_id, step, t, hp, metrics, domain, run_name in cur.sql(TRIALS_SQL).fetchall():
        hparams = _json(hp, {})
        out.trials.setdefault(run_id, []).append(
            Trial(
                name=trial_name(run_name, t),
                step=step,
                hparams=flatten(hparams) if isinstance(hparams, dict) else {},
                metrics=m if isinstance(m := _json(metrics, {}), dict) else {},
                domain=d if isinstance(d := _json(domain, {}), dict) else {},
            )
        )
    for view, into in (("config", out.config), ("summary", out.summary)):
        for run_id, key, value in cur.sql(KEYED_SQL.format(view=view)).fetchall():
            into.setdefault(run_id, {})[key] = _json(value, value)
    return out


def is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def cell(v: Any) -> Any:
    """A value as the table shows it: numbers and strings as they are, others as JSON text."""
    if v is None or isinstance(v, str) or is_number(v):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v, sort_keys=True)


def kinds(rows: Iterable[Mapping[str, Any]], keys: Sequence[str]) -> dict[str, str]:
    """Per column: "number" when every value it holds is a number, else "category"."""
    out = dict.fromkeys(keys, "number")
    for row in rows:
        for k, v in row.items():
            if v is not None and not is_number(v):
                out[k] = "category"
    return out


def _metrics(
    trial: Trial | None, summary: Mapping[str, Any], last: Mapping[str, float]
) -> dict[str, Any]:
    out = {k: v for k, v in summary.items() if is_number(v)}
    for k, v in (trial.metrics if trial else {}).items():
        if is_number(v):
            out[k] = v
        elif v is None and k in last:
            out[k] = last[k]
    return out


def table(
    run_order: Sequence[str], stored: Stored, last: Mapping[str, Mapping[str, float]]
) -> dict[str, Any]:
    """The /api/hparams/table answer (docs/UI.md): runs in `run_order` (newest first), each
    trial of a run in logged order; `last` holds each run's last value per scalar tag."""
    rows: list[dict[str, Any]] = []
    for run_id in run_order:
        config = stored.config.get(run_id, {})
        summary = stored.summary.get(run_id, {})
        trials: list[Trial | None] = list(stored.trials.get(run_id, []))
        if not trials and (config or any(is_number(v) for v in summary.values())):
            trials = [None]
        for i, trial in enumerate(trials):
            hparams = {
                k: cell(v) for k, v in {**config, **(trial.hparams if trial else {})}.items()
            }
            rows.append(
                {
                    "run_id": run_id,
                    "trial": trial.name if trial else None,
                    "index": i,
                    "trials": len(trials),
                    "source": "add_hparams" if trial else "config",
                    "step": trial.step if trial else None,
                    "hparams": hparams,
                    "metrics": _metrics(trial, summary, last.get(run_id, {})),
                }
            )
    hp_keys = sorted({k for r in rows for k in r["hparams"]})
    metric_keys = sorted({k for r in rows for k in r["metrics"]})
    domains: dict[str, list[Any]] = {}
    for trials_of in stored.trials.values():
        for t in trials_of:
            for k, values in t.domain.items():
                if isinstance(values, list):
                    domains[k] = [cell(v) for v in values]
    return {
        "hparams": hp_keys,
        "metrics": metric_keys,
        "kinds": {
            **kinds((r["hparams"] for r in rows), hp_keys),
            **{k: "number" for k in metric_keys},
        },
        "domains": domains,
        "rows": rows,
    }


def run_params(answer: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each run's hparams as the table shows them (its last trial's, for a run of several):
    what the scalars view groups runs by."""
    out: dict[str, dict[str, Any]] = {}
    for row in answer["rows"]:
        out[row["run_id"]] = row["hparams"]
    return out
