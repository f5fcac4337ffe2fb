"""Figures: k-distance curves, mapper graphs with pie-chart nodes, purity against depth.

Also the deterministic force-directed layout the figures (and the explorer) use.
"""

from __future__ import annotations

import os

import matplotlib
import numpy as np
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle, Wedge

from topoact import store
from topoact.layout import graph_layout

#: Class colours (tab10, then tab20b/c for more classes).
CLASS_COLOURS = [*matplotlib.colormaps["tab10"].colors, *matplotlib.colormaps["tab20b"].colors,
                 *matplotlib.colormaps["tab20c"].colors]


def subplots(*grid, figsize=None, dpi=None, **kwargs) -> tuple[Figure, object]:
    """``pyplot.subplots`` without pyplot: a Figure that no backend or pyplot state holds
    (importing this module chooses no backend for a notebook; savefig renders with Agg)."""
    figure = Figure(figsize=figsize, dpi=dpi)
    return figure, figure.subplots(*grid, **kwargs)


def _save(fig, path: str | os.PathLike) -> None:
    fig.savefig(path)


def plot_k_distance(curve: np.ndarray, estimate, path: str | os.PathLike,
                    title: str = "") -> None:
    """The sorted k-distance curve with the chosen ε marked."""
    fig, ax = subplots(figsize=(6, 4), dpi=110)
    ax.plot(np.arange(len(curve)), curve, lw=1.5, color="#3366aa",
            label=f"{estimate.k}-distance")
    ax.axhline(estimate.epsilon, color="#cc3311", lw=1, ls="--")
    ax.plot([estimate.knee_index], [curve[estimate.knee_index]], "o", color="#cc3311",
            label=f"ε = {estimate.epsilon:.4g} (knee)")
    used = (f"{estimate.points_used:,} of {estimate.n_points:,}, subsampled"
            if estimate.subsampled else f"{estimate.n_points:,}")
    ax.set_xlabel(f"points sorted by k-distance ({used})")
    ax.set_ylabel(f"distance to {estimate.k}-th neighbour (self counted)")
    ax.set_title(title or "sorted k-distance curve")
    ax.legend(loc="upper left")
    fig.tight_layout()
    _save(fig, path)


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
    _save(fig, path)


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
    _save(fig, path)


def draw_graph_store(graph_path, png_path, title: str = "", seed: int = 0) -> None:
    """Draw a mapper graph store with pie-chart nodes, at its stored layout (the one the
    explorer shows; computed here for a store written without one)."""
    graph, stats, attrs = store.read_graph(graph_path)
    positions = (graph_layout(graph.n_nodes, graph.edges, graph.jaccard, seed=seed)
                 if stats.position is None else stats.position)
    plot_mapper_graph(positions, stats.size, stats.class_counts, graph.edges, graph.jaccard,
                      list(attrs["classes"]), png_path,
                      title or f"{graph.n_nodes} nodes, {len(graph.edges)} edges")


def plot_diagrams(diagrams: list[np.ndarray], path: str | os.PathLike, title: str = "") -> None:
    """Persistence diagrams of one cloud, every dimension on one plot (death = ∞ on top)."""
    fig, ax = subplots(figsize=(5, 5), dpi=110)
    finite_values = np.concatenate([d[np.isfinite(d)] for d in diagrams if len(d)] or [[0, 1]])
    top = float(finite_values.max()) * 1.05 if len(finite_values) else 1.0
    for dim, diagram in enumerate(diagrams):
        d = np.asarray(diagram).reshape(-1, 2)
        deaths = np.where(np.isfinite(d[:, 1]), d[:, 1], top)
        ax.scatter(d[:, 0], deaths, s=8, alpha=0.7, color=CLASS_COLOURS[dim],
                   label=f"H{dim} ({len(d)})")
    ax.plot([0, top], [0, top], color="#999999", lw=0.8)
    ax.axhline(top, color="#999999", lw=0.6, ls=":")
    ax.set_xlabel("birth")
    ax.set_ylabel("death (dotted line: never dies)")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right")
    fig.tight_layout()
    _save(fig, path)


