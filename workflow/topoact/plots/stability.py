"""Figures of the stability stage: a graph's extended diagram with its confidence band,
distances across a layer's grid, significant features per layer, noise distances."""

from __future__ import annotations

import matplotlib
import numpy as np

from topoact.plots.common import save_figure, subplots

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
    save_figure(fig, path)


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
    save_figure(fig, path)


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
    save_figure(fig, path)


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
    save_figure(fig, path)
