"""What every stage's figures share: class colours, and figures made without pyplot
(importing the figures chooses no backend; savefig renders with Agg)."""

from __future__ import annotations

import os

import matplotlib
from matplotlib.figure import Figure

#: Class colours (tab10, then tab20b/c for more classes).
CLASS_COLOURS = [*matplotlib.colormaps["tab10"].colors, *matplotlib.colormaps["tab20b"].colors,
                 *matplotlib.colormaps["tab20c"].colors]


def subplots(*grid, figsize=None, dpi=None, **kwargs) -> tuple[Figure, object]:
    """``pyplot.subplots`` without pyplot: a Figure that no backend or pyplot state holds
    (importing this module chooses no backend for a notebook; savefig renders with Agg)."""
    figure = Figure(figsize=figsize, dpi=dpi)
    return figure, figure.subplots(*grid, **kwargs)


def save_figure(fig, path: str | os.PathLike) -> None:
    fig.savefig(path)
