"""Figures of mapper graphs: pie-chart nodes sized by cluster size, and purity against
layer depth."""

from __future__ import annotations

import os

import numpy as np
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Wedge

from topoact import store
from topoact.layout import graph_layout
from topoact.plots.common import CLASS_COLOURS, save_figure, subplots


def plot_mapper_graph(positions: np.ndarray, sizes: np.ndarray, class_counts: np.ndarray,
                      edges: np.ndarray, jaccard: np.ndarray, classes: list[str],
                      path: str | os.PathLike, title: str = "") -> None:
    """A mapper graph: pie-chart nodes (class composition) sized by cluster size,
    edges with width by Jaccard index."""
    fig, ax = subplots(figsize=(8, 8), dpi=110)
    n = len(sizes)
    radius = np.zeros(0)
    if n:
        radius = 0.006 + 0.025 * np.sqrt(sizes / max(sizes.max(), 1))
    if len(edges):
        segments = positions[np.asarray(edges)]
        ax.add_collection(LineCollection(segments, linewidths=0.5 + 4 * np.asarray(jaccard),
                                         colors="#888888", alpha=0.6, zorder=1))
    wedges, colours = [], []
    for node in range(n):
        counts = class_counts[node]
        total = counts.sum()
        angle = 90.0
        for k in np.flatnonzero(counts):
            sweep = 360.0 * counts[k] / total
            wedges.append(Wedge(positions[node], radius[node], angle, angle + sweep))
            colours.append(CLASS_COLOURS[k % len(CLASS_COLOURS)])
            angle += sweep
    if wedges:
        ax.add_collection(PatchCollection(wedges, facecolors=colours, edgecolors="white",
                                          linewidths=0.2, zorder=2))
    present = np.flatnonzero(class_counts.sum(0)) if n else []
    handles = [Line2D([], [], marker="o", ls="", color=CLASS_COLOURS[k % len(CLASS_COLOURS)],
                          label=classes[k]) for k in present[:30]]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
                  frameon=False, title="class")
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title + ("" if n else "\n(empty graph: every point is noise)"), fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def plot_purity_by_layer(table, value: str, path: str | os.PathLike, layer_order: list[str],
                         ylabel: str, title: str = "", legend: str = "sampling") -> None:
    """Purity against layer depth, one line per sampling, one panel per parameter set.

    Parameters
    ----------
    table
        pandas DataFrame with columns sampling, layer, parameters (the grid name) and
        ``value``; rows with the same (parameters, sampling, layer) are averaged, and
        the min–max over them is shaded (e.g. over classes).
    """
    grids = sorted(table["parameters"].unique())
    layer_order = [layer for layer in layer_order if layer in set(table["layer"])]
    columns = min(len(grids), 2)
    rows = -(-len(grids) // columns)
    fig, axes = subplots(rows, columns, figsize=(4.6 * columns, 3.4 * rows), dpi=110,
                         sharey=True, squeeze=False)
    depth = {layer: i for i, layer in enumerate(layer_order)}
    for ax in axes.flat[len(grids):]:
        ax.set_visible(False)
    for ax, grid in zip(axes.flat, grids, strict=False):
        part = table[table["parameters"] == grid]
        for j, (sampling, rows) in enumerate(part.groupby("sampling", sort=True)):
            stats = rows.groupby("layer")[value].agg(["mean", "min", "max"])
            stats = stats.loc[[layer for layer in layer_order if layer in stats.index]]
            x = [depth[layer] for layer in stats.index]
            colour = CLASS_COLOURS[j]
            ax.plot(x, stats["mean"], marker="o", color=colour, label=sampling)
            if (stats["max"] > stats["min"]).any():
                ax.fill_between(x, stats["min"], stats["max"], color=colour, alpha=0.12)
        ax.set_xticks(range(len(layer_order)), layer_order, rotation=45)
        ax.set_title(grid, fontsize=9)
        ax.set_xlabel("layer (depth →)")
        ax.grid(alpha=0.3)
    for row in axes:
        row[0].set_ylabel(ylabel)
    axes.flat[0].legend(title=legend, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def draw_graph_store(graph_path, png_path, title: str = "", seed: int = 0) -> None:
    """Draw a mapper graph store with pie-chart nodes, at its stored layout (the one the
    explorer shows; computed here for a store written without one)."""
    graph, stats, attrs = store.read_graph(graph_path)
    positions = (graph_layout(graph.n_nodes, graph.edges, graph.jaccard, seed=seed)
                 if stats.position is None else stats.position)
    plot_mapper_graph(positions, stats.size, stats.class_counts, graph.edges, graph.jaccard,
                      list(attrs["classes"]), png_path,
                      title or f"{graph.n_nodes} nodes, {len(graph.edges)} edges")
