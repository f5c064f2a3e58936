"""A query result as the console's table receives it: column arrays of JSON-safe cells.

Each column has a `kind` the page draws by: `number` (integers beyond ±2⁵³ travel as text,
which JavaScript numbers cannot hold exactly), `time` (ISO 8601 text; a naive TIMESTAMP is
UTC, as every localtrack time), `bool`, `text`, `blob` (shown as its size) and `other`
(lists, structs, maps as compact JSON text). Text longer than CELL_CHARS is cut with "…":
the table shows one line per row; the CSV download holds every value whole.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.types as pt

from localtrack._ui.wire import finite_or_text

CELL_CHARS = 500
SAFE_INT = 2**53


def kind_of(t: pa.DataType) -> str:
    if pt.is_integer(t) or pt.is_floating(t) or pt.is_decimal(t):
        return "number"
    if pt.is_timestamp(t) or pt.is_date(t) or pt.is_time(t):
        return "time"
    if pt.is_boolean(t):
        return "bool"
    if pt.is_string(t) or pt.is_large_string(t) or pt.is_dictionary(t):
        return "text"
    if pt.is_binary(t) or pt.is_large_binary(t) or pt.is_fixed_size_binary(t):
        return "blob"
    return "other"


def _cut(text: str) -> str:
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


def _number(v: Any) -> Any:
    plain = finite_or_text(v)  # a DECIMAL or HUGEINT arrives as a Decimal
    if isinstance(plain, int) and not isinstance(plain, bool) and abs(plain) > SAFE_INT:
        return str(plain)
    return plain


def _time(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        text = v.isoformat()
        return text + "Z" if v.tzinfo is None else text
    return v.isoformat() if hasattr(v, "isoformat") else str(v)


def _other(v: Any) -> str:
    return _cut(json.dumps(finite_or_text(v), ensure_ascii=False, default=str))


CELL: dict[str, Callable[[Any], Any]] = {
    "number": _number,
    "time": _time,
    "bool": bool,
    "text": lambda v: _cut(str(v)),
    "blob": lambda v: f"<{len(v)} bytes>",
    "other": _other,
}


def column_cells(array: pa.ChunkedArray | pa.Array, kind: str) -> list[Any]:
    """One column's cells (NULL stays None)."""
    cell = CELL[kind]
    return [None if v is None else cell(v) for v in array.to_pylist()]


def table_json(table: pa.Table) -> tuple[list[dict[str, str]], list[list[Any]]]:
    """The result's columns ({name, type, kind}) and their cells, column by column."""
    columns = []
    data = []
    for field, array in zip(table.schema, table.columns, strict=True):
        kind = kind_of(field.type)
        columns.append({"name": field.name, "type": str(field.type), "kind": kind})
        data.append(column_cells(array, kind))
    return columns, data
