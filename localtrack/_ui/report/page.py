"""The report's one HTML file: the template with uPlot, colors.js, the page's script and CSS
inlined, and the data as one JSON block.

The JSON goes in a `<script type="application/json">` with every `<` written `\\u003c`, so no
string of the store can close the block; the page reads it with JSON.parse and puts strings
into the DOM as text. The file's own Content-Security-Policy allows no request at all (only
its inline script and styles, and data: images), so it cannot reach the network even where a
logged string tried.
"""

from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path
from typing import Any

from localtrack._ui.wire import finite_or_text

MARKERS = ("/*TITLE*/", "/*UPLOT_CSS*/", "/*REPORT_CSS*/", "/*DATA*/", "/*SCRIPT*/")


HERE = Path(__file__).resolve().parent
STATIC = HERE.parent / "static"


def _text(folder: Path, name: str) -> str:
    return (folder / name).read_text(encoding="utf-8")


@cache
def assets() -> dict[str, str]:
    """The inlined files: the template, uPlot (its ES module's export removed: one classic
    script), the dashboard's run colours, the page's script and CSS."""
    uplot = _text(STATIC, "vendor/uplot/uPlot.esm.js")
    if "export { uPlot as default };" not in uplot:
        raise RuntimeError("uPlot.esm.js no longer ends with its default export")
    uplot = uplot.replace("export { uPlot as default };", "return uPlot;")
    uplot = uplot.replace("\nexport function ", "\nfunction ")  # costlyLerp, exported too
    colors = _text(STATIC, "js/colors.js").replace("export ", "")
    script = "\n".join(
        [  # each in its own function scope: their top-level names never meet
            f"var uPlot = (function () {{\n{uplot}\n}})();",
            f"var {{ assignColors, runColor }} = (function () {{\n{colors}\n"
            "return { assignColors, runColor }; })();",
            _text(HERE, "report.js"),
        ]
    )
    if "</script" in script.lower():  # would end the inline script early
        raise RuntimeError("an inlined script holds '</script'")
    return {
        "template": _text(HERE, "report.html"),
        "uplot_css": _text(STATIC, "vendor/uplot/uPlot.min.css"),
        "css": _text(HERE, "report.css"),
        "script": script,
    }


def data_json(payload: dict[str, Any]) -> str:
    """The payload as JSON safe inside a script element (non-finite floats as strings)."""
    text = json.dumps(finite_or_text(payload), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render(payload: dict[str, Any]) -> bytes:
    """The whole HTML file of a gathered payload (gather.py), as UTF-8 bytes."""
    a = assets()
    values = {
        "/*TITLE*/": html.escape(str(payload.get("title", "localtrack report"))),
        "/*UPLOT_CSS*/": a["uplot_css"],
        "/*REPORT_CSS*/": a["css"],
        "/*DATA*/": data_json(payload),
        "/*SCRIPT*/": a["script"],
    }
    out, rest = [], a["template"]
    for marker in MARKERS:  # in template order; a value is never searched for markers
        before, found, rest = rest.partition(marker)
        if not found:
            raise RuntimeError(f"the report template lacks {marker}")
        out += [before, values[marker]]
    out.append(rest)
    return "".join(out).encode("utf-8")
