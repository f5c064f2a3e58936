"""What a report holds, read from one snapshot with the dashboard's own queries.

Scalars are reduced exactly as `/api/series` reduces them (scalars.py: pyarrow and numpy over
the run's files, or DuckDB where a purge may hide rows): per pixel column the first, last,
minimum and maximum point, so no spike is lost; hparams come from the Hparams view's table,
images, histograms, texts, PR curves and meshes from those views' row readers. The result is
JSON-ready (numbers as packed typed arrays, packing.py) and holds no path of the machine
beyond the runs root's name.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import localtrack
from localtrack._errors import LocaltrackError
from localtrack._ui.m4 import SeriesRequest
from localtrack._ui.scalars import any_overwriter, finite_series, purges_of, source_sql
from localtrack._ui.series import reduce_series
from localtrack._ui.series_numpy import NotHere, reduce_files
from localtrack._ui.snapshot import THREADS, Snapshot
from localtrack._ui.views import _stream_rows as rows
from localtrack._ui.views import histograms
from localtrack._ui.views import hparams as hparams_view
from localtrack._ui.views import pr_curves as pr_view
from localtrack._ui.views._tagged_rows import one_row, tensor
from localtrack._ui.wire import Series

from .packing import pack

FORMAT = "localtrack-report-v1"
WIDTH = 560
"""Pixel columns of each chart's M4 reduction: the report draws charts this wide, so the
reduction loses nothing the chart could show (at most 4 × WIDTH points per run and tag)."""
TEXT_STEPS = 20
"""Texts: the last this many steps of each tag."""
TEXT_CHARS = 20_000
"""A longer text is cut here (marked), so one log dump cannot fill the report."""
MESH_LIMIT = 20_000
"""Vertices and faces of one mesh beyond this many are left out of the drawing (counted)."""
RIDGES = 30
"""Histogram ridges drawn per tag: the last step and others spread over the run."""
IMAGE_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif"}

Progress = Callable[[str], None]


class ReportError(LocaltrackError, ValueError):
    """Nothing to report, or a filter that matches nothing: the message says what to change."""


def tag_filter(pattern: str | None) -> re.Pattern[str] | None:
    """The `--tags` regex (searched, case-insensitive, like the dashboard's tag filter)."""
    if pattern is None:
        return None
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as e:
        raise ReportError(f"--tags {pattern!r} is not a valid regular expression: {e}") from None


def _kept(tags: Sequence[str], rx: re.Pattern[str] | None) -> list[str]:
    return [t for t in tags if rx is None or rx.search(t)]


def run_rows(snap: Snapshot, runs: Sequence[str]) -> list[dict[str, Any]]:
    """The runs panel's rows of `runs`, in the order given."""
    by_id = {r["run_id"]: r for r in snap.facts["runs"]}
    return [by_id[r] for r in runs if r in by_id]


def scalar_tags(snap: Snapshot, runs: Sequence[str]) -> list[str]:
    per_tag: pa.Table = snap.facts["per_tag"]
    mine = per_tag.filter(pc.is_in(per_tag.column("run_id"), pa.array(list(runs), pa.string())))
    return sorted(set(mine.column("tag").to_pylist()))


def reduced(snap: Snapshot, cur: duckdb.DuckDBPyConnection, req: SeriesRequest) -> list[Series]:
    """The series of `req` as `/api/series` reduces them (scalars.series_body)."""
    if not purges_of(snap, req.runs) and not any_overwriter(snap, req.runs):
        with contextlib.suppress(NotHere):
            return reduce_files(snap.files, req, THREADS)
    finite = finite_series(snap, req.tag, req.runs)
    return reduce_series(cur, req, lambda r: source_sql(snap, r), finite)


def scalar_chart(snap: Snapshot, cur: duckdb.DuckDBPyConnection, tag: str, runs: Sequence[str]
                 ) -> dict[str, Any]:  # fmt: skip
    req = SeriesRequest(tag=tag, runs=tuple(runs), x="step", width=WIDTH)
    out = []
    for s in reduced(snap, cur, req):
        if not s.points:
            continue
        x, y, _bx, _bmin, _bmax, nx, ny = s.columns
        out.append(
            {
                "run_id": s.run_id,
                "points": s.points,
                "reduced": s.reduced,
                "x": pack(x),
                "y": pack(y),
                "nx": pack(nx),
                "ny": pack(ny),
            }
        )
    return {"tag": tag, "series": out}


def hparams_table(snap: Snapshot, cur: duckdb.DuckDBPyConnection, runs: Sequence[str]
                  ) -> dict[str, Any] | None:  # fmt: skip
    """The Hparams view's rows of `runs`, with only the keys they hold (None: no row)."""
    table = hparams_view.table_answer(snap, cur)
    wanted = set(runs)
    kept = [r for r in table["rows"] if r["run_id"] in wanted]
    if not kept:
        return None
    hp = [k for k in table["hparams"] if any(k in r["hparams"] for r in kept)]
    metrics = [k for k in table["metrics"] if any(k in r["metrics"] for r in kept)]
    return {"hparams": hp, "metrics": metrics, "rows": kept}


def stream_tags(snap: Snapshot, cur: duckdb.DuckDBPyConnection, stream: str,
                runs: Sequence[str], rx: re.Pattern[str] | None) -> list[dict[str, Any]]:  # fmt: skip
    """The tags of `stream` among `runs` that the filter keeps, each with its runs' steps."""
    found = rows.tags(snap, cur, stream, runs)
    return [t for t in found if rx is None or rx.search(t["tag"])]


def last_images(snap: Snapshot, cur: duckdb.DuckDBPyConnection, runs: Sequence[str],
                rx: re.Pattern[str] | None) -> list[dict[str, Any]]:  # fmt: skip
    """The last image of each image tag of each run, as a data: URI."""
    out = []
    for entry in stream_tags(snap, cur, "images", runs, rx):
        for held in entry["runs"]:
            run, step = held["run_id"], int(held["last_step"])
            cols = ("format", "data", "width", "height", "caption")
            row = rows.rows(snap, cur, "images", run, entry["tag"], cols, step=step).to_pylist()[0]
            kind = IMAGE_TYPES.get(row["format"] or "png", "application/octet-stream")
            data = base64.b64encode(row["data"] or b"").decode()
            out.append(
                {
                    "tag": entry["tag"],
                    "run_id": run,
                    "step": step,
                    "steps": held["steps"],
                    "width": row["width"],
                    "height": row["height"],
                    "caption": row["caption"],
                    "src": f"data:{kind};base64,{data}",
                }
            )
    return out


def _json_of(answer_body: bytes) -> Any:
    return json.loads(answer_body)


def histogram_ridges(snap: Snapshot, cur: duckdb.DuckDBPyConnection, runs: Sequence[str],
                     rx: re.Pattern[str] | None) -> list[dict[str, Any]]:  # fmt: skip
    """Per tag and run, the Histograms view's offset ridges (the last step always in)."""
    out = []
    for entry in stream_tags(snap, cur, "histograms", runs, rx):
        for held in entry["runs"]:
            query = {"run": held["run_id"], "tag": entry["tag"], "ridges": str(RIDGES),
                     "step": str(held["last_step"])}  # fmt: skip
            got = _json_of(histograms.offset_answer(snap, cur, query).body)
            got.pop("steps", None)
            out.append(got)
    return out


def _cut(text: str | None) -> str:
    text = text or ""
    if len(text) <= TEXT_CHARS:
        return text
    return text[:TEXT_CHARS] + f"\n… (cut: {len(text) - TEXT_CHARS:,} more characters)"


def texts(snap: Snapshot, cur: duckdb.DuckDBPyConnection, runs: Sequence[str],
          rx: re.Pattern[str] | None) -> list[dict[str, Any]]:  # fmt: skip
    """Per tag and run, the texts of the last TEXT_STEPS steps (shown as plain text)."""
    out = []
    for entry in stream_tags(snap, cur, "texts", runs, rx):
        for held in entry["runs"]:
            table = rows.rows(snap, cur, "texts", held["run_id"], entry["tag"], ("text",))
            steps = table.column("step").to_pylist()[-TEXT_STEPS:]
            values = table.column("text").to_pylist()[-TEXT_STEPS:]
            out.append(
                {
                    "tag": entry["tag"],
                    "run_id": held["run_id"],
                    "steps": held["steps"],
                    "items": [
                        {"step": s, "text": _cut(t)} for s, t in zip(steps, values, strict=True)
                    ],
                }
            )
    return out


def pr_curves(snap: Snapshot, cur: duckdb.DuckDBPyConnection, runs: Sequence[str],
              rx: re.Pattern[str] | None) -> list[dict[str, Any]]:  # fmt: skip
    """Per tag and run, the PR curve of the last step."""
    out = []
    for entry in stream_tags(snap, cur, "pr_curves", runs, rx):
        for held in entry["runs"]:
            query = {"run": held["run_id"], "tag": entry["tag"], "step": str(held["last_step"])}
            curve = _json_of(pr_view.curve_answer(snap, cur, query).body)
            out.append(
                {
                    "tag": entry["tag"],
                    "run_id": held["run_id"],
                    "step": curve["step"],
                    "steps": held["steps"],
                    **{k: pack(np.asarray(curve[k], dtype=float)) for k in pr_view.CURVE},
                }
            )
    return out


def _u8(values: np.ndarray) -> dict[str, Any]:
    arr = np.ascontiguousarray(values, dtype=np.uint8)
    return {"t": "u1", "n": int(arr.size), "b": base64.b64encode(arr.tobytes()).decode()}


def meshes(snap: Snapshot, cur: duckdb.DuckDBPyConnection, runs: Sequence[str],
           rx: re.Pattern[str] | None) -> list[dict[str, Any]]:  # fmt: skip
    """Per tag and run, the last mesh: its counts and bounds, and its first MESH_LIMIT
    vertices (with colours) and faces for a small drawing."""
    out = []
    for entry in stream_tags(snap, cur, "meshes", runs, rx):
        for held in entry["runs"]:
            row = one_row(cur, "meshes", ("vertices", "colors", "faces"), held["run_id"],
                          entry["tag"], None)  # fmt: skip
            vertices = tensor(row["vertices"])
            vertices = np.zeros((1, 0, 3)) if vertices is None else vertices
            v = np.asarray(vertices[0], dtype=np.float64)
            faces = tensor(row["faces"])
            f = np.zeros((0, 3)) if faces is None else np.asarray(faces[0])
            colors = tensor(row["colors"])
            finite = v[np.isfinite(v).all(axis=-1)]
            item: dict[str, Any] = {
                "tag": entry["tag"],
                "run_id": held["run_id"],
                "step": row["step"],
                "steps": held["steps"],
                "vertex_count": int(v.shape[0]),
                "face_count": int(f.shape[0]),
                "bounds": [finite.min(axis=0).tolist(), finite.max(axis=0).tolist()]
                if len(finite)
                else None,
                "vertices": pack(v[:MESH_LIMIT].reshape(-1)),
                "faces": pack(f[:MESH_LIMIT].reshape(-1).astype(np.float64)),
            }
            if colors is not None:
                item["colors"] = _u8(np.asarray(colors[0])[:MESH_LIMIT].reshape(-1))
            out.append(item)
    return out


def gather(
    snap: Snapshot,
    cur: duckdb.DuckDBPyConnection,
    runs: Sequence[str],
    *,
    tags: str | None = None,
    every_stream: bool = False,
    title: str = "localtrack report",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The report of `runs` (run ids of the snapshot): runs, scalars charts, hparams, last
    images; with `every_stream` also histograms, texts, PR curves and meshes.
    ReportError when `tags` keeps nothing of what these runs logged."""
    say = progress or (lambda _text: None)
    rx = tag_filter(tags)
    all_scalar = scalar_tags(snap, runs)
    kept = _kept(all_scalar, rx)
    charts = []
    started = time.monotonic()
    for i, tag in enumerate(kept):
        charts.append(scalar_chart(snap, cur, tag, runs))
        say(f"scalars {i + 1}/{len(kept)} tags ({time.monotonic() - started:.1f} s)")
    images = last_images(snap, cur, runs, rx)
    say(f"images: {len(images)}")
    payload: dict[str, Any] = {
        "format": FORMAT,
        "title": title,
        "generated_at": time.time(),
        "localtrack": localtrack.__version__,
        "root": str(snap.facts.get("root", "")),
        "tags": tags,
        "color_runs": [[r["run_id"], r["started_at"]] for r in snap.facts["runs"]],
        "runs": run_rows(snap, runs),
        "width": WIDTH,
        "scalars": charts,
        "hparams": hparams_table(snap, cur, runs),
        "images": images,
    }
    if every_stream:
        payload["histograms"] = histogram_ridges(snap, cur, runs, rx)
        payload["texts"] = texts(snap, cur, runs, rx)
        payload["pr_curves"] = pr_curves(snap, cur, runs, rx)
        payload["meshes"] = meshes(snap, cur, runs, rx)
        say("histograms, texts, PR curves, meshes")
    if (
        tags is not None
        and not charts
        and not images
        and not any(payload.get(k) for k in ("histograms", "texts", "pr_curves", "meshes"))
    ):
        some = ", ".join(all_scalar[:8]) + (" …" if len(all_scalar) > 8 else "")
        raise ReportError(
            f"no tag of these runs matches --tags {tags!r}"
            + (f" (their scalar tags: {some})" if all_scalar else " (they logged no scalars)")
            + "; change --tags or leave it out"
        )
    return payload
