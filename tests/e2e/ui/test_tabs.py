"""The tab bar in a real browser: a label never wraps (a narrow window scrolls the tabs
sideways), and a tab link reopens a view with its own URL parameters as it was left."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import localtrack

QUERY = "SELECT 41 + 1 AS answer"


def write_store(root: Path) -> None:
    for seed in (1, 2):
        run = localtrack.init(project="tabs", name=f"seed-{seed}", dir=root, config={"seed": seed})
        for step in range(20):
            run.log({"loss": 1.0 / (step + seed)}, step=step)
        run.finish()


def params(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_a_view_keeps_its_params_when_switching_tabs_and_back(
    tmp_path: Path, ui: Any, page: Any
) -> None:
    write_store(tmp_path)
    handle = ui(tmp_path)
    page.goto(handle.url)
    page.wait_for_selector("[data-testid=tab-sql]")
    page.click("[data-testid=tab-sql]")
    page.wait_for_selector("[data-testid=sql-view][data-state=done]")
    page.fill("[data-testid=sql-editor]", QUERY)
    page.click("[data-testid=sql-run]")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=sql-view]').dataset.state === 'done'"
    )
    assert params(page)["sql"] == [QUERY]

    page.click("#tab-scalars")
    page.wait_for_selector("[data-testid=chart][data-state=drawn]")
    assert "sql" not in params(page)  # a view's params stay with their view
    page.wait_for_selector("[data-testid=group-by] option[value=seed]", state="attached")
    page.select_option("[data-testid=group-by]", "seed")
    page.wait_for_selector("[data-testid=aggregate-chart][data-state=drawn]")
    assert params(page)["groupby"] == ["seed"]

    page.click("[data-testid=tab-sql]")
    page.wait_for_selector("[data-testid=sql-view][data-state=done]")
    assert params(page)["sql"] == [QUERY]
    assert "groupby" not in params(page)
    assert page.input_value("[data-testid=sql-editor]") == QUERY

    page.click("#tab-scalars")
    page.wait_for_selector("[data-testid=aggregate-chart][data-state=drawn]")
    assert params(page)["groupby"] == ["seed"]
    assert page.input_value("[data-testid=group-by]") == "seed"
    assert "sql" not in params(page)


def test_tab_labels_never_wrap_and_scroll_when_narrow(
    tmp_path: Path, ui: Any, new_page: Any
) -> None:
    write_store(tmp_path)
    handle = ui(tmp_path)
    page = new_page(viewport={"width": 560, "height": 700})
    page.goto(handle.url)
    page.wait_for_selector("[data-testid=tab-sql]")
    tabs = page.locator(".tabs .tab:not([hidden])").evaluate_all(
        """tabs => tabs.map(t => {
             const r = t.getBoundingClientRect();
             const line = parseFloat(getComputedStyle(t).lineHeight) || 18;
             const pad = parseFloat(getComputedStyle(t).paddingTop) + parseFloat(getComputedStyle(t).paddingBottom);
             return {text: t.textContent, lines: Math.round((r.height - pad) / line),
                     wrap: getComputedStyle(t).whiteSpace};
           })"""
    )
    assert len(tabs) >= 5
    assert all(t["lines"] == 1 and t["wrap"] == "nowrap" for t in tabs), tabs
    nav = page.locator(".tabs")
    scroll_width, client_width = nav.evaluate("n => [n.scrollWidth, n.clientWidth]")
    assert scroll_width > client_width  # more tabs than room: they scroll, not wrap
    nav.evaluate("n => { n.scrollLeft = n.scrollWidth; }")
    assert nav.evaluate("n => n.scrollLeft") > 0
    topbar = page.locator(".topbar").bounding_box()
    assert topbar is not None and topbar["height"] <= 46  # still one bar, not two lines
