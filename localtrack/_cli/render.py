"""Query results as text: aligned tables for people, CSV, JSON and Parquet for programs."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

MAX_CELL = 60


def cell(value: Any) -> str:
    """One value as a short, readable table cell."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(value) if math.isnan(value) or math.isinf(value) else f"{value:.6g}"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.timedelta):
        return duration(value.total_seconds())
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    text = value if isinstance(value, str) else json.dumps(plain(value))
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def plain(value: Any) -> Any:
    """A value as JSON can hold it (timestamps as ISO text, bytes as base64, NaN as null)."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if all(isinstance(x, tuple) and len(x) == 2 for x in value) and value:
            return {str(k): plain(v) for k, v in value}  # a MAP as pyarrow lists it
        return [plain(x) for x in value]
    return value


def text_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], out: IO[str]) -> None:
    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip(), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip(), file=out)


def rows_of(table: pa.Table) -> list[tuple[Any, ...]]:
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return list(zip(*columns, strict=True)) if columns else []


def write_table(table: pa.Table, out: IO[str] | None = None) -> None:
    text_table(table.column_names, rows_of(table), out or sys.stdout)


def csv_value(value: Any) -> Any:
    """A CSV field: numbers and text as they are, times in ISO form, the rest as JSON."""
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return json.dumps(plain(value))


def write_csv(table: pa.Table, out: IO[str] | None = None) -> None:
    writer = csv.writer(out or sys.stdout, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in rows_of(table):
        writer.writerow([csv_value(v) for v in row])


def write_json(table: pa.Table, out: IO[str] | None = None) -> None:
    records = [
        dict(zip(table.column_names, map(plain, row), strict=True)) for row in rows_of(table)
    ]
    json.dump(records, out or sys.stdout, indent=1, default=str)
    print(file=out or sys.stdout)


def write_parquet(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression="zstd")
