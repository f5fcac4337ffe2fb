"""Interval covers of a lens (see :mod:`topoact.mapper` for the three kinds); a lens of
dimension d gets the product of d covers (KeplerMapper's hypercubes: n intervals per
dimension, n^d cubes, the first coordinate varying slowest)."""

from __future__ import annotations

import math

import numpy as np

from topoact.graph import MAX_CUBES, Cover
from topoact.names import COVERS


def exact_cover(lens: np.ndarray, n_intervals: int, overlap: float) -> Cover:
    """n equal intervals spanning exactly [min f, max f], adjacent overlap fraction p.

    A constant lens (R = 0) gets a single interval holding every point.
    """
    _check_cover_args(n_intervals, overlap)
    values = np.asarray(lens, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    if high == low:
        return Cover(np.array([low]), np.array([high]), "exact")
    length = (high - low) / (n_intervals - (n_intervals - 1) * overlap)
    lower = low + np.arange(n_intervals) * length * (1.0 - overlap)
    upper = lower + length
    lower[0], upper[-1] = low, high  # no rounding may leave an extreme point uncovered
    return Cover(lower, upper, "exact")


def kmapper_cover(lens: np.ndarray, n_intervals: int, overlap: float) -> Cover:
    """KeplerMapper 2.x's 1-D ``Cover(n_cubes, perc_overlap)``, operation for operation."""
    _check_cover_args(n_intervals, overlap)
    values = np.asarray(lens, dtype=np.float64)
    low, high = np.min(values), np.max(values)
    ranges = high - low
    inner_range = ((n_intervals - 1) / n_intervals) * ranges
    inset = (ranges - inner_range) / 2
    with np.errstate(divide="ignore"):
        radius = ranges / (2 * n_intervals * (1 - overlap))
    centers = np.linspace(low + inset, high - inset, num=n_intervals)
    return Cover(centers - radius, centers + radius, "kmapper")


def balanced_cover(lens: np.ndarray, n_intervals: int, overlap: float) -> Cover:
    """The exact cover of the quantile range [0, 1], mapped through the lens's quantiles.

    Interval i is ``[Q(a_i), Q(b_i)]`` with ``[a_i, b_i]`` the exact cover's i-th interval
    of [0, 1] and Q the empirical quantile function (linear between order statistics), so
    each interval holds L·(N−1) + 1 points, ±1, where L = 1 / (n − (n−1)p). Tied lens
    values cannot be split: an interval holds all points of a value it reaches.
    """
    _check_cover_args(n_intervals, overlap)
    values = np.asarray(lens, dtype=np.float64)
    fractions = exact_cover(np.array([0.0, 1.0]), n_intervals, overlap)
    if values.min() == values.max():
        return Cover(np.array([values.min()]), np.array([values.max()]), "balanced")
    lower = np.quantile(values, np.clip(fractions.lower, 0.0, 1.0))
    upper = np.quantile(values, np.clip(fractions.upper, 0.0, 1.0))
    return Cover(lower, upper, "balanced")


def _check_cover_args(n_intervals: int, overlap: float) -> None:
    if int(n_intervals) != n_intervals or n_intervals < 1:
        raise ValueError(f"intervals must be a positive integer, got {n_intervals!r}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be a fraction in [0, 1), got {overlap!r} "
                         "(config values are percents; the CLI takes fractions)")


def make_cover(lens: np.ndarray, n_intervals: int, overlap: float, mode: str = "exact") -> Cover:
    """The cover of the given mode (``exact``, ``kmapper`` or ``balanced``).

    A (N, d) lens gets the product of the d coordinates' covers (n^d cubes, the first
    coordinate varying slowest, as KeplerMapper's ``itertools.product`` orders them).
    """
    builders = {"exact": exact_cover, "kmapper": kmapper_cover, "balanced": balanced_cover}
    if mode not in builders:
        raise ValueError(f"unknown cover {mode!r}; choose one of {list(COVERS)}")
    values = np.asarray(lens)
    if values.ndim == 1:
        return builders[mode](values, n_intervals, overlap)
    per_dimension = [builders[mode](values[:, d], n_intervals, overlap)
                     for d in range(values.shape[1])]
    shape = tuple(len(c.lower) for c in per_dimension)
    if math.prod(shape) > MAX_CUBES:
        raise ValueError(
            f"{n_intervals} intervals on a {values.shape[1]}-D lens make "
            f"{math.prod(shape):,} cubes; at most {MAX_CUBES:,} (use fewer intervals)")
    grid = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    index = [g.ravel() for g in grid]
    lower = np.stack([c.lower[i] for c, i in zip(per_dimension, index, strict=True)], axis=1)
    upper = np.stack([c.upper[i] for c, i in zip(per_dimension, index, strict=True)], axis=1)
    return Cover(lower, upper, mode, shape)
