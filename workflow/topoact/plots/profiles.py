"""Figures of the profiles: class persistence images, Jaccard heatmaps, within- and
across-class similarity, profile sizes per layer."""

from __future__ import annotations

import numpy as np

from topoact.plots.common import CLASS_COLOURS, save_figure, subplots


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
    save_figure(fig, path)


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
    save_figure(fig, path)


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
    save_figure(fig, path)


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
    save_figure(fig, path)
