"""Figures of feature visualization: a graph's contact sheet of node images."""

from __future__ import annotations

import os

import numpy as np

from topoact.plots.common import subplots


def plot_contact_sheet(sheet: np.ndarray | None, path: str | os.PathLike, title: str = "",
                       count: int = 0) -> None:
    """A contact sheet of rendered images (or a note that there are none) as PNG."""
    height, width = (sheet.shape[:2] if sheet is not None else (100, 300))
    scale = max(1.0, 480 / max(height, width))
    fig, ax = subplots(figsize=(width * scale / 100 + 0.4, height * scale / 100 + 0.6),
                       dpi=100)
    if sheet is None:
        ax.text(0.5, 0.5, "graph has no nodes", ha="center", va="center")
    else:
        ax.imshow(sheet, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"{title} ({count} images)" if title else f"{count} images", fontsize=8)
    fig.savefig(path, bbox_inches="tight")
