"""Figures of the inputs and clouds: noisy example images, foreground masks, receptive
fields, and the k-distance curve ε is read from."""

from __future__ import annotations

import os

import numpy as np

from topoact.plots.common import save_figure, subplots


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
    save_figure(fig, path)


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
    save_figure(fig, path)


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
    save_figure(fig, path)


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
    save_figure(fig, path)
