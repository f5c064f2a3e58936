"""The dashboard's views beyond scalars and the run page: one module per tab.

Each module in this package defines:

- ``VIEW``: a :class:`View` (its name in the URL's ``view=``, the tab's title, the tab order,
  and its ES module under ``static/``, loaded only when the tab opens);
- ``QUERIES``: endpoint path -> work answered whole (JSON or bytes), retried on a snapshot
  that changed under it;
- optionally ``STREAMS``: endpoint path -> work whose answer is streamed (chunked).

The server discovers them at start (:func:`discover`); adding a view edits nothing else.
Views read the store only through the snapshot's DuckDB connection, never the reverse.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from localtrack._ui.answer import Answer
    from localtrack._ui.snapshot import Snapshot

Work = Callable[["Snapshot", "duckdb.DuckDBPyConnection", dict[str, str]], "Answer"]


@dataclass(frozen=True)
class View:
    """One tab: ``name`` in the URL, ``title`` on the tab, ``order`` among tabs, ``script``
    relative to static/ (an ES module exporting ``mount(element, app)``)."""

    name: str
    title: str
    order: int
    script: str

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "script": "/static/" + self.script}


def discover() -> list[ModuleType]:
    """Every view module of this package, in tab order."""
    modules = [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    ]
    views = [m for m in modules if isinstance(getattr(m, "VIEW", None), View)]
    return sorted(views, key=lambda m: (m.VIEW.order, m.VIEW.name))


def routes(modules: list[ModuleType], attribute: str) -> dict[str, Work]:
    """The modules' QUERIES or STREAMS merged; a path claimed twice is a programming error."""
    merged: dict[str, Work] = {}
    for module in modules:
        for path, work in getattr(module, attribute, {}).items():
            if path in merged:
                raise RuntimeError(f"{module.__name__} claims {path}, already routed")
            merged[path] = work
    return merged


def listing(modules: list[ModuleType]) -> list[dict[str, Any]]:
    """The tabs for /api/views."""
    return [m.VIEW.as_json() for m in modules]
