"""A convolution layer's k×k filters and their normalisation (steps 1–2 of
:mod:`topoact.weights`), and the workflow's points of one snapshot. numpy only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SLICES = ("each", "summed")
CONTRAST_NORMS = ("euclidean", "dnorm")


def spatial_filters(weight: np.ndarray, slice_mode: str = "each", layer: str = ""
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The k×k spatial filters of an (O, I, kh, kw) convolution weight, one per row.

    Parameters
    ----------
    weight
        The layer's weight tensor.
    slice_mode
        ``each``: every slice W[o, i] is a point (O·I points); ``summed``: Σᵢ W[o, i]
        (O points, input channel −1).
    layer
        The layer's name, for error messages.

    Returns
    -------
    filters, out_channel, in_channel
        (P, kh·kw) float64 filters and the (o, i) each came from.
    """
    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim != 4:
        raise ValueError(f"weights: layer {layer!r} has a weight of shape {weight.shape}; "
                         "a convolution's is (out, in, kh, kw)")
    n_out, n_in, kh, kw = weight.shape
    if kh * kw < 2:
        raise ValueError(f"weights: layer {layer!r} has {kh}×{kw} kernels; a spatial filter "
                         "needs at least 2 taps (a 1×1 convolution has no spatial shape)")
    if slice_mode == "summed":
        return (weight.sum(axis=1).reshape(n_out, kh * kw), np.arange(n_out),
                np.full(n_out, -1))
    if slice_mode != "each":
        raise ValueError(f"weights.slice: unknown value {slice_mode!r}; choose one of "
                         f"{list(SLICES)}")
    out_channel, in_channel = np.divmod(np.arange(n_out * n_in), n_in)
    return weight.reshape(n_out * n_in, kh * kw), out_channel, in_channel


def d_norm(patches: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The D-norm of Lee, Pedersen & Mumford: √Σ (xᵢ − xⱼ)² over 4-adjacent taps i ~ j."""
    grid = np.asarray(patches, dtype=np.float64).reshape(len(patches), *shape)
    across = np.diff(grid, axis=2) ** 2
    down = np.diff(grid, axis=1) ** 2
    return np.sqrt(across.sum(axis=(1, 2)) + down.sum(axis=(1, 2)))


@dataclass
class NormalisedFilters:
    """Filters after centring, the contrast cut and scaling (the weight-space points)."""

    points: np.ndarray
    kept: np.ndarray
    contrast: np.ndarray
    cut: float


def normalise_filters(filters: np.ndarray, shape: tuple[int, int], contrast_drop: float,
                      norm: str = "euclidean", layer: str = "") -> NormalisedFilters:
    """Centre each filter, drop the lowest-contrast fraction, scale the rest to unit norm.

    Parameters
    ----------
    filters
        (P, kh·kw) filters.
    shape
        (kh, kw).
    contrast_drop
        Fraction in [0, 1) of filters with the lowest contrast to drop.
    norm
        ``euclidean`` or ``dnorm``: the contrast measure and the norm scaled to 1.
    layer
        The layer's name, for error messages.

    Returns
    -------
    NormalisedFilters
        ``points`` (M, kh·kw) float32, ``kept`` their rows in ``filters``, ``contrast``
        of every filter and the ``cut`` below which filters were dropped.
    """
    if not 0.0 <= contrast_drop < 1.0:
        raise ValueError(f"weights.contrast_drop must be a percent in [0, 100), got "
                         f"{contrast_drop * 100:g}")
    if norm not in CONTRAST_NORMS:
        raise ValueError(f"weights.contrast_norm: unknown value {norm!r}; choose one of "
                         f"{list(CONTRAST_NORMS)}")
    centred = filters - filters.mean(axis=1, keepdims=True)
    contrast = d_norm(centred, shape) if norm == "dnorm" else np.linalg.norm(centred, axis=1)
    order = np.argsort(contrast, kind="stable")
    dropped = int(np.floor(contrast_drop * len(filters)))
    cut = float(contrast[order[dropped]]) if dropped < len(filters) else float("inf")
    kept = np.sort(order[dropped:])
    kept = kept[contrast[kept] > 0]  # a constant filter has no direction to scale
    if len(kept) == 0:
        raise ValueError(f"weights: layer {layer!r}: all {len(filters)} filters fall below the "
                         f"contrast cut (weights.contrast_drop = {contrast_drop * 100:g} %, "
                         "or every filter is constant)")
    points = centred[kept] / contrast[kept, None]
    return NormalisedFilters(points.astype(np.float32), kept, contrast, cut)
