"""`localtrack export RUN… --format tensorboard`: runs as TensorBoard event files.

One directory per run under the output folder, named by the run's name (a run whose name
another run also has gets `-<run id>` appended), so `tensorboard --logdir OUT` lists each run
once, with its hparams in its own folder. Each writer of the run (a process that logged to
it) becomes one event file, written with tensorboard's RecordWriter and protos: its
file_version event at the writer's start, its rows in wall-time order, as tb_summaries.py
builds them. Embeddings go to the projector's files (projector_config.pbtxt, TSVs, sprite),
as torch's add_embedding writes them. What TensorBoard has no summary for travels beside,
as `localtrack` plugin values TensorBoard ignores (tb_carry.py), so importing the export
again gives back the run, row for row (docs/INTEROP.md says what changes).

Exporting again into the same folder replaces the files a previous export wrote there
(names ending `.localtrack`); a folder holding other event files is refused.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import duckdb
import numpy as np
import pyarrow as pa

from localtrack._errors import UsageError
from localtrack._interop import tb_summaries as tbs
from localtrack._interop.tb_export_files import write_embeddings
from localtrack._interop.tb_runs import is_event_file
from localtrack._query.connect import run_with_retry
from localtrack._query.files import RunEntry
from localtrack._store.schema import STREAMS

SUFFIX = ".localtrack"
NATIVE = {
    "histograms": tbs.histogram,
    "images": tbs.image,
    "texts": tbs.text,
    "pr_curves": tbs.pr_curve,
    "audio": tbs.audio,
    "meshes": tbs.mesh,
    "tensors": tbs.tensor,
}
"""Tagged streams TensorBoard shows, each row one event of the builder's values."""

CARRIED = (
    "graphs",
    "hparams",
    "embeddings",
    "config",
    "summary",
    "tables",
    "video",
    "boxes",
    "onnx_graphs",
)
"""Streams whose rows travel whole as `localtrack` values (graphs and hparams are also
written as TensorBoard's own summaries, for its graph and hparams dashboards, and embeddings
as the projector's files, whose sprite holds 8-bit colours)."""

NOT_SHOWN = ("config", "summary", "tables", "video", "boxes", "onnx_graphs")
"""Carried streams TensorBoard has no view of."""


