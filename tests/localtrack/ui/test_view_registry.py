"""The view registry: modules in localtrack._ui.views become tabs and routes."""

from __future__ import annotations

import types

import pytest

from localtrack._ui import views


def module(name: str, order: int, queries: dict[str, object]) -> types.ModuleType:
    m = types.ModuleType(name)
    m.VIEW = views.View(name, name.title(), order, f"js/views/{name}.js")  # type: ignore[attr-defined]
    m.QUERIES = queries  # type: ignore[attr-defined]
    return m


def test_routes_merge_and_refuse_a_path_claimed_twice() -> None:
    a = module("a", 1, {"/api/a": lambda *x: None})
    b = module("b", 2, {"/api/b": lambda *x: None})
    assert sorted(views.routes([a, b], "QUERIES")) == ["/api/a", "/api/b"]
    assert views.routes([a, b], "STREAMS") == {}
    with pytest.raises(RuntimeError, match="already routed"):
        views.routes([a, module("c", 3, {"/api/a": lambda *x: None})], "QUERIES")


def test_listing_gives_name_title_and_static_script() -> None:
    assert views.listing([module("text", 5, {})]) == [
        {"name": "text", "title": "Text", "script": "/static/js/views/text.js"}
    ]


def test_every_discovered_view_has_its_script_shipped() -> None:
    from localtrack._ui.static_files import StaticFiles

    static = StaticFiles()
    for m in views.discover():
        assert static.get(m.VIEW.script) is not None, m.__name__
