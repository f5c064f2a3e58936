"""The SQL console in a real browser: a query's rows are localtrack.sql's, the table is
virtualised over the first 10,000 rows with the total shown, "chart this" draws the rows'
values, refused statements show why, and the query stays in the URL."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from urllib.parse import quote

import localtrack

POINTS = 12_000
CURVE = (
    "SELECT r.name AS run_name, s.step, s.value FROM scalars s JOIN runs r USING (run_id) "
    "WHERE s.tag = 'train/loss' ORDER BY run_name, step"
)


def write_store(root: Path) -> None:
    for name, lr in (("lr-0.1", 0.1), ("lr-0.03", 0.03), ("lr-0.01", 0.01)):
        run = localtrack.init(project="sweep", name=name, dir=root, config={"lr": lr, "seed": 1})
        for step in range(200):
            loss = 2.0 * math.exp(-lr * step / 8) + 0.05 * math.sin(step / 5)
            run.log({"train/loss": loss, "train/acc": 1 - loss / 2.2}, step=step)
        run.finish()
    w = localtrack.SummaryWriter(root / "long" / "many-points")
    for step in range(POINTS):
        w.add_scalar("noise", (step * 7919 % 1000) / 1000, step)
    w.close()


def open_console(page: Any, handle: Any, sql: str | None = None) -> None:
    page.goto(handle.url)  # sets the token cookie
    base = handle.url.split("?")[0]
    page.goto(base + "?view=sql" + ("" if sql is None else "&sql=" + quote(sql)))
    page.wait_for_selector(
        "[data-testid=sql-view][data-state=done], [data-testid=sql-view][data-state=error]"
    )


def run_query(page: Any, sql: str) -> None:
    page.fill("[data-testid=sql-editor]", sql)
    page.click("[data-testid=sql-run]")
    page.wait_for_function(
        "() => ['done', 'error'].includes(document.querySelector('[data-testid=sql-view]').dataset.state)"
    )


def visible_rows(page: Any) -> list[list[str]]:
    return page.locator("[data-testid=sql-row]").evaluate_all(
        "rows => rows.map(r => [...r.querySelectorAll('[data-testid=sql-cell]')].map(c => c.textContent))"
    )


def test_rows_are_localtrack_sql_rows_in_a_virtual_table(
    tmp_path: Path, ui: Any, page: Any, screenshot: Any
) -> None:
    write_store(tmp_path)
    handle = ui(tmp_path)
    open_console(page, handle)
    query = "SELECT step, value FROM scalars WHERE tag = 'noise' ORDER BY step"
    run_query(page, query)
    status = page.text_content("[data-testid=sql-status]")
    assert status.startswith(f"first 10,000 of {POINTS:,} rows")
    expected = localtrack.sql(query, tmp_path).fetchall()
    rows = visible_rows(page)
    assert 20 < len(rows) < 200  # only what is on screen is in the page
    assert [(int(a), float(b)) for a, b in rows[:20]] == [
        (a, round(b, 6)) for a, b in expected[:20]
    ]
    page.locator("[data-testid=sql-table]").evaluate("t => { t.scrollTop = t.scrollHeight; }")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=sql-row]')].some(r => r.dataset.row === '9999')"
    )
    last = page.locator(
        "[data-testid=sql-row][data-row='9999'] [data-testid=sql-cell]"
    ).all_text_contents()
    assert (int(last[0]), float(last[1])) == (9999, round(expected[9999][1], 6))
    assert page.get_attribute("[data-testid=sql-table]", "data-total") == str(POINTS)
    assert "sql=" in page.url and "noise" in page.url  # the query is in the URL

    run_query(
        page,
        "SELECT r.name, s.tag, count(*) AS points, round(min(s.value), 4) AS min, "
        "round(max(s.value), 4) AS max FROM scalars s JOIN runs r USING (run_id) "
        "GROUP BY ALL ORDER BY ALL",
    )
    page.locator("[data-testid=sql-table]").evaluate("t => { t.scrollTop = 0; }")
    screenshot(page, "sql-console-table")


def test_chart_this_draws_the_rows_values(
    tmp_path: Path, ui: Any, page: Any, screenshot: Any
) -> None:
    write_store(tmp_path)
    handle = ui(tmp_path)
    open_console(page, handle, CURVE)
    assert page.get_attribute("[data-testid=sql-table]", "data-rows") == "600"
    page.click("[data-testid=sql-chart-toggle]")
    page.wait_for_selector("[data-testid=sql-chart][data-state=drawn]")
    assert page.input_value("[data-testid=sql-x]") == "1"  # step
    assert page.input_value("[data-testid=sql-y]") == "2"  # value
    drawn = page.evaluate(
        "() => { const u = window.localtrack.sql.chart;"
        " return {labels: u.series.slice(1).map(s => s.label), data: u.data.map(a => Array.from(a))}; }"
    )
    expected = localtrack.sql(CURVE, tmp_path).fetchall()
    assert drawn["labels"] == ["lr-0.01", "lr-0.03", "lr-0.1"]
    assert drawn["data"][0] == list(range(200))
    for i, name in enumerate(drawn["labels"], start=1):
        assert drawn["data"][i] == [v for n, _, v in expected if n == name]
    assert "sqlview=chart" in page.url
    screenshot(page, "sql-console-chart")


def test_refused_statement_shows_why_and_the_console_keeps_working(
    tmp_path: Path, ui: Any, page: Any
) -> None:
    write_store(tmp_path)
    handle = ui(tmp_path)
    open_console(page, handle, "CREATE TABLE t AS SELECT 1")
    error = page.text_content("[data-testid=sql-error]")
    assert "read-only" in error and "CREATE" in error
    run_query(page, "SELECT 6 * 7 AS answer")
    assert visible_rows(page) == [["42"]]
    # typing "/" in the query box types it (the page's "/" shortcut stays out of the way)
    page.fill("[data-testid=sql-editor]", "")
    page.click("[data-testid=sql-editor]")
    page.keyboard.type("SELECT 1/2 AS half")
    assert page.input_value("[data-testid=sql-editor]") == "SELECT 1/2 AS half"
