"""Figures of persistent homology: diagrams, sliced Wasserstein heatmaps between layers,
and the specificity and sensitivity tests."""

from __future__ import annotations

import os

import numpy as np

from topoact.plots.common import CLASS_COLOURS, save_figure, subplots


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
    save_figure(fig, path)


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
    save_figure(fig, path)


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
    save_figure(fig, path)


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
    save_figure(fig, path)