def plot_distance_heatmaps(matrices: dict[int, tuple[np.ndarray, np.ndarray]], layers: list[str],
                           path: str | os.PathLike, title: str = "") -> None:
    """SW distance between layers, one heatmap per homology dimension (Purvine Fig. 5);
    the maximum coefficient of variation over batches is given under each."""
    dims = sorted(matrices)
    fig, axes = subplots(1, len(dims), figsize=(4.8 * len(dims), 4.4), dpi=110,
                         squeeze=False)
    for ax, dim in zip(axes[0], dims, strict=True):
        mean, cv = matrices[dim]
        image = ax.imshow(mean, cmap="viridis")
        ax.set_xticks(range(len(layers)), layers, rotation=45, ha="right")
        ax.set_yticks(range(len(layers)), layers)
        ax.set_title(f"H{dim}: sliced Wasserstein distance", fontsize=10)
        ax.set_xlabel(f"mean over batches (max CV {cv.max():.2f})")
        fig.colorbar(image, ax=ax, fraction=0.046)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_specificity(shown: dict[int, tuple[np.ndarray, np.ndarray]], table, layers: list[str],
                     seeds: list[int], path: str | os.PathLike, title: str = "") -> None:
    """Specificity test (Purvine Fig. 6): within-model A and cross-model A–B distances, and
    the correlation ρ of their rows for each layer, per dimension."""
    dims = sorted(shown)
    fig, axes = subplots(len(dims), 3, figsize=(14, 4.2 * len(dims)), dpi=100,
                         squeeze=False)
    for row, dim in zip(axes, dims, strict=True):
        within, cross = shown[dim]
        for ax, matrix, name in ((row[0], within, f"model A (seed {seeds[0]}) × A"),
                                 (row[1], cross, f"A × model B (seed {seeds[1]})")):
            image = ax.imshow(matrix, cmap="viridis")
            ax.set_xticks(range(len(layers)), layers, rotation=45, ha="right")
            ax.set_yticks(range(len(layers)), layers)
            ax.set_title(f"H{dim}: {name}", fontsize=9)
            fig.colorbar(image, ax=ax, fraction=0.046)
        part = table[table["dim"] == dim]
        for seed, rows in part.groupby("seed_b"):
            row[2].plot(range(len(layers)), rows["rho"], marker="o", alpha=0.6,
                        label=f"B = seed {seed}")
        mean_rho = part.groupby("layer", sort=False)["rho"].mean()
        row[2].plot(range(len(layers)), mean_rho.reindex(layers), color="black", lw=2,
                    label=f"mean (ρ̄ = {np.nanmean(part['rho']):.3f})")
        row[2].set_xticks(range(len(layers)), layers, rotation=45, ha="right")
        row[2].set_ylabel("ρ (within-A row vs A×B row)")
        row[2].set_title(f"H{dim}: correlation per layer of A", fontsize=9)
        row[2].legend(fontsize=7)
        row[2].grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_sensitivity(table, path: str | os.PathLike, title: str = "") -> None:
    """Sensitivity test (Purvine Fig. 7): SW distance to the layer itself as top principal
    components are deleted, with the cross-seed baseline of the layer dashed."""
    dims = sorted(table["dim"].unique())
    fig, axes = subplots(1, len(dims), figsize=(5.5 * len(dims), 4), dpi=110,
                         squeeze=False)
    for ax, dim in zip(axes[0], dims, strict=True):
        part = table[table["dim"] == dim]
        for j, (layer, rows) in enumerate(part.groupby("layer", sort=False)):
            colour = CLASS_COLOURS[j % len(CLASS_COLOURS)]
            rows = rows.sort_values("removed")
            ax.plot(rows["removed"].clip(lower=0.5), rows["sw_mean"], marker="o",
                    color=colour, label=layer)
            ax.axhline(rows["baseline"].iloc[0], color=colour, ls="--", lw=1)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("top principal components deleted (0 drawn at ½)")
        ax.set_ylabel("SW distance to the unaltered layer")
        ax.set_title(f"H{dim} (dashed: cross-seed baseline)", fontsize=10)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


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


