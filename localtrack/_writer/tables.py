"""localtrack.Table: W&B's Table, logged with run.log({"key": table}) into the `tables` stream.

Each log of a table is one version of it, stored as one row: the column names, a kind per
column (number, string, bool, image, json, null), the row count and the rows as one JSON
array of arrays, which DuckDB unpacks with its JSON functions. Cells may be numbers, strings,
bools, None, lists, dicts, numpy/torch scalars, or localtrack.Image (stored as a PNG in
base64 under {"_type": "image", …}).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from localtrack._errors import UsageError
from localtrack._writer.values import BadValue, capture_scalar, is_tensor

_LOG_MODES = ("IMMUTABLE", "MUTABLE", "INCREMENTAL")


class Table:
    """A table of rows, as wandb.Table: Table(columns=[...], data=[[...], ...])."""

    def __init__(
        self,
        columns: Sequence[str] | None = None,
        data: Sequence[Sequence[Any]] | None = None,
        rows: Sequence[Sequence[Any]] | None = None,
        dataframe: Any = None,
        dtype: Any = None,
        optional: Any = True,
        allow_mixed_types: bool = False,
        log_mode: str | None = "IMMUTABLE",
    ) -> None:
        if log_mode is not None and log_mode not in _LOG_MODES:
            raise UsageError(f"log_mode must be one of {_LOG_MODES}, got {log_mode!r}")
        if dataframe is not None:
            columns = [str(c) for c in dataframe.columns]
            data = dataframe.values.tolist()
        rows = data if data is not None else rows
        if columns is None:
            width = len(rows[0]) if rows else 0
            columns = [f"Column{i + 1}" for i in range(width)]
        self.columns: list[str] = [str(c) for c in columns]
        self.data: list[list[Any]] = []
        for row in rows or []:
            self.add_data(*row)

    def add_data(self, *data: Any) -> None:
        """Append one row (one value per column)."""
        if len(data) != len(self.columns):
            raise UsageError(
                f"a row of {len(data)} values for {len(self.columns)} columns {self.columns}"
            )
        self.data.append(list(data))

    def add_column(self, name: str, data: Sequence[Any]) -> None:
        if name in self.columns:
            raise UsageError(f"the table already has a column {name!r}")
        if self.data and len(data) != len(self.data):
            raise UsageError(f"{len(data)} values for a table of {len(self.data)} rows")
        self.columns.append(name)
        if not self.data:
            self.data = [[v] for v in data]
        else:
            for row, value in zip(self.data, data, strict=True):
                row.append(value)

    def get_column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [row[i] for row in self.data]

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"<localtrack.Table {len(self.columns)} columns × {len(self.data)} rows>"

    def payload(self) -> dict[str, Any]:
        """The `tables` row of this version (computed when it is logged)."""
        cells = [[_cell(v) for v in row] for row in self.data]
        kinds = [_kind([row[i] for row in cells]) for i in range(len(self.columns))]
        return {
            "columns": list(self.columns),
            "column_types": kinds,
            "num_rows": len(cells),
            "data": json.dumps(cells, allow_nan=True),
        }

    def describe(self) -> dict[str, Any]:
        return {"_type": "table", "ncols": len(self.columns), "nrows": len(self.data)}


def _cell(value: Any) -> Any:
    from localtrack._writer.media import Image

    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Image):
        p = value.payload()
        return {
            "_type": "image",
            "format": p["format"],
            "width": p["width"],
            "height": p["height"],
            "caption": p["caption"],
            "png_base64": base64.b64encode(p["data"]).decode(),
        }
    if isinstance(value, dict):
        return {str(k): _cell(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_cell(v) for v in value]
    if isinstance(value, np.ndarray) or is_tensor(value):
        arr = value if isinstance(value, np.ndarray) else value.detach().cpu().numpy()
        if arr.size != 1:
            return arr.tolist()
    try:
        number = capture_scalar(value)
    except BadValue:
        return str(value)
    return number if isinstance(number, int | float) else float(number.cpu())  # type: ignore[attr-defined]


def _kind(column: list[Any]) -> str:
    kinds = {_kind_of(v) for v in column} - {"null"}
    if not kinds:
        return "null"
    return kinds.pop() if len(kinds) == 1 else "json"


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict) and value.get("_type") == "image":
        return "image"
    return "json"
