"""What a live graph will cost before it is built: the bound on each request of
``topoact serve``.

A build's time is, to first order, the distance terms of its intervals' tiles
(Σ_i m_i² · D for intervals of m_i points in D dimensions; the engine prunes tiles, so
large intervals cost less than that count says; bench/RESULTS.md compares the estimate
with measured builds), a fixed cost per non-empty
interval, a cost per (point, interval) membership, and its lens (a codensity lens is a
k-NN search). :func:`measure_pace` times each of these on this machine at start-up;
:func:`estimate_build` counts them for a request, from the cover's interval sizes
(found from the lens without listing members), so that a request over the budget is
refused before any of its work starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from topoact import mapper
from topoact.graph import EngineOptions


@dataclass(frozen=True)
class Pace:
    """Seconds per unit of a build's work on this machine."""

    per_term: float      # one pair × dimension of an interval's distance tiles
    per_interval: float  # the engine's fixed cost of one non-empty interval
    per_member: float    # one (point, interval) membership: cover, labels, assembly
    per_pca_term: float  # one point × dimension² of a PCA lens's SVD
    per_knn_term: float  # one pair × dimension of a codensity lens's k-NN search


@dataclass(frozen=True)
class Estimate:
    """A request's counted work and its estimated seconds."""

    seconds: float
    lens_seconds: float
    terms: float
    intervals: int
    memberships: int

    def describe(self) -> str:
        lens = f", lens {self.lens_seconds:.2g} s" if self.lens_seconds else ""
        return (f"about {self.seconds:.3g} s ({self.intervals:,} intervals to cluster, "
                f"{self.terms:.3g} distance terms{lens})")


def _timed(build: Callable[[], object]) -> float:
    start = time.perf_counter()
    build()
    return time.perf_counter() - start


def measure_pace(workers: int | None = None, seed: int = 0) -> Pace:
    """Time the engine on builds each dominated by one unit of work (about a second in
    all on 2 cores), after a warm-up build."""
    rng = np.random.default_rng(seed)
    blobs = rng.normal(0, 4, (20, 32))
    dense = (blobs[rng.integers(0, 20, 12_000)]
             + rng.normal(0, 1, (12_000, 32))).astype(np.float32)
    scattered = rng.normal(size=(1000, 2)).astype(np.float32)

    def dense_build() -> object:
        return mapper.build_mapper(dense, 2, 0.3, 4.0, 5, engine=EngineOptions(workers=workers))

    def many_intervals() -> object:
        return mapper.build_mapper(scattered, 200, 0.0, 0.5, 1,
                                   engine=EngineOptions(workers=workers))

    dense_build()  # warm-up: first calls load kernels and allocate
    lens = mapper.l2_lens(dense)
    sizes = mapper.make_cover(lens, 2, 0.3).sizes(lens).astype(np.float64)
    per_term = _timed(dense_build) / float((sizes ** 2).sum() * dense.shape[1])
    lens = mapper.l2_lens(scattered)
    active = int((mapper.make_cover(lens, 200, 0.0).sizes(lens) >= 1).sum())
    per_interval = _timed(many_intervals) / max(active, 1)
    # Memberships: listing a cover's members of a large lens (labels and assembly cost
    # about as much again).
    wide = rng.normal(size=200_000)
    cover = mapper.make_cover(wide, 10, 0.5)
    per_member = 2 * _timed(lambda: cover.members(wide)) / float(cover.sizes(wide).sum())
    dimensions = dense.shape[1]
    per_pca = _timed(lambda: mapper.make_lens(dense, "pca2")) / (len(dense) * dimensions ** 2)
    few = dense[:1500]
    per_knn = (_timed(lambda: mapper.make_lens(few, "codensity"))
               / (len(few) ** 2 * dimensions))
    return Pace(per_term, per_interval, per_member, per_pca, per_knn)


def lens_seconds(pace: Pace, n_points: int, dimensions: int, lens: str) -> float:
    """The time of a lens: the ℓ2 norm is one pass over the cloud, PCA an SVD (N · D²),
    the codensity a k-NN search counted as all pairs. scipy's k-d tree can be slower
    than that count's pace in many dimensions: the factor 3 keeps the estimate above the
    time, since a lens cannot be stopped halfway."""
    if lens == "codensity":
        return 3 * pace.per_knn_term * n_points * n_points * dimensions
    if lens in ("pca1", "pca2"):
        return pace.per_pca_term * n_points * dimensions ** 2
    return pace.per_term * n_points * dimensions


def estimate_build(pace: Pace, lens_values: np.ndarray, dimensions: int, intervals: int,
                   overlap: float, cover: str, min_samples: int, lens_s: float = 0.0
                   ) -> Estimate:
    """The estimated time of a build whose lens is computed (``lens_s`` is its time
    when it is not yet)."""
    sizes = mapper.make_cover(lens_values, intervals, overlap, cover).sizes(lens_values)
    clustered = sizes[sizes >= min_samples].astype(np.float64)
    terms = float((clustered ** 2).sum() * dimensions)
    seconds = (lens_s + terms * pace.per_term + len(clustered) * pace.per_interval
               + float(sizes.sum()) * pace.per_member)
    return Estimate(seconds, lens_s, terms, len(clustered), int(sizes.sum()))