@dataclass
class ExportReport:
    runs: list[tuple[str, Path]] = field(default_factory=list)
    rows: Counter[str] = field(default_factory=Counter)
    not_shown: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        streams = ", ".join(f"{k} {v:,}" for k, v in sorted(self.rows.items())) or "no rows"
        lines = [f"exported {len(self.runs)} run(s) as TensorBoard event files: {streams}"]
        if self.not_shown:
            hidden = ", ".join(f"{k} {v:,}" for k, v in sorted(self.not_shown.items()))
            lines.append(
                f"  kept for `localtrack import tensorboard` but not shown by TensorBoard "
                f"(it has no view for them): {hidden}"
            )
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def read_tables(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    """Every stream's rows as the views show them; config and summary as every write (their
    views keep the latest value per key, without the writer that wrote it)."""
    views = {s: f"_{s}_rows" if s in ("config", "summary") else s for s in STREAMS}
    tables = {s: con.sql(f"SELECT * FROM {v}").arrow().read_all() for s, v in views.items()}
    return {s: t for s, t in tables.items() if t.num_rows}


def export_tensorboard(
    entries: list[RunEntry], out: Path, log: TextIO | None = None
) -> ExportReport:
    """Write each run of `entries` to its own directory under `out`."""
    tbs.load()  # a clear error before anything is written
    log = log if log is not None else sys.stderr
    report = ExportReport()
    names = _dir_names(entries)
    for i, (entry, name) in enumerate(zip(entries, names, strict=True)):
        run_dir = out / name
        _clear(run_dir)
        tables = run_with_retry(entry.path, read_tables)
        before = sum(report.rows.values())
        _export_run(tables, run_dir, report)
        report.runs.append((name, run_dir))
        print(
            f"export: [{i + 1}/{len(entries)}] {entry.marker['run_id']} -> {run_dir}: "
            f"{sum(report.rows.values()) - before:,} rows",
            file=log,
            flush=True,
        )
    return report


def _dir_names(entries: list[RunEntry]) -> list[str]:
    """Each run's folder: its name made safe as a relative path, unique among `entries`."""
    safe = [_safe(str(e.marker.get("name") or e.marker["run_id"])) for e in entries]
    counts = Counter(safe)
    return [
        n if counts[n] == 1 else f"{n}-{e.marker['run_id']}"
        for n, e in zip(safe, entries, strict=True)
    ]


def _safe(name: str) -> str:
    parts = [re.sub(r"[\x00-\x1f\\:]", "_", p) for p in name.split("/")]
    parts = [p for p in parts if p not in ("", ".", "..")]
    return "/".join(parts) or "run"


def _clear(run_dir: Path) -> None:
    if not run_dir.is_dir():
        run_dir.mkdir(parents=True)
        return
    files = [p for p in run_dir.iterdir() if p.is_file() and is_event_file(p.name)]
    foreign = [p.name for p in files if not p.name.endswith(SUFFIX)]
    if foreign:
        raise UsageError(
            f"{run_dir} already holds event files localtrack did not write ({foreign[0]}…): "
            "export into an empty folder, or remove them"
        )
    for p in files:
        p.unlink()


def _export_run(tables: dict[str, pa.Table], run_dir: Path, report: ExportReport) -> None:
    events = tables.get("events")
    writers = _writers(tables)
    for n, (writer, info) in enumerate(writers.items()):
        items: list[tuple[int, int, Any]] = []  # (wall µs, order, Event)
        for stream, table in tables.items():
            if stream == "events":
                continue
            part = _of_writer(table, writer)
            if part.num_rows:
                _stream_events(stream, part, items, report)
        if events is not None:
            _event_rows(_of_writer(events, writer), items, report)
        items.sort(key=lambda x: (x[0], x[1]))
        _write_file(run_dir, n, info, items)
    if "embeddings" in tables:
        write_embeddings(tables["embeddings"], run_dir, report.warnings)


def _writers(tables: dict[str, pa.Table]) -> dict[str, dict[str, Any]]:
    """Every writer of the run, in the order they started: start/finish events and times."""
    found: dict[str, dict[str, Any]] = {}
    for table in tables.values():
        if "writer" not in table.column_names:
            continue
        walls = _micros(table)
        for w in set(table.column("writer").to_pylist()):
            mask = np.asarray(table.column("writer").to_numpy(zero_copy_only=False) == w)
            info = found.setdefault(w, {"first": int(walls[mask].min()), "start": None})
            info["first"] = min(info["first"], int(walls[mask].min()))
    events = tables.get("events")
    if events is not None:
        for row in _rows(events):
            of = found.get(row["writer"])
            if of is None:
                continue
            if row["kind"] == "start" and of["start"] is None:
                of["start"] = row
            elif row["kind"] == "finish":
                of["finish"] = row
    return dict(sorted(found.items(), key=lambda kv: _start_us(kv[1])))


def _start_us(info: dict[str, Any]) -> int:
    return int(info["start"]["wall_us"]) if info["start"] else int(info["first"])


def _micros(table: pa.Table) -> np.ndarray:
    return np.asarray(table.column("wall_time").cast(pa.int64()).to_numpy(zero_copy_only=False))


def _of_writer(table: pa.Table, writer: str) -> pa.Table:
    mask = np.asarray(table.column("writer").to_numpy(zero_copy_only=False) == writer)
    return table.filter(pa.array(mask))


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as dicts, wall time as integer microseconds `wall_us` (exact)."""
    micros = _micros(table).tolist()
    rows: list[dict[str, Any]] = table.drop_columns(["wall_time"]).to_pylist()
    for row, us in zip(rows, micros, strict=True):
        row["wall_us"] = us
    return rows


def _seconds(us: int) -> float:
    return us / 1e6


_DROP = ("run_id", "writer", "seq", "rank", "host", "pid", "wall_us")


def _stream_events(
    stream: str, table: pa.Table, items: list[tuple[int, int, Any]], report: ExportReport
) -> None:
    if stream == "scalars":
        _scalar_events(table, items)
        report.rows["scalars"] += table.num_rows
        return
    for row in _rows(table):
        wall = _seconds(row["wall_us"])
        row["wall"] = wall
        values: list[Any] = []
        if stream in NATIVE:
            try:
                values = NATIVE[stream](row)
            except (ValueError, TypeError) as exc:
                report.warnings.append(f"{stream} {row['tag']!r} step {row['step']}: {exc}")
                continue
        if stream == "images" and row["caption"] is not None:  # no caption in TensorBoard's
            values.append(tbs.carried("caption", {"tag": row["tag"], "caption": row["caption"]}))
            report.not_shown["image captions"] += 1
        if stream in CARRIED:
            data = {k: v for k, v in row.items() if k not in (*_DROP, "step", "wall")}
            if stream in ("config", "summary"):
                values.append(tbs.carried("record", {"stream": stream, "row": data}))
            else:
                values.append(tbs.carried("row", {"stream": stream, **_tagged(data)}))
            if stream == "hparams":
                values += tbs.hparams(row)
            if stream in NOT_SHOWN:
                report.not_shown[stream] += 1
        step = row.get("step", 0)
        items.append((row["wall_us"], len(items), tbs.event(step, wall, values)))
        if stream == "graphs":
            graph = tbs.load().event_pb2.Event(
                step=step, wall_time=wall, graph_def=tbs.graph_def(row)
            )
            items.append((row["wall_us"], len(items), graph))
        report.rows[stream] += 1


def _tagged(row: dict[str, Any]) -> dict[str, Any]:
    tag = row.pop("tag")
    return {"tag": tag, "payload": row}


def _scalar_events(table: pa.Table, items: list[tuple[int, int, Any]]) -> None:
    tags = table.column("tag").to_pylist()
    steps = table.column("step").to_numpy().tolist()
    values = table.column("value").to_numpy(zero_copy_only=False).tolist()
    micros = _micros(table).tolist()
    groups: dict[tuple[int, int], list[Any]] = {}  # one event per (time, step): run.log's keys
    seen: dict[tuple[int, int], set[str]] = {}
    for tag, step, value, us in zip(tags, steps, values, micros, strict=True):
        key = (us, step)
        if tag in seen.setdefault(key, set()):  # the same tag twice at one time: two events
            items.append((us, len(items), tbs.event(step, _seconds(us), groups.pop(key))))
            seen[key] = set()
        seen[key].add(tag)
        groups.setdefault(key, []).append(tbs.scalar(tag, value))
    for (us, step), group in groups.items():
        items.append((us, len(items), tbs.event(step, _seconds(us), group)))


def _event_rows(table: pa.Table, items: list[tuple[int, int, Any]], report: ExportReport) -> None:
    """Run events: a custom-scalars layout and a purge as TensorBoard writes them, TensorBoard
    rows imported earlier as their own protos, others (and start/finish) carried."""
    tb = tbs.load()
    for row in _rows(table):
        kind, us = row["kind"], row["wall_us"]
        wall = _seconds(us)
        payload = json.loads(row["payload"]) if row["payload"] else {}
        if kind in ("start", "finish"):
            continue  # the file's own first and last events (_write_file)
        if kind == "layout":
            items.append((us, len(items), tbs.event(0, wall, tbs.layout(payload))))
        elif kind == "purge":
            log = tb.event_pb2.SessionLog(status=tb.event_pb2.SessionLog.START)
            purge = tb.event_pb2.Event(step=payload["step"], wall_time=wall, session_log=log)
            items.append((us, len(items), purge))
        elif kind == "tensorboard" and payload.get("proto") in ("Event", "Value"):
            proto = base64.b64decode(payload["data"])
            if payload["proto"] == "Event":
                items.append((us, len(items), tb.event_pb2.Event.FromString(proto)))
            else:
                value = tb.summary_pb2.Summary.Value.FromString(proto)
                items.append((us, len(items), tbs.event(payload["step"], wall, [value])))
        else:
            data = {"stream": "events", "row": {k: v for k, v in row.items() if k not in _DROP}}
            items.append((us, len(items), tbs.event(0, wall, [tbs.carried("record", data)])))
            report.not_shown["events"] += 1
        report.rows["events"] += 1


def _write_file(run_dir: Path, n: int, info: dict[str, Any], items: list[Any]) -> None:
    tb = tbs.load()
    start_us = _start_us(info)
    start = info["start"]
    host = re.sub(r"[^\w.-]", "_", str((start or {}).get("host") or socket.gethostname()))
    name = f"events.out.tfevents.{start_us // 1_000_000:010d}.{host}.{n}{SUFFIX}"
    writer_info = {
        "start_us": start_us,
        "payload": json.loads(start["payload"]) if start and start["payload"] else {},
        "carried": list(CARRIED),
    }
    head = [
        tb.event_pb2.Event(wall_time=_seconds(start_us), file_version="brain.Event:2"),
        tbs.event(0, _seconds(start_us), [tbs.carried("writer", writer_info)]),
    ]
    finish = info.get("finish")
    tail = []
    if finish is not None:
        data = {"status": finish["status"], "exit_code": finish["exit_code"]}
        tail.append(tbs.event(0, _seconds(finish["wall_us"]), [tbs.carried("finish", data)]))
    tmp = run_dir / f".{name}.tmp"
    with open(tmp, "wb") as f:
        rec = tb.RecordWriter(f)
        for e in head:
            rec.write(e.SerializeToString())
        for _, _, e in items:
            rec.write(e.SerializeToString())
        for e in tail:
            rec.write(e.SerializeToString())
        rec.flush()
    tmp.replace(run_dir / name)
