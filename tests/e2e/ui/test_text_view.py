"""The text view in a real browser: logged markdown renders (headings, emphasis, lists,
tables, code), HTML in it is shown as text and never runs (no <script>, no onerror), and the
slider shows the text of each logged step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import localtrack

HOSTILE = """# Report for step {step}

Accuracy is **{acc:.2f}** and the loss is *falling*.

| split | acc |
|---|---|
| train | {acc:.2f} |
| val | 0.50 |

- first item
- second item with `code`

<script>window.__pwned = "script"</script>
<img src="x" onerror="window.__pwned = 'onerror'">

[a link](javascript:window.__pwned='link') and [docs](https://example.org/docs)

```python
print("hello")
```
"""


def log_texts(root: Path) -> None:
    writer = localtrack.SummaryWriter(str(root / "nlp" / "bert"))
    for step in range(5):
        writer.add_text("notes/report", HOSTILE.format(step=step, acc=0.5 + step / 10), step)
    writer.add_text("notes/other", "plain *text*", 0)
    writer.close()


def test_markdown_renders_and_html_in_it_does_not_run(
    tmp_path: Path, ui: Any, page: Any, screenshot: Any
) -> None:
    log_texts(tmp_path)
    page.goto(ui(tmp_path).url.replace("/?", "/?view=text&"))
    card = "[data-testid=text-card][data-tag='notes/report']"
    page.wait_for_selector(f"{card}[data-state=shown]")
    body = page.locator(f"{card} [data-testid=text-body]")
    assert body.get_attribute("data-step") == "4"
    assert body.locator("h1").text_content() == "Report for step 4"
    assert body.locator("strong").first.text_content() == "0.90"
    assert body.locator("table td").all_text_contents() == ["train", "0.90", "val", "0.50"]
    assert body.locator("li").count() == 2
    assert body.locator("pre code.language-python").text_content().strip() == 'print("hello")'
    # the HTML is there as text, and did nothing
    text = body.text_content()
    assert '<script>window.__pwned = "script"</script>' in text
    assert '<img src="x" onerror="window.__pwned = \'onerror\'">' in text
    assert body.locator("script, img").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    hrefs = body.locator("a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert hrefs == ["https://example.org/docs"]  # the javascript: link is text only

    slider = page.locator(f"{card} [data-testid=step-slider]")
    slider.fill("1")
    page.wait_for_selector(f"{card} [data-testid=text-body][data-step='1']")
    assert body.locator("h1").text_content() == "Report for step 1"
    assert body.locator("strong").first.text_content() == "0.60"
    page.wait_for_timeout(200)  # a late onerror would fire now
    assert page.evaluate("() => window.__pwned") is None
    screenshot(page, "text")