def plot_noise_examples(rows: list[tuple[float, np.ndarray]], path: str | os.PathLike) -> None:
    """Example images (columns) at each noise σ (rows), as extraction sees them.

    ``rows`` are (σ, images) pairs, images (n, H, W, 3) in [0, 1]; σ = 0 is labelled clean
    (:func:`topoact.activations.noisy_examples` makes them).
    """
    n_images = len(rows[0][1])
    fig, axes = subplots(len(rows), n_images, figsize=(1.3 * n_images, 1.4 * len(rows)),
                         dpi=110, squeeze=False)
    for r, (sigma, images) in enumerate(rows):
        for c, image in enumerate(images):
            ax = axes[r, c]
            ax.imshow(image, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel("clean" if sigma == 0 else f"σ = {sigma:g}", fontsize=9)
    fig.suptitle("Input noise: Gaussian σ on [0, 1] pixels, clipped", fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_masks(images: np.ndarray, masks: np.ndarray, method: str, path: str | os.PathLike) -> None:
    """Example images (top row) and their foreground masks shown on them (bottom row)."""
    fig, axes = subplots(2, len(images), figsize=(1.3 * len(images), 2.9), dpi=110,
                         squeeze=False)
    for c, (image, mask) in enumerate(zip(images, masks, strict=True)):
        axes[0, c].imshow(image, interpolation="nearest")
        shaded = image.astype(np.float32) / 255
        shaded[~mask] *= 0.25  # background dimmed
        axes[1, c].imshow(shaded, interpolation="nearest")
        axes[1, c].set_xlabel(f"{100 * mask.mean():.0f}% fg", fontsize=8)
        for ax in axes[:, c]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("image", fontsize=9)
    axes[1, 0].set_ylabel("foreground", fontsize=9)
    fig.suptitle(f"Foreground masks ({method})", fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_receptive_fields(fields, path: str | os.PathLike, title: str = "") -> None:
    """The measured ERFs of a corner, an edge and the centre position of a layer."""
    height, width = fields.layer_shape
    shown = {"corner (0, 0)": 0, f"edge (0, {width // 2})": width // 2,
             f"centre ({height // 2}, {width // 2})": (height // 2) * width + width // 2}
    fig, axes = subplots(1, 3, figsize=(7.5, 2.8), dpi=110)
    for ax, (label, position) in zip(axes, shown.items(), strict=True):
        ax.imshow(fields.dense(position), cmap="magma", interpolation="nearest")
        size = fields.indptr[position + 1] - fields.indptr[position]
        ax.set_title(f"{label}\n{size} px in support", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title or "Effective receptive fields", fontsize=10)
    fig.tight_layout()
    _save(fig, path)


# --------------------------------------------------------------------------- weight space


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
    _save(fig, path)


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
    _save(fig, path)


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
    _save(fig, path)


def plot_class_persistence_images(images: dict[str, np.ndarray], extent: tuple, path,
                                  title: str = "") -> None:
    """Each class's mean H1 persistence image, on the run's one grid and one colour scale."""
    names = list(images)
    columns = min(len(names), 5) or 1
    rows = -(-len(names) // columns) or 1
    fig, axes = subplots(rows, columns, figsize=(2.4 * columns, 2.4 * rows + 0.4),
                         dpi=110, squeeze=False)
    top = max((float(np.max(v)) for v in images.values()), default=0.0) or 1.0
    for ax in axes.ravel():
        ax.axis("off")
    for ax, name in zip(axes.ravel(), names, strict=False):
        ax.axis("on")
        ax.imshow(images[name].T, origin="lower", extent=extent, vmin=0, vmax=top,
                  cmap="magma", aspect="auto")
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=6)
    axes[-1][0].set_xlabel("birth", fontsize=8)
    axes[-1][0].set_ylabel("persistence", fontsize=8)
    fig.suptitle(title or "mean H1 persistence image per class", fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_jaccard_heatmaps(matrices: dict[str, np.ndarray], classes: list[str], path,
                          title: str = "") -> None:
    """Jaccard similarity between class profiles, one heatmap per kind (neurons,
    synapses), the value written in each cell."""
    fig, axes = subplots(1, len(matrices), figsize=(4.6 * len(matrices), 4.2), dpi=110,
                         squeeze=False)
    for ax, (kind, matrix) in zip(axes[0], matrices.items(), strict=True):
        image = ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis")
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(classes)), classes, fontsize=7)
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=5,
                    color="white" if value < 0.6 else "black")
        ax.set_title(f"class profiles: Jaccard of {kind}", fontsize=10)
        fig.colorbar(image, ax=ax, fraction=0.046)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_within_across(pairs: dict[str, tuple[np.ndarray, np.ndarray]],
                       p_values: dict[str, float], path, title: str = "") -> None:
    """Jaccard similarity of image-profile pairs within a class against across classes,
    per kind (neurons, synapses), with the permutation p-value of the difference."""
    fig, axes = subplots(1, len(pairs), figsize=(3.6 * len(pairs), 3.6), dpi=110,
                         squeeze=False)
    for ax, (kind, (within, across)) in zip(axes[0], pairs.items(), strict=True):
        ax.boxplot([within, across], showmeans=True)
        ax.set_xticks([1, 2], [f"within class\n({len(within)} pairs)",
                               f"across classes\n({len(across)} pairs)"], fontsize=8)
        ax.set_ylabel(f"Jaccard of {kind}", fontsize=8)
        ax.set_title(f"{kind}: p = {p_values[kind]:.3g}", fontsize=9)
    fig.suptitle(title or "image profiles: within against across classes", fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_profile_sizes(sizes: np.ndarray, labels: np.ndarray, classes: list[str],
                       layers: list[str], path, title: str = "") -> None:
    """Mean number of profile neurons per layer, one line per class."""
    fig, ax = subplots(figsize=(max(5.0, 0.35 * len(layers) + 2), 3.6), dpi=110)
    for c in np.unique(labels):
        ax.plot(sizes[labels == c].mean(axis=0), marker="o", ms=3, lw=1,
                color=CLASS_COLOURS[int(c) % len(CLASS_COLOURS)], label=classes[int(c)])
    ax.set_xticks(range(len(layers)), layers, rotation=60, ha="right", fontsize=6)
    ax.set_ylabel("neurons in the profile (mean)", fontsize=8)
    ax.legend(fontsize=6, ncols=2)
    ax.set_title(title or "profile size per layer", fontsize=10)
    fig.tight_layout()
    _save(fig, path)


# --------------------------------------------------------------------------- stability

#: Marker and colour of each kind of extended-persistence feature.
FEATURE_STYLE = {"component": ("o", "#1f77b4"), "downward branch": ("v", "#2ca02c"),
                 "upward branch": ("^", "#ff7f0e"), "loop": ("s", "#d62728")}


def plot_extended_diagram(features, distances: np.ndarray, d_alpha: float, confidence: float,
                          path, title: str = "") -> None:
    """A graph's extended diagram with its bootstrap confidence band, and the bootstrap
    distances.

    ``features`` is a table (kind, birth, death, significant). Points outside the grey
    band, |death − birth| > 2 d_α, are the significant features (filled markers).
    """
    fig, (ax, hist) = subplots(1, 2, figsize=(9.2, 4.8), dpi=110,
                               gridspec_kw={"width_ratios": [1.15, 1]})
    values = np.concatenate([features["birth"], features["death"]]) if len(features) else [0, 1]
    low, high = float(np.min(values)), float(np.max(values))
    pad = 0.05 * (high - low or 1.0)
    span = np.array([low - pad, high + pad])
    ax.plot(span, span, color="black", linewidth=0.8)
    if np.isfinite(d_alpha):
        ax.fill_between(span, span - 2 * d_alpha, span + 2 * d_alpha, color="0.85",
                        label=f"bootstrap band (d_α = {d_alpha:.3g} at {confidence:.0%})")
    for kind, (marker, colour) in FEATURE_STYLE.items():
        rows = features[features["kind"] == kind]
        for significant, face in ((True, colour), (False, "none")):
            chosen = rows[rows["significant"] == significant]
            if len(chosen):
                ax.scatter(chosen["birth"], chosen["death"], marker=marker, s=36,
                           facecolors=face, edgecolors=colour,
                           label=f"{kind} ({'significant' if significant else 'not'}): "
                                 f"{len(chosen)}")
    ax.set_xlim(*span)
    ax.set_ylim(*span)
    ax.set_xlabel("birth (mean lens)")
    ax.set_ylabel("death (mean lens)")
    ax.set_title("extended persistence diagram", fontsize=10)
    ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2,
              frameon=False)  # below the axes: loops sit low right, components high left
    if len(distances):
        hist.hist(distances, bins=min(30, max(5, len(distances) // 3)), color="0.5")
        hist.axvline(d_alpha, color="#d62728", label=f"d_α = {d_alpha:.3g}")
        hist.legend(fontsize=8)
    else:
        hist.text(0.5, 0.5, "no bootstrap (the graph has no nodes)", ha="center",
                  transform=hist.transAxes)
    hist.set_xlabel("bottleneck distance to the original diagram")
    hist.set_ylabel("resamples")
    hist.set_title(f"bootstrap ({len(distances)} resamples)", fontsize=10)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_graph_distances(names: list[str], bottleneck: np.ndarray, similarity: np.ndarray,
                         path, title: str = "") -> None:
    """Two heatmaps over a layer's graphs: bottleneck distance of their extended diagrams
    and membership similarity, the value written in each cell."""
    fig, axes = subplots(1, 2, figsize=(4.2 + 0.55 * len(names), 2.4 + 0.3 * len(names)),
                         dpi=110)
    short = [name.replace("overlap-", "o").replace("-epsilon-", " ε ") for name in names]
    for ax, matrix, label, cmap, top in (
            (axes[0], bottleneck, "bottleneck distance", "magma_r", None),
            (axes[1], similarity, "membership similarity", "viridis", 1.0)):
        image = ax.imshow(matrix, cmap=cmap, vmin=0, vmax=top)
        ax.set_xticks(range(len(names)), short, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(names)), short, fontsize=7)
        scale = float(np.nanmax(matrix)) if matrix.size else 1.0
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if value > 0.5 * (top or scale or 1) else "black")
        ax.set_title(label, fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_significant_features(table, layer_order: list[str], path, title: str = "") -> None:
    """Significant features per layer (mean over a sampling's parameter sets), stacked by
    kind, one panel per sampling."""
    samplings = list(dict.fromkeys(table["sampling"]))
    fig, axes = subplots(1, max(1, len(samplings)), figsize=(4.4 * max(1, len(samplings)),
                                                              3.6), dpi=110, squeeze=False)
    for ax, sampling in zip(axes[0], samplings, strict=False):
        rows = table[table["sampling"] == sampling]
        layers = [la for la in layer_order if la in set(rows["layer"])]
        layers += sorted(set(rows["layer"]) - set(layers))
        bottom = np.zeros(len(layers))
        for kind, (_, colour) in FEATURE_STYLE.items():
            column = f"significant_{kind.replace(' ', '_')}"
            means = np.array([rows.loc[rows["layer"] == la, column].mean() for la in layers])
            ax.bar(range(len(layers)), means, bottom=bottom, color=colour, label=kind)
            bottom += means
        ax.set_xticks(range(len(layers)), layers, rotation=30, fontsize=8)
        ax.set_ylabel("significant features (mean over the grid)", fontsize=8)
        ax.set_title(sampling, fontsize=9)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_noise_distances(table, layer_order: list[str], path, title: str = "") -> None:
    """How far each layer's graphs move as the input noise σ grows: bottleneck distance
    and membership similarity to the clean graph (mean over the parameter sets), one
    column per sampling, one line per layer; σ = 0 is the clean graph itself."""
    samplings = list(dict.fromkeys(table["sampling"]))
    fig, axes = subplots(2, max(1, len(samplings)), dpi=110, squeeze=False,
                         figsize=(4.4 * max(1, len(samplings)), 6.4), sharex=True)
    colours = matplotlib.colormaps["viridis"]
    for column, sampling in enumerate(samplings):
        rows = table[table["sampling"] == sampling]
        layers = [la for la in layer_order if la in set(rows["layer"])]
        for k, layer in enumerate(layers):
            means = rows[rows["layer"] == layer].groupby("sigma")[["bottleneck",
                                                                  "similarity"]].mean()
            sigma = np.concatenate([[0.0], means.index.to_numpy()])
            colour = colours(k / max(1, len(layers) - 1))
            axes[0][column].plot(sigma, np.concatenate([[0.0], means["bottleneck"]]),
                                 marker="o", color=colour, label=layer)
            axes[1][column].plot(sigma, np.concatenate([[1.0], means["similarity"]]),
                                 marker="o", color=colour, label=layer)
        axes[0][column].set_title(sampling, fontsize=9)
        axes[0][column].set_ylabel("bottleneck distance to clean", fontsize=8)
        axes[1][column].set_ylabel("membership similarity to clean", fontsize=8)
        axes[1][column].set_xlabel("input noise σ")
        axes[1][column].set_ylim(0, 1.05)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
