"""Figures of the weight space: barcodes of the X(k, p) sweep, a dense core's graph with
its mean filters, and the dynamics over training."""

from __future__ import annotations

import os

import matplotlib
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.patches import Rectangle

from topoact.layout import graph_layout
from topoact.plots.common import CLASS_COLOURS, save_figure, subplots


def draw_barcode(ax, diagrams: list[np.ndarray], max_bars: int = 40) -> None:
    """Bars of every dimension on one axis, longest ``max_bars`` per dimension (∞: arrow)."""
    finite_values = np.concatenate([d[np.isfinite(d)] for d in diagrams if len(d)] or [[0, 1]])
    top = float(finite_values.max()) * 1.08 if len(finite_values) else 1.0
    row = 0
    for dim, diagram in enumerate(diagrams):
        d = np.asarray(diagram, dtype=np.float64).reshape(-1, 2)
        deaths = np.where(np.isfinite(d[:, 1]), d[:, 1], top)
        shown = np.argsort(-(deaths - d[:, 0]), kind="stable")[:max_bars]
        for i in shown[np.argsort(d[shown, 0], kind="stable")]:
            ax.plot([d[i, 0], deaths[i]], [row, row], color=CLASS_COLOURS[dim], lw=1.6,
                    solid_capstyle="butt")
            row += 1
        ax.plot([], [], color=CLASS_COLOURS[dim], lw=2,
                label=f"H{dim} ({len(d)}{', longest shown' if len(d) > max_bars else ''})")
        row += 2
    ax.set_xlim(0, top)
    ax.set_ylim(-1, max(row, 1))
    ax.set_yticks([])
    ax.set_xlabel("Rips scale")
    ax.legend(loc="lower right", fontsize=7)


def plot_barcode_grid(panels: dict[str, list[np.ndarray]], path: str | os.PathLike,
                      title: str = "", columns: int = 3) -> None:
    """Barcodes side by side, one panel each (e.g. a density filter sweep X(k, p))."""
    rows = max(1, -(-len(panels) // columns))
    width = min(columns, max(len(panels), 1))
    fig, axes = subplots(rows, width, figsize=(4 * width, 3.2 * rows), dpi=110,
                         squeeze=False)
    for ax, (name, diagrams) in zip(axes.ravel(), panels.items(), strict=False):
        draw_barcode(ax, diagrams)
        ax.set_title(name, fontsize=9)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def draw_filter_graph(ax, graph, mean_filters: np.ndarray, density: np.ndarray,
                      kernel: tuple[int, int], positions: np.ndarray | None = None) -> None:
    """A weight-space mapper graph: each node drawn as its mean filter (grey, its own
    range), framed in the colour of its mean codensity (dark red = dense), at the graph's
    stored layout (``positions``; computed when None)."""
    if positions is None:
        positions = graph_layout(graph.n_nodes, graph.edges, graph.jaccard)
    if len(graph.edges):
        segments = positions[np.asarray(graph.edges)]
        ax.add_collection(LineCollection(segments, colors="#999999",
                                         linewidths=0.5 + 2.5 * np.asarray(graph.jaccard),
                                         zorder=1))
    colours = matplotlib.colormaps["inferno_r"]
    low, high = (float(density.min()), float(density.max())) if len(density) else (0, 1)
    half = 0.3 / max(np.sqrt(max(graph.n_nodes, 1)), 3.0)
    for node, (x, y) in enumerate(positions):
        grid = np.asarray(mean_filters[node], dtype=np.float64).reshape(kernel)
        shade = (density[node] - low) / (high - low) if high > low else 0.5
        ax.imshow(grid, cmap="gray", extent=(x - half, x + half, y - half, y + half),
                  interpolation="nearest", zorder=3)
        ax.add_patch(Rectangle((x - half, y - half), 2 * half, 2 * half, fill=False,
                                   edgecolor=colours(0.15 + 0.7 * (1 - shade)), lw=2, zorder=4))
    ax.set_xlim(-2 * half, 1 + 2 * half)
    ax.set_ylim(-2 * half, 1 + 2 * half)
    ax.set_aspect("equal")
    ax.axis("off")


def plot_filter_graph(graph, mean_filters: np.ndarray, density: np.ndarray,
                      kernel: tuple[int, int], path: str | os.PathLike, title: str = "",
                      positions: np.ndarray | None = None) -> None:
    """One weight-space mapper graph (see :func:`draw_filter_graph`)."""
    fig, ax = subplots(figsize=(6.5, 6.5), dpi=110)
    draw_filter_graph(ax, graph, mean_filters, density, kernel, positions)
    ax.set_title(f"{title}\nnode = mean filter; frame: codensity (dark = dense)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def plot_weight_dynamics(columns: list[dict], path: str | os.PathLike, title: str = "") -> None:
    """The learning-dynamics strip: per snapshot, the dense core's graph over its barcode.

    Each column is a dict with ``label``, ``graph``, ``filters`` (node mean filters),
    ``density`` (node mean codensity), ``kernel``, ``diagrams`` and ``summary``.
    """
    fig, axes = subplots(2, len(columns), figsize=(3.6 * len(columns), 7.4), dpi=100,
                         squeeze=False)
    for number, column in enumerate(columns):
        draw_filter_graph(axes[0, number], column["graph"], column["filters"],
                          column["density"], column["kernel"], column.get("positions"))
        summary = column["summary"]
        ratio = summary["h1"]["ratio"] if summary.get("h1") else float("nan")
        axes[0, number].set_title(f"{column['label']}\n{column['graph'].n_nodes} nodes, "
                                  f"graph β1 = {summary['graph_betti1']} (clique complex: "
                                  f"{summary['clique_betti1']})", fontsize=9)
        draw_barcode(axes[1, number], column["diagrams"])
        axes[1, number].set_title(f"longest H1 / next = {ratio:.2f}", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
