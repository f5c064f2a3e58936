"""matplotlib figures rendered to RGBA pixels (matplotlib is optional)."""

from __future__ import annotations

from typing import Any

import numpy as np

from localtrack._writer.values import BadValue


def figure_to_hwc(figure: Any, close: bool) -> np.ndarray:
    """(H, W, 4) uint8 pixels of a matplotlib figure, closing it if asked."""
    canvas = getattr(figure, "canvas", None)
    if canvas is None:
        raise BadValue(f"add_figure needs a matplotlib Figure, got {type(figure).__name__}")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(canvas, FigureCanvasAgg):
        canvas = FigureCanvasAgg(figure)
    canvas.draw()
    pixels = np.array(canvas.buffer_rgba(), dtype=np.uint8, copy=True)
    if close:
        import matplotlib.pyplot as plt

        plt.close(figure)
    return pixels
